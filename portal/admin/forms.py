"""Forms for managing portal users."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from portal.config import LANGUAGES
from portal.domain.enums import Role
from portal.domain.users import MIN_PASSWORD_LENGTH
from portal.i18n import timezone_choices, valid_timezone
from portal.labels import label


class ProfileFields(FlaskForm):
    """Name, role, language and time zone: what an admin sets at creation and may change later."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"))
    locale = SelectField(_l("Language"), default="")
    timezone = SelectField(_l("Time zone"), default="")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice(role.value, label(role)) for role in Role]
        self.locale.choices = [SelectChoice("", _l("As their browser asks")),
                               *(SelectChoice(code, name) for code, name in LANGUAGES.items())]
        self.timezone.choices = [SelectChoice("", _l("Their browser's, at first sign-in")),
                                 SelectChoice("UTC", "UTC"),
                                 *(SelectChoice(zone, zone.replace("_", " ")) for zone in timezone_choices())]

    def validate_timezone(self, field: SelectField) -> None:
        if field.data not in ("", "UTC") and not valid_timezone(field.data or ""):
            raise ValidationError(_l("Choose a time zone from the list."))


class UserForm(ProfileFields):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Initial password"),
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])


class EditUserForm(ProfileFields):
    pass
