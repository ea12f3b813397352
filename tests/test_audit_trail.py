"""The auditors' trail: readable entries, each filter, pages, and the CSV export of what the filters keep."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.audit import readable
from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import AuditEntry, User


def _entry(db: Session, action: str, entity_type: str, entity_id: str | int, details: dict | None = None,
           actor: User | None = None, at: datetime | None = None) -> int:
    with time_machine.travel(at or datetime.now(UTC), tick=False):  # the log is append-only: write it then
        return audit.record(db, action, entity_type, entity_id, details or {}, actor=actor)


def _ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'id="audit-entry-(\d+)"', html)}


@pytest.fixture
def trail(db: Session, users: dict[Role, User]) -> dict[str, int]:
    """A handful of entries by different people, on different days and cases."""
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-700001")
    other = make_case(db, market, number="AS-700002")
    admin, agent = users[Role.ADMIN], users[Role.CS_AGENT]
    ids = {
        "created": _entry(db, "user.created", "user", agent.id, {"email": agent.email, "role": "cs_agent"},
                          actor=admin, at=datetime(2026, 3, 1, 12, tzinfo=UTC)),
        "status": _entry(db, "case.status_changed", "case", case.number,
                         {"kind": "status_changed", "from": "new", "to": "in_review"}, actor=agent,
                         at=datetime(2026, 3, 2, 3, tzinfo=UTC)),
        "other": _entry(db, "case.note", "case", other.number, {"kind": "note", "text": "hello"}, actor=agent,
                        at=datetime(2026, 3, 3, 12, tzinfo=UTC)),
        "fired": _entry(db, "deadline.fired", "case", case.id, {"name": "seller_response", "late": False},
                        at=datetime(2026, 3, 4, 12, tzinfo=UTC)),
        "role": _entry(db, "user.role_changed", "user", agent.id,
                       {"email": agent.email, "changes": {"role": ["cs_agent", "auditor"]}}, actor=admin,
                       at=datetime(2026, 3, 5, 12, tzinfo=UTC)),
    }
    db.commit()
    return ids


def test_entries_read_as_sentences_with_names_case_links_and_changes(
    login: Callable[[Role], FlaskClient], trail: dict[str, int]
) -> None:
    html = login(Role.AUDITOR).get("/audit?to=2026-03-31").get_data(as_text=True)
    assert _ids(html) == set(trail.values())
    assert "Created the user agent@example.test (CS agent)" in html
    assert "Admin" in html and "user:5" not in html
    assert "Status changed from New to In review" in html
    assert 'href="/cases/AS-700001"' in html  # the case as a link, also for the deadline named by case id
    assert html.count('href="/cases/AS-700001"') == 2
    assert "<del>CS agent</del> → <ins>Auditor</ins>" in html  # a changed field, before → after
    assert "<details><summary>Raw entry <code>user.role_changed</code>" in html
    assert "Note: hello" in html
    assert "&#34;cs_agent&#34;" in html or "&quot;cs_agent&quot;" in html  # the raw JSON stays available


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from=2026-03-02&to=2026-03-03", {"status", "other"}),
        ("from=2026-03-04&to=2026-03-31", {"fired", "role"}),
        ("to=2026-03-01", {"created"}),
        ("user=ADMIN", {"created", "role"}),
        ("user=none", {"fired"}),
        ("action=case.", {"status", "other"}),
        ("action=user.role_changed", {"role"}),
        ("case=AS-700001", {"status", "fired"}),
        ("case=AS-700001&user=AGENT", {"status"}),
        ("case=AS-999999", set()),
    ],
)
def test_each_filter_keeps_only_what_it_asks_for(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], users: dict[Role, User], query: str,
    expected: set[str],
) -> None:
    query = query.replace("ADMIN", str(users[Role.ADMIN].id)).replace("AGENT", str(users[Role.CS_AGENT].id))
    response = login(Role.AUDITOR).get(f"/audit?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-rows">')
    assert _ids(body) == {trail[name] for name in expected}


def test_days_are_whole_days_in_the_readers_zone(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], db: Session, users: dict[Role, User]
) -> None:
    # 2026-03-02 03:00 UTC is still 1 March in New York.
    db.execute(update(User).where(User.id == users[Role.AUDITOR].id).values(timezone="America/New_York"))
    db.commit()
    html = login(Role.AUDITOR).get("/audit?from=2026-03-01&to=2026-03-01").get_data(as_text=True)
    assert _ids(html) == {trail["created"], trail["status"]}
    assert "From (America/New_York)" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=yesterday", "Give a date as YYYY-MM-DD."),
        ("from=1999-12-31", "Give a date between 2000-01-01 and 2100-12-31."),
        ("from=2026-03-05&to=2026-03-01", "The last day comes before the first."),
        ("user=somebody", "Choose a person from the list."),
        ("action=drop table", "Choose an action from the list."),
        ("case=" + "A" * 65, "A case number has at most 64 characters."),
    ],
)
def test_bad_filters_are_named_and_show_nothing(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], query: str, message: str
) -> None:
    auditor = login(Role.AUDITOR)
    response = auditor.get(f"/audit?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and _ids(html) == set()
    fragment = auditor.get(f"/audit?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and message in fragment.get_data(as_text=True)  # htmx swaps it in
    export = auditor.get(f"/audit/export.csv?{query}")
    assert export.status_code == 303 and "text/csv" not in export.headers["Content-Type"]


def test_pages_follow_each_other_without_gaps(
    app: object, login: Callable[[Role], FlaskClient], db: Session
) -> None:
    for i in range(7):
        _entry(db, "case.note", "case", f"AS-8{i:05d}", {"kind": "note"})
    db.commit()
    auditor = login(Role.AUDITOR)
    auditor.application.config["PAGE_SIZE"] = 3
    seen: list[int] = []
    url: str | None = "/audit?action=case."
    while url:
        html = auditor.get(url).get_data(as_text=True)
        seen += [int(n) for n in re.findall(r'id="audit-entry-(\d+)"', html)]
        more = re.search(r'<tr id="more-audit".*?href="([^"]+)"', html, re.S)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)


def _csv(response: object) -> list[list[str]]:
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_export_holds_the_filtered_entries_readably(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], users: dict[Role, User]
) -> None:
    response = login(Role.AUDITOR).get("/audit/export.csv?case=AS-700001")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    rows = _csv(response)
    assert rows[0] == ["When (UTC)", "Who", "What", "Case", "Changes", "Action", "Entity", "Details",
                       "Position"]
    assert [r[5] for r in rows[1:]] == ["deadline.fired", "case.status_changed"]  # newest first
    fired, status = rows[1], rows[2]
    assert status[0] == "2026-03-02T03:00:00+00:00"
    assert status[1] == users[Role.CS_AGENT].name and status[2] == "Status changed from New to In review"
    assert status[3] == "AS-700001" and status[4] == "Status: New → In review"
    assert fired[1] == "scheduler" or fired[1] == "system"
    assert fired[3] == "AS-700001"


def test_csv_cells_cannot_start_a_formula(
    login: Callable[[Role], FlaskClient], db: Session, password_hash: str
) -> None:
    sly = User(email="sly@example.test", name="=2+3", role=Role.CS_AGENT, password_hash=password_hash)
    db.add(sly)
    db.flush()
    _entry(db, "case.rejected", "case", "=HYPERLINK(\"x\")", {"kind": "rejected", "reason": "=1+2"},
           actor=sly)
    _entry(db, "macro.created", "macro", 1, {"name": "@SUM(A1)", "actions": "-2+3"})
    db.commit()
    rows = _csv(login(Role.AUDITOR).get("/audit/export.csv"))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=HYPERLINK(\"x\")" in cells and "'=2+3" in cells  # the case and the person's name
    assert "Created the macro “@SUM(A1)”" in cells and "Rejected: =1+2" in cells


def test_an_export_larger_than_the_bound_is_refused(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.audit import trail as trail_views

    monkeypatch.setattr(trail_views, "EXPORT_MAX_ROWS", 2)
    auditor = login(Role.AUDITOR)
    response = auditor.get("/audit/export.csv?action=case.")
    assert response.status_code == 200  # two entries: within the bound
    refused = auditor.get("/audit/export.csv")
    assert refused.status_code == 303 and refused.headers["Location"].startswith("/audit")
    assert "entries match; an export holds at most 2." in auditor.get("/audit").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.CS_AGENT])
def test_agents_neither_read_nor_export_the_trail(login: Callable[[Role], FlaskClient], role: Role) -> None:
    client = login(role)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_every_kind_of_entry_reads_as_a_sentence_of_its_own(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    """No known action shows as its bare name: each has a sentence, filled from its details."""
    details = {"email": "a@b.test", "name": "N", "number": 3, "from": "new", "to": "in_review",
               "amount": "1.50", "currency": "USD", "days": 2, "sessions_ended": 1, "reason": "R",
               "text": "T", "role": "auditor"}
    actions = [*readable.SENTENCES, *(f"case.{kind}" for kind in readable.CASE_SENTENCES)]
    for action in actions:
        _entry(db, action, "case" if action.startswith("case.") else "thing", "AS-1", details)
    db.commit()
    auditor = login(Role.AUDITOR)
    auditor.application.config["PAGE_SIZE"] = 200
    html = auditor.get("/audit?user=none").get_data(as_text=True)
    shown = re.findall(r'<span class="sentence">(.*?)</span>.*?<summary>Raw entry <code>(.*?)</code>', html,
                       re.S)
    assert sorted(action for _sentence, action in shown) == sorted(actions)
    for sentence, action in shown:
        assert sentence and sentence != action and "%(" not in sentence and "None" not in sentence, action


def test_the_readable_text_is_translated(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], db: Session, users: dict[Role, User]
) -> None:
    db.execute(update(User).where(User.id == users[Role.AUDITOR].id).values(locale="zh"))
    db.commit()
    html = login(Role.AUDITOR).get("/audit?action=user.role_changed").get_data(as_text=True)
    assert "Changed the role of" not in html and "agent@example.test" in html


def test_the_trail_reads_the_log_without_changing_it(
    login: Callable[[Role], FlaskClient], trail: dict[str, int], db: Session
) -> None:
    before = db.execute(select(AuditEntry.id, AuditEntry.details)).all()
    with time_machine.travel(datetime(2026, 3, 6, tzinfo=UTC)):
        auditor = login(Role.AUDITOR)
        auditor.get("/audit")
        auditor.get("/audit/export.csv")
    db.expire_all()
    after = db.execute(
        select(AuditEntry.id, AuditEntry.details).where(AuditEntry.action != "user.login")).all()
    assert after == before


def test_the_export_reads_every_entry_once_in_batches(app: object, db: Session) -> None:
    from portal.domain import audit_trail

    ids = [_entry(db, "case.note", "case", f"AS-6{i:05d}", {"kind": "note"}) for i in range(7)]
    db.commit()
    found = list(audit_trail.batches(db, audit_trail.TrailFilter(action="case."), size=3))
    assert [len(batch) for batch in found] == [3, 3, 1]
    assert [e.id for batch in found for e in batch] == sorted(ids, reverse=True)
