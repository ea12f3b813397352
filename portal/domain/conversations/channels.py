"""The ways a message reaches a buyer: the marketplace's customer-service chat, e-mail, or the case record.

A channel gets an `Outgoing` (plain values read from the database before sending, so no transaction
is open while the network is slow) and answers with a `Delivery` or raises `DeliveryError`. Each
message carries an idempotency key: the marketplace refuses to deliver a key twice, and e-mail uses it
as the Message-ID, so a resend after a crash is recognisable as the same message.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Protocol

from portal.domain.enums import MessageStatus
from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError, client_from_config
from portal.domain.marketplace.clients import ShopClients, ShopUnavailable


@dataclass(frozen=True)
class Outgoing:
    """One message to send, with everything a channel needs to send it."""

    message_id: int
    idempotency_key: str
    case_number: str
    language: str
    subject: str
    body: str
    buyer_name: str
    buyer_email: str | None = None
    marketplace_user_id: str | None = None
    conversation_id: str | None = None
    attachment: bytes | None = None
    attachment_name: str | None = None
    attachment_type: str | None = None
    # The marketplace's id of the case's shop: its messages go out with that shop's credentials.
    shop_id: str = ""


@dataclass(frozen=True)
class Delivery:
    state: MessageStatus
    external_id: str | None = None
    # A conversation the channel opened with the buyer, to remember for the next message.
    conversation_id: str | None = None
    note: str | None = None


class DeliveryError(Exception):
    """Sending failed; `retryable` says whether a later attempt may work."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.retryable = retryable


class Channel(Protocol):
    name: str

    def can_reach(self, outgoing: Outgoing) -> bool:
        """Whether this channel has a way to this buyer at all."""

    def send(self, outgoing: Outgoing) -> Delivery:
        """Deliver the message, or raise DeliveryError."""

    def close(self) -> None:
        """Let go of connections kept open between messages of one batch."""


class CaseRecordChannel:
    """The demo channel: the message is kept on the case and nothing leaves the portal."""

    name = "case_record"

    def can_reach(self, outgoing: Outgoing) -> bool:
        return True

    def send(self, outgoing: Outgoing) -> Delivery:
        return Delivery(MessageStatus.SENT, note="not sent: demo channel")

    def close(self) -> None:
        pass


@dataclass
class SmtpSettings:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "returns@localhost"
    timeout: float = 15.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        if not config.get("SMTP_HOST"):
            return None
        return cls(
            host=config["SMTP_HOST"],
            port=int(config.get("SMTP_PORT") or 25),
            username=config.get("SMTP_USERNAME") or "",
            password=config.get("SMTP_PASSWORD") or "",
            starttls=bool(config.get("SMTP_STARTTLS")),
            sender=config.get("MAIL_FROM") or "returns@localhost",
        )


@dataclass
class EmailChannel:
    """SMTP, one connection kept open for a batch; UTF-8 subject and body, the attachment attached."""

    settings: SmtpSettings
    shop_name: str = "Returns"
    name: str = "email"
    _smtp: smtplib.SMTP | None = field(default=None, repr=False)

    def can_reach(self, outgoing: Outgoing) -> bool:
        return bool(outgoing.buyer_email)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                self._smtp.noop()
                return self._smtp
            except smtplib.SMTPException:
                self.close()
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"mail server {s.host}:{s.port} unreachable: {error}") from None
        self._smtp = smtp
        return smtp

    def send(self, outgoing: Outgoing) -> Delivery:
        if not outgoing.buyer_email:
            raise DeliveryError("the buyer has no e-mail address", retryable=False)
        mail = EmailMessage()
        mail["From"] = formataddr((self.shop_name, self.settings.sender))
        mail["To"] = formataddr((outgoing.buyer_name, outgoing.buyer_email))
        mail["Subject"] = outgoing.subject
        domain = self.settings.sender.rpartition("@")[2] or "localhost"
        # The same key gives the same Message-ID, so a resend is the same message to the buyer's mail.
        message_id = f"<{outgoing.idempotency_key}@{domain}>"
        mail["Message-ID"] = message_id
        mail["Content-Language"] = outgoing.language
        mail["X-Case"] = outgoing.case_number
        mail.set_content(outgoing.body, charset="utf-8")
        if outgoing.attachment is not None:
            maintype, _, subtype = (outgoing.attachment_type or "application/octet-stream").partition("/")
            mail.add_attachment(
                outgoing.attachment, maintype=maintype, subtype=subtype, filename=outgoing.attachment_name
            )
        smtp = self._connection()
        try:
            refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(f"the mail server refused the address: {error}", retryable=False) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            permanent = 500 <= error.smtp_code < 600
            raise DeliveryError(f"mail server answered {error.smtp_code}", retryable=not permanent) from None
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise DeliveryError(f"sending mail failed: {error}") from None
        if refused:
            raise DeliveryError(f"the mail server refused {', '.join(refused)}", retryable=False)
        return Delivery(MessageStatus.SENT, external_id=message_id)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


# TikTok Shop's customer-service API (version 202309).
CS_VERSION = "202309"
CONVERSATIONS = f"/customer_service/{CS_VERSION}/conversations"
IMAGES_UPLOAD = f"/customer_service/{CS_VERSION}/images/upload"


