"""The auditor's "check a pack" upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class CheckPackForm(FlaskForm):
    pack = FileField(
        _l("Evidence pack (PDF)"), validators=[FileRequired(_l("Choose the evidence pack's PDF."))]
    )
    public_key = FileField(
        _l("Public key (PEM, optional)"), description=_l("Leave empty to check against this portal's key.")
    )
