"""Sign-in and preference forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from portal.config import LANGUAGES
from portal.i18n import timezone_choices, valid_timezone


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in on this computer"))


def _language_choices() -> list[SelectChoice]:
    return [SelectChoice(code, name) for code, name in LANGUAGES.items()]


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=_language_choices)


class SettingsForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=_language_choices)
    timezone = SelectField(_l("Time zone"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(name, name.replace("_", " "))
                                for name in ["UTC", *timezone_choices()]]

    def validate_timezone(self, field: SelectField) -> None:
        if field.data != "UTC" and not valid_timezone(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))
