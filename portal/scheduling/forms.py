"""Forms for deadline lengths and business hours."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, SelectField, SelectMultipleField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from portal.domain.deadline_rules import RULES
from portal.domain.enums import CaseType, DeadlineClock
from portal.labels import label

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))


def finite_number(form: FlaskForm, field: DecimalField) -> None:
    """NaN and Infinity parse as decimals; NaN cannot even be compared with the range, so stop here."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation(str(_l("Enter a number.")))


class DeadlineSettingForm(FlaskForm):
    name = SelectField(_l("Deadline"), validators=[DataRequired()])
    market = SelectField(_l("Market"))
    case_type = SelectField(_l("Case type"))
    hours = DecimalField(
        _l("Hours"), places=2, validators=[InputRequired(), finite_number, NumberRange(0.25, 2000)]
    )
    clock = SelectField(_l("Clock"))
    enabled = BooleanField(_l("On"), default=True)

    def __init__(self, markets: list[tuple[str, str]], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.name.choices = [SelectChoice(name, label(name)) for name in RULES]
        self.market.choices = [SelectChoice("", str(_l("Every market")))] + [
            SelectChoice(value, text) for value, text in markets
        ]
        self.case_type.choices = [SelectChoice("", str(_l("Every case type")))] + [
            SelectChoice(t.value, label(t)) for t in CaseType
        ]
        self.clock.choices = [SelectChoice(DeadlineClock.CALENDAR.value, str(_l("Calendar time"))),
                              SelectChoice(DeadlineClock.BUSINESS.value, str(_l("Business hours")))]


class CalendarForm(FlaskForm):
    opens = TimeField(_l("Opens"), validators=[InputRequired()])
    closes = TimeField(_l("Closes"), validators=[InputRequired()])
    weekdays = SelectMultipleField(_l("Working days"), coerce=int, widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput())
    public_holidays = BooleanField(_l("Closed on the country's public holidays"))
    closed_days = TextAreaField(
        _l("Other closed days"),
        validators=[Length(max=20_000)],
        description=_l("One date per line, YYYY-MM-DD, optionally followed by a note."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.weekdays.choices = [SelectChoice(n, str(name)) for n, name in enumerate(WEEKDAYS)]