def messages_path(conversation_id: str) -> str:
    return f"{CONVERSATIONS}/{conversation_id}/messages"


@dataclass
class MarketplaceChannel:
    """The buyer's customer-service conversation with the shop on the marketplace.

    `client` serves shops set up through the environment; `shops` holds each connected shop's own.
    """

    client: MarketplaceClient | None
    shops: ShopClients | None = None
    name: str = "marketplace"

    def _has_client(self, shop_id: str) -> bool:
        if self.shops is not None and (shop_id in self.shops.connected or shop_id in self.shops.blocked):
            return True
        return self.client is not None

    def _client(self, outgoing: Outgoing) -> MarketplaceClient:
        try:
            client = self.shops.for_shop(outgoing.shop_id) if self.shops is not None else self.client
        except ShopUnavailable as error:
            raise DeliveryError(f"marketplace: {error}", retryable=False) from None
        if client is None:
            raise DeliveryError(f"marketplace: shop {outgoing.shop_id} has no connection", retryable=False)
        return client

    def can_reach(self, outgoing: Outgoing) -> bool:
        reachable = bool(outgoing.marketplace_user_id or outgoing.conversation_id)
        return reachable and self._has_client(outgoing.shop_id)

    def send(self, outgoing: Outgoing) -> Delivery:
        client = self._client(outgoing)
        try:
            conversation = outgoing.conversation_id or self._open_conversation(client, outgoing)
            key = outgoing.idempotency_key
            answer = client.request(
                "POST",
                messages_path(conversation),
                {"idempotency_key": key},
                {"type": "TEXT", "content": json.dumps({"content": outgoing.body}, ensure_ascii=False)},
            )
            if outgoing.attachment is not None:
                self._send_file(client, conversation, outgoing)
        except MarketplaceError as error:
            # A refused token waits with backoff for the shop's token refresh rather than failing for good.
            retryable = error.retryable or error.token_refused
            raise DeliveryError(f"marketplace: {error}", retryable=retryable) from None
        return Delivery(
            MessageStatus.DELIVERED,
            external_id=str(answer.get("message_id") or "") or None,
            conversation_id=conversation if conversation != outgoing.conversation_id else None,
        )

    def _open_conversation(self, client: MarketplaceClient, outgoing: Outgoing) -> str:
        if not outgoing.marketplace_user_id:
            raise DeliveryError("the buyer has no marketplace account", retryable=False)
        body = {"buyer_user_id": outgoing.marketplace_user_id}
        data = client.request("POST", CONVERSATIONS, None, body)
        conversation = str(data.get("conversation_id") or "")
        if not conversation:
            raise DeliveryError("the marketplace opened no conversation", retryable=True)
        return conversation

    def _send_file(self, client: MarketplaceClient, conversation: str, outgoing: Outgoing) -> None:
        # Images and PDFs are uploaded first; the message then points at the uploaded file.
        upload = client.upload(
            IMAGES_UPLOAD, outgoing.attachment or b"", outgoing.attachment_name or "file",
            outgoing.attachment_type or "application/octet-stream",
        )
        kind = "IMAGE" if (outgoing.attachment_type or "").startswith("image/") else "FILE"
        content = {k: upload[k] for k in ("url", "width", "height", "name") if k in upload}
        content.setdefault("name", outgoing.attachment_name or "file")
        client.request(
            "POST",
            messages_path(conversation),
            {"idempotency_key": outgoing.idempotency_key + "-file"},
            {"type": kind, "content": json.dumps(content, ensure_ascii=False)},
        )

    def close(self) -> None:
        if self.shops is not None:
            self.shops.close()


class Router:
    """Chooses each message's channel from MESSAGE_CHANNEL and what is configured.

    `case_record` keeps every message on the case (the demo). `auto` uses the marketplace for buyers
    who have a marketplace account, e-mail for buyers with an address, else the case record. `email`
    and `marketplace` put that channel first and fall back the same way.
    """

    def __init__(
        self, config: Mapping[str, Any], shop_name: str = "Returns", shops: ShopClients | None = None
    ) -> None:
        self.config, self.shop_name, self.shops = config, shop_name, shops
        self.mode = str(config.get("MESSAGE_CHANNEL") or "case_record")
        self.channels: dict[str, Channel] = {"case_record": CaseRecordChannel()}
        settings = SmtpSettings.from_config(config)
        if settings is not None:
            self.channels["email"] = EmailChannel(settings, shop_name)
        client = shops.fallback if shops is not None else client_from_config(config)
        if client is not None or (shops is not None and (shops.connected or shops.blocked)):
            self.channels["marketplace"] = MarketplaceChannel(client, shops)

    def copy(self) -> Router:
        """A router with connections of its own, for another sending thread."""
        return Router(self.config, self.shop_name, self.shops.copy() if self.shops is not None else None)

    def order(self) -> list[str]:
        if self.mode == "case_record":
            return ["case_record"]
        if self.mode == "email":
            return ["email", "marketplace", "case_record"]
        return ["marketplace", "email", "case_record"]

    def choose(self, outgoing: Outgoing) -> Channel:
        for name in self.order():
            channel = self.channels.get(name)
            if channel is not None and channel.can_reach(outgoing):
                return channel
        return self.channels["case_record"]

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
