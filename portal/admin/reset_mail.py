"""E-mailing a user the link to set a new password, through the same SMTP channel as buyers' e-mail."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from portal.domain.accounts.reset_links import LIFETIME
from portal.domain.conversations.channels import DeliveryError, EmailChannel, Outgoing, SmtpSettings
from portal.domain.models import User


def send_reset_link(config: Mapping[str, Any], user: User, link: str) -> str | None:
    """None when the mail went out; "" when no mail server is configured; otherwise why sending failed."""
    settings = SmtpSettings.from_config(config)
    if settings is None:
        return ""
    with force_locale(user.locale or "en"):
        subject = _("Set a new password for Aftersales Desk")
        body = _("Hello %(name)s,\n\nan admin made you a link to set a new password. It works once, "
                 "for %(hours)d hours:\n\n%(link)s\n\nSetting the password signs you out everywhere else. "
                 "If you did not ask for this, tell your admin.\n",
                 name=user.name, hours=LIFETIME // timedelta(hours=1), link=link)
    channel = EmailChannel(settings, shop_name="Aftersales Desk")  # staff mail: not in the shop's name
    outgoing = Outgoing(message_id=0, idempotency_key=f"password-link-{user.id}-{secrets.token_hex(8)}",
                        case_number="", language=user.locale or "en", subject=subject, body=body,
                        buyer_name=user.name, buyer_email=user.email)
    try:
        channel.send(outgoing)
    except DeliveryError as error:
        return error.reason
    finally:
        channel.close()
    return None
