"""Forms for adding a shop, replacing its app secret and adding a return address."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.domain.enums import AddressKind
from portal.domain.shops.connections import MARKETS
from portal.labels import label

IDENTIFIER = Regexp(r"^[0-9A-Za-z_-]+$", message=_l("Use only letters, digits, “-” and “_”."))


class ShopForm(FlaskForm):
    name = StringField(_l("Shop name"), validators=[DataRequired(), Length(max=120)])
    company_name = StringField(_l("Company"), validators=[DataRequired(), Length(max=120)],
                               description=_l("Shown to buyers as the recipient of returns."))
    external_shop_id = StringField(_l("Shop id on the marketplace"),
                                   validators=[DataRequired(), Length(max=64), IDENTIFIER],
                                   description=_l("The seller center shows it; the authorisation must be for "
                                                  "this shop."))
    app_key = StringField(_l("App key"), validators=[DataRequired(), Length(max=64), IDENTIFIER])
    app_secret = PasswordField(_l("App secret"), validators=[DataRequired(), Length(max=200)],
                               description=_l("Stored encrypted and never shown again."))
    markets = SelectMultipleField(_l("Markets it serves"), validators=[DataRequired()],
                                  widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.markets.choices = [SelectChoice(m.code, f"{m.code} · {m.name}") for m in MARKETS]


class SecretForm(FlaskForm):
    app_secret = PasswordField(_l("New app secret"), validators=[DataRequired(), Length(max=200)],
                               description=_l("Notifications signed with the old secret are still accepted "
                                              "for 7 days."))


class AddressForm(FlaskForm):
    market = SelectField(_l("Market"), coerce=int)
    kind = SelectField(_l("Kind"))
    label_ = StringField(_l("Label"), validators=[DataRequired(), Length(max=120)])
    recipient = StringField(_l("Recipient"), validators=[DataRequired(), Length(max=120)])
    street = StringField(_l("Street"), validators=[DataRequired(), Length(max=200)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=100)])
    postcode = StringField(_l("Postcode"), validators=[DataRequired(), Length(max=20)])
    country = StringField(_l("Country code"), validators=[
        DataRequired(), Length(min=2, max=2),
        Regexp(r"^[A-Za-z]{2}$", message=_l("Two letters, such as GB.")),
    ])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=40)])
    # Return instructions name the carriers the buyer may use: an address without them cannot be sent.
    carriers = StringField(_l("Tracked carriers"), validators=[DataRequired(), Length(max=200)],
                           description=_l("Comma-separated, such as “Royal Mail Tracked, DPD”."))
    is_default = BooleanField(_l("Default address of the market"))

    def __init__(self, markets: list[tuple[int, str]], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.market.choices = [SelectChoice(market_id, name) for market_id, name in markets]
        self.kind.choices = [SelectChoice(kind.value, label(kind)) for kind in AddressKind]
