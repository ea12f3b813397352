"""The message template pages over HTTP: the table, live checks, preview, save and refusals, history."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.conversations import templates
from portal.domain.enums import RefundKind, RefundMethod, RefundStatus, Role
from portal.domain.models import AuditEntry, MessageTemplateVersion, Refund, User

PAGE = "/messages/templates/refund_initiated/de"
HTMX = {"HX-Request": "true"}
GOOD_BODY = "Hallo {buyer}, wir haben {refund_amount} für Bestellung {order} erstattet."


def _versions(
    db: Session, purpose: str = "refund_initiated", language: str = "de"
) -> list[MessageTemplateVersion]:
    db.expire_all()
    return list(
        db.scalars(
            select(MessageTemplateVersion)
            .where(MessageTemplateVersion.purpose == purpose, MessageTemplateVersion.language == language)
            .order_by(MessageTemplateVersion.number)
        )
    )


def _post(client: FlaskClient, url: str, headers: dict[str, str] | None = None, **data: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf_token(client, PAGE), **data}, headers=headers or {})


def _save(client: FlaskClient, body: str, subject: str = "Ihre Erstattung", base: str = "0", **extra: str):  # type: ignore[no-untyped-def]
    return _post(client, PAGE, subject=subject, body=body, base=base, **extra)


def _version(
    db: Session, number: int, body: str | None, author: User, subject: str | None = "Betreff"
) -> None:
    db.add(
        MessageTemplateVersion(
            purpose="refund_initiated",
            language="de",
            number=number,
            subject=subject,
            body=body,
            created_by_id=author.id,
        )
    )
    db.commit()


def test_the_table_shows_defaults_and_edited_versions(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, GOOD_BODY, users[Role.OPS_MANAGER])
    html = login(Role.CS_AGENT).get("/messages/templates").get_data(as_text=True)
    assert 'id="template-table"' in html
    for purpose in templates.PURPOSES:
        assert f'id="purpose-{purpose}"' in html
    cell = html.split('data-cell="refund_initiated-de"')[1].split("</td>")[0]
    assert "Version 1" in cell and users[Role.OPS_MANAGER].name in cell
    assert "Shipped default" in html.split('data-cell="refund_initiated-en"')[1].split("</td>")[0]


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR])
def test_readers_see_the_text_but_no_editor(login: Callable[[Role], FlaskClient], role: Role) -> None:
    client = login(role)
    html = client.get(PAGE).get_data(as_text=True)
    assert 'id="template-text"' in html and 'id="template-form"' not in html
    assert "Restore this version" not in html
    assert _post(client, PAGE, subject="x", body=GOOD_BODY).status_code == 403
    assert _post(client, PAGE + "/check", HTMX, body=GOOD_BODY).status_code == 403


@pytest.mark.parametrize("role", [Role.OPS_MANAGER, Role.ADMIN])
def test_editors_get_the_editor_with_the_placeholders(
    login: Callable[[Role], FlaskClient], role: Role
) -> None:
    html = login(role).get(PAGE).get_data(as_text=True)
    assert 'id="template-form"' in html and "Shipped default" in html
    for name in templates.FACTS:
        assert f"{{{name}}}" in html
    assert "the amount of the latest refund" in html
    # The German shipped text is what the editor starts from.
    assert templates.texts(None, "refund_initiated", "de")[1] in html.replace("&#39;", "'")


def test_unknown_purpose_or_language_is_404(login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.OPS_MANAGER)
    assert client.get("/messages/templates/refund/de").status_code == 404
    assert client.get("/messages/templates/refund_initiated/fr").status_code == 404


def test_live_check_suggests_the_placeholder_beside_the_field(login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.OPS_MANAGER)
    response = _post(
        client, PAGE + "/check", HTMX, subject="Zu {ordr}", body="Hallo {buyer},\nwir haben {refund_amout}."
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="template-check"' in html and "2 problems" in html
    body_part = html.split('id="body-problems"')[1]
    assert "Unknown placeholder {refund_amout}; did you mean {refund_amount}?" in body_part
    assert "Line 2, column 11" in body_part
    assert "did you mean {order}?" in html.split('id="subject-problems"')[1].split("</ul>")[0]
    assert 'hx-swap-oob="true"' in html

    clean = _post(client, PAGE + "/check", HTMX, subject="", body=GOOD_BODY).get_data(as_text=True)
    assert "No problems found." in clean


def test_check_without_javascript_keeps_the_text(login: Callable[[Role], FlaskClient], db: Session) -> None:
    client = login(Role.OPS_MANAGER)
    response = _post(client, PAGE + "/check", subject="", body="Hallo {refund_amout}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Hallo {refund_amout}</textarea>" in html
    assert "did you mean {refund_amount}?" in html
    assert _versions(db) == []


def test_unknown_placeholder_cannot_be_saved(login: Callable[[Role], FlaskClient], db: Session) -> None:
    client = login(Role.OPS_MANAGER)
    response = _save(client, "Hallo {buyer}, wir haben {refund_amout} erstattet.")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown placeholder {refund_amout}; did you mean {refund_amount}?" in html
    assert "Nothing was changed" in html and "{refund_amout} erstattet.</textarea>" in html
    assert _versions(db) == []
    assert (
        db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "message_template.saved")
        )
        == 0
    )


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Betreff", "", "Write the message."),
        ("Betreff", "   ", "Write the message."),
        ("Betreff", "x" * 4001, "at most 4000 characters"),
        ("x" * 201, GOOD_BODY, "at most 200 characters"),
        ("Betreff {nope}", GOOD_BODY, "Unknown placeholder {nope}."),
        ("Betreff", "Preis { 5", "A lone brace"),
    ],
)
def test_bad_texts_are_refused(
    login: Callable[[Role], FlaskClient], db: Session, subject: str, body: str, expected: str
) -> None:
    response = _save(login(Role.OPS_MANAGER), body, subject=subject)
    assert response.status_code == 422
    assert expected in response.get_data(as_text=True)
    assert _versions(db) == []


def test_save_makes_a_version_with_an_audit_entry(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    client = login(Role.OPS_MANAGER)
    response = _save(client, GOOD_BODY, comment="Freundlicher")
    assert response.status_code == 302 and response.location.endswith(PAGE)
    [version] = _versions(db)
    assert (version.number, version.subject, version.body, version.comment) == (
        1,
        "Ihre Erstattung",
        GOOD_BODY,
        "Freundlicher",
    )
    assert version.created_by_id == users[Role.OPS_MANAGER].id
    assert templates.texts(db, "refund_initiated", "de") == ("Ihre Erstattung", GOOD_BODY, False)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "message_template.saved"))
    assert entry is not None and entry.entity_type == "message_template"
    assert entry.entity_id == "refund_initiated:de" and entry.details["number"] == 1
    assert entry.actor_id == users[Role.OPS_MANAGER].id
    html = client.get(PAGE).get_data(as_text=True)
    assert "Saved version 1." in html and 'id="version-1"' in html
    assert "Version 1" in html.split('id="template-state"')[1][:80]


def test_saving_the_same_text_again_adds_nothing(login: Callable[[Role], FlaskClient], db: Session) -> None:
    client = login(Role.OPS_MANAGER)
    assert _save(client, GOOD_BODY).status_code == 302
    response = _save(client, GOOD_BODY, base="1")
    assert response.status_code == 302
    assert len(_versions(db)) == 1
    assert "Nothing changed" in client.get(PAGE).get_data(as_text=True)


def test_saving_the_shipped_text_unchanged_adds_nothing(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    subject, body, _default = templates.texts(None, "refund_initiated", "de")
    response = _save(login(Role.OPS_MANAGER), body, subject=subject)
    assert response.status_code == 302
    assert _versions(db) == []


def test_a_save_over_someone_elses_is_refused_then_deliberate(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, "Hallo {buyer}.", users[Role.ADMIN])
    client = login(Role.OPS_MANAGER)
    response = _save(client, GOOD_BODY, base="0")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Admin saved version 1 while you were editing" in html and GOOD_BODY in html
    assert (
        'name="base" type="hidden" value="1"' in html
        or 'value="1" name="base"' in html
        or 'name="base" value="1"' in html
    )
    assert len(_versions(db)) == 1
    assert _save(client, GOOD_BODY, base="1").status_code == 302
    assert [v.body for v in _versions(db)] == ["Hallo {buyer}.", GOOD_BODY]


def test_save_needs_csrf(login: Callable[[Role], FlaskClient], db: Session) -> None:
    client = login(Role.OPS_MANAGER)
    assert client.post(PAGE, data={"subject": "x", "body": GOOD_BODY, "base": "0"}).status_code == 400
    assert client.post(PAGE + "/check", data={"body": GOOD_BODY}, headers=HTMX).status_code == 400
    assert _versions(db) == []


@pytest.fixture
def refunded_case(db: Session) -> str:
    _shop, market = shop_with_market(db, "DE", "EUR")
    case = make_case(db, market, number="AS-PREVIEW", buyer_name="Jonas")
    db.add(
        Refund(
            case=case,
            kind=RefundKind.FULL,
            method=RefundMethod.ORIGINAL_PAYMENT,
            status=RefundStatus.COMPLETED,
            amount=Decimal("39.98"),
            currency="EUR",
        )
    )
    make_case(db, market, number="AS-NOREFUND")
    db.commit()
    return case.number


def test_preview_fills_the_typed_text_with_the_case(
    login: Callable[[Role], FlaskClient], db: Session, refunded_case: str
) -> None:
    client = login(Role.OPS_MANAGER)
    html = _post(
        client,
        PAGE + "/preview",
        HTMX,
        subject="Erstattung {order}",
        body=GOOD_BODY,
        case_number=refunded_case,
    ).get_data(as_text=True)
    assert 'id="preview-text"' in html and "<html" not in html
    assert "Hallo Jonas, wir haben 39,98" in html and "€" in html
    assert _versions(db) == []


def test_preview_names_the_missing_facts(login: Callable[[Role], FlaskClient], refunded_case: str) -> None:
    client = login(Role.OPS_MANAGER)
    html = _post(
        client, PAGE + "/preview", HTMX, subject="", body=GOOD_BODY + " RMA {rma}", case_number="AS-NOREFUND"
    ).get_data(as_text=True)
    assert 'id="preview-missing"' in html
    assert "{refund_amount}" in html and "{rma}" in html and "the return&#39;s RMA number" in html
    assert "not in a state where this message is true" in html
    assert "There is no case AS-NOPE." in _post(
        client, PAGE + "/preview", HTMX, body=GOOD_BODY, case_number="AS-NOPE"
    ).get_data(as_text=True)
    assert "Fix the problems in the text first." in _post(
        client, PAGE + "/preview", HTMX, body="{refund_amout}", case_number=refunded_case
    ).get_data(as_text=True)


def test_preview_without_javascript_shows_the_whole_page(
    login: Callable[[Role], FlaskClient], refunded_case: str
) -> None:
    html = _post(
        login(Role.OPS_MANAGER), PAGE + "/preview", body=GOOD_BODY, case_number=refunded_case
    ).get_data(as_text=True)
    assert 'id="template-form"' in html and 'id="preview-text"' in html and "Hallo Jonas" in html


def test_history_diffs_consecutive_versions_escaped(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, "Hallo {buyer}, <b>erstattet</b>.", users[Role.OPS_MANAGER])
    _version(db, 2, "Hallo {buyer}, {refund_amount} erstattet.", users[Role.OPS_MANAGER])
    html = login(Role.AUDITOR).get(PAGE).get_data(as_text=True)
    second = html.split('id="version-2"')[1].split('id="version-1"')[0]
    assert "Changes from version 1" in second
    assert "{buyer}, <del>&lt;b&gt;erstattet&lt;/b&gt;.</del><ins>{refund_amount} erstattet.</ins>" in second
    assert "<b>" not in html.split('id="template-history"')[1]
    first = html.split('id="version-1"')[1]
    assert "Changes from the shipped default" in first


def test_restore_creates_a_new_version(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, "Hallo {buyer}, Version eins.", users[Role.OPS_MANAGER], subject="Eins")
    _version(db, 2, "Hallo {buyer}, Version zwei.", users[Role.OPS_MANAGER])
    client = login(Role.OPS_MANAGER)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Restore this version" in page.split('id="version-1"')[1]
    assert "Restore this version" not in page.split('id="version-2"')[1].split('id="version-1"')[0]
    response = _post(client, PAGE + "/versions/1/restore")
    assert response.status_code == 302
    versions = _versions(db)
    assert [(v.number, v.subject, v.body) for v in versions][-1] == (
        3,
        "Eins",
        "Hallo {buyer}, Version eins.",
    )
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "message_template.saved"))
    assert entry is not None and entry.details["restored_from"] == 1 and entry.details["number"] == 3
    html = client.get(PAGE).get_data(as_text=True)
    assert "Restored: version 3 has the text of version 1." in html
    assert "restored from version 1" in html.split('id="version-3"')[1]
    # Restoring what is already in force adds nothing.
    assert _post(client, PAGE + "/versions/3/restore").status_code == 302
    assert len(_versions(db)) == 3
    assert _post(client, PAGE + "/versions/9/restore").status_code == 404


def test_restoring_a_text_that_no_longer_checks_is_refused(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, "Hallo {old_fact}.", users[Role.OPS_MANAGER])
    _version(db, 2, GOOD_BODY, users[Role.OPS_MANAGER])
    client = login(Role.OPS_MANAGER)
    assert _post(client, PAGE + "/versions/1/restore").status_code == 302
    assert len(_versions(db)) == 2
    assert "Version 1 cannot be restored: Unknown placeholder {old_fact}." in client.get(PAGE).get_data(
        as_text=True
    )


def test_back_to_the_default_asks_first(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    _version(db, 1, GOOD_BODY, users[Role.OPS_MANAGER])
    client = login(Role.OPS_MANAGER)
    page = client.get(PAGE + "/default").get_data(as_text=True)
    assert 'id="reset-confirm"' in page and "Yes, go back to the default" in page
    # Without the confirmation the page is shown again and nothing changes.
    assert _post(client, PAGE + "/default").status_code == 200
    assert len(_versions(db)) == 1
    response = _post(client, PAGE + "/default", confirm="yes", comment="Zurück")
    assert response.status_code == 302
    latest = _versions(db)[-1]
    assert (latest.number, latest.body, latest.comment) == (2, None, "Zurück")
    subject, body, is_default = templates.texts(db, "refund_initiated", "de")
    assert is_default and body == templates.translate(templates.PURPOSES["refund_initiated"].body, "de")
    assert (
        db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "message_template.saved")
        )
        == 1
    )
    html = client.get(PAGE).get_data(as_text=True)
    assert (
        "Back to the shipped default" in html
        and "Shipped default" in html.split('id="template-state"')[1][:80]
    )
    # Already the default: nothing to confirm.
    assert client.get(PAGE + "/default").status_code == 302


def test_the_page_speaks_chinese(login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.OPS_MANAGER)
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/settings")})
    html = _post(client, PAGE + "/check", HTMX, body="{refund_amout}").get_data(as_text=True)
    assert "{refund_amount}" in html and "Unknown placeholder" not in html
    page = client.get("/messages/templates").get_data(as_text=True)
    assert "退款" in page


def test_many_problems_are_summed_up_and_huge_texts_refused(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    client = login(Role.OPS_MANAGER)
    html = _post(client, PAGE + "/check", HTMX, body="{zz} " * 30).get_data(as_text=True)
    assert html.count("Unknown placeholder {zz}.") == 20 and "and 10 more" in html
    huge = _post(client, PAGE + "/check", HTMX, body="{zz}" * 250_000).get_data(as_text=True)
    assert "The text is longer than 4000 characters." in huge
    assert _save(client, "x" * 1_000_000).status_code == 422
    assert _versions(db) == []
