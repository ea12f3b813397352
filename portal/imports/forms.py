"""The upload form of a CSV import."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice

ENCODING_CHOICES = [
    SelectChoice("auto", _l("Automatic (UTF-8, GB18030 or Windows-1252)")),
    SelectChoice("gb18030", _l("GB18030 (Chinese Excel)")),
    SelectChoice("cp1252", _l("Windows-1252 (Western Excel)")),
    SelectChoice("utf-8", _l("UTF-8")),
]


class UploadForm(FlaskForm):
    kind = RadioField(
        _l("The file holds"),
        choices=[SelectChoice("orders", _l("Orders")), SelectChoice("returns", _l("Returns"))],
        default="orders",
    )
    market = SelectField(_l("Market of rows without a market column"), coerce=int, choices=[])
    encoding = SelectField(_l("Encoding"), choices=ENCODING_CHOICES, default="auto")
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
