"""The auditor's export filter form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField
from wtforms.validators import InputRequired, ValidationError

from portal.domain.enums import CaseType
from portal.labels import label


class ExportForm(FlaskForm):
    date_from = DateField(_l("Opened from"), validators=[InputRequired(_l("Choose the first day."))])
    date_to = DateField(_l("Opened until"), validators=[InputRequired(_l("Choose the last day."))])
    market = SelectField(_l("Market"), choices=[], default="")
    type = SelectField(_l("Case type"), choices=[], default="")
    disputed_only = BooleanField(_l("Disputed cases only"))
    shop = SelectField(_l("Shop"), choices=[], default="")

    def __init__(
        self, markets: list[str], *args: object, shops: list[tuple[int, str]] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.market.choices = [("", _l("All markets")), *[(code, code) for code in markets]]
        self.shop.choices = [("", _l("Any shop")), *[(str(id_), name) for id_, name in shops or []]]
        self.type.choices = [("", _l("All types")), *[(t.value, label(t)) for t in CaseType]]

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
