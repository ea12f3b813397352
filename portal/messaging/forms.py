"""The forms of the messaging pages: a template text, going back to the default, and a macro."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.domain.conversations import macros, templates

MAX_COMMENT = 200
MAX_NAME = 80
MAX_DESCRIPTION = 200


class TemplateForm(FlaskForm):
    subject = StringField(
        _l("Subject"),
        validators=[
            Optional(),
            Length(max=templates.MAX_SUBJECT, message=_l("The subject is at most %(max)d characters.")),
        ],
    )
    body = TextAreaField(
        _l("Message"),
        validators=[
            DataRequired(
                _l("Write the message. To use the shipped text again, choose “Back to the default”.")
            ),
            Length(max=templates.MAX_BODY, message=_l("The message is at most %(max)d characters.")),
        ],
    )
    comment = StringField(
        _l("What changed? (optional, kept in the history)"),
        validators=[
            Optional(),
            Length(max=MAX_COMMENT, message=_l("The comment is at most %(max)d characters.")),
        ],
    )
    # The version the editor started from; a save on top of a newer one is refused, not lost.
    base = HiddenField()


class ResetForm(FlaskForm):
    comment = StringField(
        _l("Why? (optional, kept in the history)"),
        validators=[
            Optional(),
            Length(max=MAX_COMMENT, message=_l("The comment is at most %(max)d characters.")),
        ],
    )
    confirm = HiddenField()


class MacroForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the macro a name.")),
            Length(max=MAX_NAME, message=_l("The name is at most %(max)d characters.")),
        ],
    )
    description = StringField(
        _l("Description (optional, shown to agents)"),
        validators=[
            Optional(),
            Length(max=MAX_DESCRIPTION, message=_l("The description is at most %(max)d characters.")),
        ],
    )
    actions = TextAreaField(
        _l("Actions"),
        validators=[
            DataRequired(_l('Write at least one action, such as request_evidence "photo".')),
            Length(max=macros.MAX_ACTIONS_TEXT, message=_l("The actions are at most %(max)d characters.")),
        ],
    )
