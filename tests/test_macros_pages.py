"""The macros pages over HTTP: list, create, edit, live check, (de)activate, reorder, delete, refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import csrf_token

from portal.domain.enums import Role
from portal.domain.models import AuditEntry, Macro, User
from portal.domain.types import utcnow
from rules import vocabulary

LIST = "/messages/macros"
HTMX = {"HX-Request": "true"}
PHOTOS = 'request_evidence "photo", notify "evidence_requested"'


def _post(client: FlaskClient, url: str, headers: dict[str, str] | None = None, **data: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf_token(client, LIST), **data}, headers=headers or {})


def _macros(db: Session) -> list[Macro]:
    db.expire_all()
    return list(db.scalars(select(Macro).order_by(Macro.position, Macro.name)))


def _audit(db: Session, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def three(db: Session, users: dict[Role, User]) -> list[int]:
    made = [
        Macro(
            name=name,
            actions=actions,
            position=i,
            created_by_id=users[Role.OPS_MANAGER].id,
            created_at=utcnow(),
        )
        for i, (name, actions) in enumerate(
            [("Request photos", PHOTOS), ("Approve return", "approve_return"), ("Escalate", "escalate")],
            start=1,
        )
    ]
    db.add_all(made)
    db.commit()
    return [m.id for m in made]


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR])
def test_readers_see_the_list_without_buttons(
    login: Callable[[Role], FlaskClient], three: list[int], role: Role
) -> None:
    client = login(role)
    html = client.get(LIST).get_data(as_text=True)
    assert 'id="macro-list"' in html and "Request photos" in html and PHOTOS.replace('"', "&#34;") in html
    assert "New macro" not in html and "Deactivate" not in html
    assert client.get(f"{LIST}/new").status_code == 403
    assert _post(client, f"{LIST}/new", name="X", actions="escalate").status_code == 403
    assert _post(client, f"{LIST}/{three[0]}/delete", confirm="yes").status_code == 403


def test_the_help_lists_every_action_and_message(login: Callable[[Role], FlaskClient]) -> None:
    html = login(Role.OPS_MANAGER).get(f"{LIST}/new").get_data(as_text=True)
    assert 'id="macro-help"' in html
    for name in vocabulary.ACTIONS:
        assert f'<code class="snippet">{name}' in html
    assert "notify &#34;refund_initiated&#34;" in html


def test_create_checks_and_records(
    login: Callable[[Role], FlaskClient], db: Session, three: list[int], users: dict[Role, User]
) -> None:
    client = login(Role.OPS_MANAGER)
    response = _post(
        client,
        f"{LIST}/new",
        name="  Ask   for video ",
        description="Damaged items",
        actions='request_evidence "video",\n notify "evidence_requested"',
        action="save",
    )
    assert response.status_code == 302 and response.location.endswith(LIST)
    made = _macros(db)[-1]
    assert (made.name, made.actions, made.description, made.position) == (
        "Ask for video",
        'request_evidence "video", notify "evidence_requested"',
        "Damaged items",
        4,
    )
    assert made.active and made.created_by_id == users[Role.OPS_MANAGER].id
    [entry] = _audit(db, "macro.created")
    assert entry.entity_id == str(made.id) and entry.details["name"] == "Ask for video"
    assert "Macro “Ask for video” saved." in client.get(LIST).get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"name": "Typo", "actions": "aprove_return"},
            "unknown action `aprove_return`; did you mean `approve_return`?",
        ),
        ({"name": "Bare", "actions": "request_evidence photo"}, "Column 18"),
        ({"name": "Bad message", "actions": 'notify "refund_initated"'}, "did you mean “refund_initiated”?"),
        ({"name": "Empty", "actions": ""}, "Write at least one action"),
        ({"name": "", "actions": "escalate"}, "Give the macro a name."),
        ({"name": "x" * 81, "actions": "escalate"}, "The name is at most 80 characters."),
        ({"name": "Long", "actions": "escalate, " * 101}, "The actions are at most 1000 characters."),
        ({"name": "Many", "actions": ", ".join(["escalate"] * 11)}, "A macro has at most 10 actions."),
        (
            {"name": "Request photos", "actions": "escalate"},
            "There is already a macro called “Request photos”.",
        ),
    ],
)
def test_bad_macros_are_refused(
    login: Callable[[Role], FlaskClient], db: Session, three: list[int], data: dict[str, str], expected: str
) -> None:
    response = _post(login(Role.OPS_MANAGER), f"{LIST}/new", action="save", **data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert expected in html.replace("&#34;", '"').replace("&#39;", "'"), html[-3000:]
    assert len(_macros(db)) == 3
    assert _audit(db, "macro.created") == []


def test_live_check_shows_the_column_and_the_steps(login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.OPS_MANAGER)
    html = _post(client, f"{LIST}/check", HTMX, actions="request_evidence photo").get_data(as_text=True)
    assert 'id="macro-check"' in html and "<html" not in html
    assert "Column 18" in html and 'put text in double quotes: `"photo"`' in html.replace(
        "&#34;", '"'
    ).replace("&#96;", "`")
    assert "^" in html  # the caret under the column
    ok = _post(client, f"{LIST}/check", HTMX, actions=PHOTOS).get_data(as_text=True)
    assert "No problems found." in ok and "request_evidence &#34;photo&#34;" in ok


def test_check_button_without_javascript_keeps_the_form(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    html = _post(
        login(Role.OPS_MANAGER), f"{LIST}/new", name="Later", actions="escalate", action="check"
    ).get_data(as_text=True)
    assert "Checked. Not saved yet" in html and 'value="Later"' in html
    assert _macros(db) == []


def test_edit_changes_the_macro(login: Callable[[Role], FlaskClient], db: Session, three: list[int]) -> None:
    client = login(Role.ADMIN)
    page = client.get(f"{LIST}/{three[1]}/edit").get_data(as_text=True)
    assert 'value="Approve return"' in page and ">approve_return</textarea>" in page
    response = _post(
        client,
        f"{LIST}/{three[1]}/edit",
        name="Approve and tell",
        actions=('approve_return, notify "return_approved"'),
        action="save",
    )
    assert response.status_code == 302
    changed = next(m for m in _macros(db) if m.id == three[1])
    assert (changed.name, changed.actions, changed.position) == (
        "Approve and tell",
        'approve_return, notify "return_approved"',
        2,
    )
    [entry] = _audit(db, "macro.changed")
    assert entry.details["before"]["name"] == "Approve return"
    refused = _post(
        client, f"{LIST}/{three[1]}/edit", name="Approve and tell", actions="aprove", action="save"
    )
    assert refused.status_code == 422
    assert (
        next(m for m in _macros(db) if m.id == three[1]).actions == 'approve_return, notify "return_approved"'
    )
    assert client.get(f"{LIST}/999/edit").status_code == 404


def test_keeping_its_own_name_is_not_a_clash(
    login: Callable[[Role], FlaskClient], db: Session, three: list[int]
) -> None:
    response = _post(
        login(Role.OPS_MANAGER),
        f"{LIST}/{three[2]}/edit",
        name="Escalate",
        actions="escalate, hold",
        action="save",
    )
    assert response.status_code == 302
    assert next(m for m in _macros(db) if m.id == three[2]).actions == "escalate, hold"


def test_deactivate_and_reactivate(
    login: Callable[[Role], FlaskClient], db: Session, three: list[int]
) -> None:
    client = login(Role.OPS_MANAGER)
    assert _post(client, f"{LIST}/{three[0]}/active", active="0").status_code == 302
    assert not next(m for m in _macros(db) if m.id == three[0]).active
    html = client.get(LIST).get_data(as_text=True)
    assert "is inactive: agents no longer see it" in html and "Reactivate" in html
    from portal.domain.conversations import macros

    assert [m.name for m in macros.active(db)] == ["Approve return", "Escalate"]
    assert _post(client, f"{LIST}/{three[0]}/active", active="1").status_code == 302
    assert next(m for m in _macros(db) if m.id == three[0]).active
    assert [len(_audit(db, "macro.deactivated")), len(_audit(db, "macro.reactivated"))] == [1, 1]
    _post(client, f"{LIST}/{three[0]}/active", active="maybe")
    assert "Choose whether the macro is active." in client.get(LIST).get_data(as_text=True)


def test_reorder_moves_one_place(login: Callable[[Role], FlaskClient], db: Session, three: list[int]) -> None:
    client = login(Role.OPS_MANAGER)
    assert _post(client, f"{LIST}/{three[2]}/move", direction="up").status_code == 302
    assert [m.name for m in _macros(db)] == ["Request photos", "Escalate", "Approve return"]
    _post(client, f"{LIST}/{three[0]}/move", direction="down")
    assert [m.name for m in _macros(db)] == ["Escalate", "Request photos", "Approve return"]
    assert [m.position for m in _macros(db)] == [1, 2, 3]
    # The first cannot go higher; a missing direction changes nothing.
    _post(client, f"{LIST}/{three[2]}/move", direction="up")
    _post(client, f"{LIST}/{three[2]}/move")
    assert [m.name for m in _macros(db)] == ["Escalate", "Request photos", "Approve return"]
    assert len(_audit(db, "macro.moved")) == 2
    html = client.get(LIST).get_data(as_text=True)
    assert html.index("Escalate") < html.index("Request photos") < html.index("Approve return")


def test_delete_asks_first(login: Callable[[Role], FlaskClient], db: Session, three: list[int]) -> None:
    client = login(Role.OPS_MANAGER)
    page = client.get(f"{LIST}/{three[1]}/delete").get_data(as_text=True)
    assert 'id="delete-confirm"' in page and "Delete the macro “Approve return”?" in page
    assert _post(client, f"{LIST}/{three[1]}/delete").status_code == 200
    assert len(_macros(db)) == 3
    assert _post(client, f"{LIST}/{three[1]}/delete", confirm="yes").status_code == 302
    assert [m.name for m in _macros(db)] == ["Request photos", "Escalate"]
    [entry] = _audit(db, "macro.deleted")
    assert entry.details == {"name": "Approve return", "actions": "approve_return", "description": ""}
    assert _post(client, f"{LIST}/{three[1]}/delete", confirm="yes").status_code == 404


def test_forms_need_csrf(login: Callable[[Role], FlaskClient], db: Session, three: list[int]) -> None:
    client = login(Role.OPS_MANAGER)
    assert client.post(f"{LIST}/new", data={"name": "X", "actions": "escalate"}).status_code == 400
    assert client.post(f"{LIST}/{three[0]}/delete", data={"confirm": "yes"}).status_code == 400
    assert client.post(f"{LIST}/check", data={"actions": "escalate"}, headers=HTMX).status_code == 400
    assert db.scalar(select(func.count()).select_from(Macro)) == 3


def test_problems_speak_chinese(login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.OPS_MANAGER)
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/settings")})
    html = _post(client, f"{LIST}/check", HTMX, actions="aprove_return").get_data(as_text=True)
    assert "未知动作" in html and "第 1 列" in html
