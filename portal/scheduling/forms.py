"""Forms for deadline lengths and business hours."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.domain.deadline_rules import MAX_NOTE, RULES
from portal.domain.enums import CaseType, DeadlineClock
from portal.labels import label
from portal.scheduling.durations import MAX_TEXT, DurationError, parse_length

MAX_CLOSED_DAYS = 400

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))


class DeadlineSettingForm(FlaskForm):
    name = SelectField(_l("Deadline"), validators=[DataRequired()])
    market = SelectField(_l("Market"))
    case_type = SelectField(_l("Case type"))
    hours = StringField(
        _l("Length"), validators=[InputRequired(), Length(max=MAX_TEXT)],
        description=_l("In hours or days: 36 h, 12 d, 2 d 4 h. Business-hours targets are given in hours."),
    )
    clock = SelectField(_l("Clock"), default="")
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
        self.clock.choices = [
            SelectChoice("", str(_l("Usual clock (agent targets: business hours)"))),
            SelectChoice(DeadlineClock.CALENDAR.value, str(_l("Calendar hours"))),
            SelectChoice(DeadlineClock.BUSINESS.value, str(_l("Business hours"))),
        ]

    def chosen_clock(self) -> DeadlineClock:
        """The clock picked, or the deadline's own: editing a business-hours target keeps business hours."""
        if self.clock.data:
            return DeadlineClock(self.clock.data)
        rule = RULES.get(self.name.data or "")
        return rule.clock if rule else DeadlineClock.CALENDAR

    def length_hours(self) -> Decimal | None:
        """The length in hours, or None with the message set on the field."""
        try:
            hours = parse_length(self.hours.data or "", self.chosen_clock())
        except DurationError as error:
            self.hours.errors = [str(error)]
            return None
        if not (Decimal("0.25") <= hours <= Decimal(2000)):
            self.hours.errors = [str(_l("A deadline runs between a quarter of an hour and 2,000 hours."))]
            return None
        return hours


class ClosedDayForm(Form):
    """One of the market's own closed days: editable in place, removable with its box."""

    day = DateField(_l("Date"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Length(max=MAX_NOTE)])
    remove = BooleanField(_l("Remove"))


class CalendarForm(FlaskForm):
    public_holidays = BooleanField(_l("Closed on the country's public holidays"))
    closed = FieldList(FormField(ClosedDayForm), max_entries=MAX_CLOSED_DAYS)
    weekday_error = ""  # set by the view: no day is open

    def day_fields(self) -> list[tuple[BooleanField, StringField]]:
        """(open box, opening ranges) of each weekday, Monday first."""
        return [(self[f"open_{n}"], self[f"hours_{n}"]) for n in range(7)]  # type: ignore[misc]


for _number, _name in enumerate(WEEKDAYS):
    setattr(CalendarForm, f"open_{_number}", BooleanField(_name))
    setattr(CalendarForm, f"hours_{_number}", StringField(
        _l("Opening hours on %(day)s", day=_name), validators=[Length(max=200)],
    ))
