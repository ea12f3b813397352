"""The API's routes: cases (list, get, create), business events, evidence uploads and decisions."""

from __future__ import annotations

import re
from typing import TypeVar, cast

from flask import current_app, request, url_for
from flask_babel import gettext
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from portal.access import ALL_ROLES, STAFF, allow, public
from portal.api import auth, convert, errors
from portal.api import schemas as s
from portal.api.blueprint import bp
from portal.api.errors import ApiError, invalid
from portal.api.openapi import document
from portal.db import db_session
from portal.domain import api_cases, lookups
from portal.domain import evidence as evidence_service
from portal.domain.enums import EvidenceKind
from portal.domain.json_input import UnreadableBody, load_json
from portal.domain.lifecycle import LifecycleError
from portal.domain.models import Case, Order
from portal.domain.queue import CaseFilter, case_query, sort_keys
from portal.pagination import BadCursor, decode_cursor, keyset_page

M = TypeVar("M", bound=BaseModel)
VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]{1,200}$")

errors.register(bp)
auth.register(bp)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = current_app.response_class(model.model_dump_json(), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def _body(model: type[M]) -> M:
    if not request.is_json:
        raise ApiError(415, gettext("Send the body as application/json."))
    try:
        data = load_json(request.get_data())
    except UnreadableBody:
        raise ApiError(400, gettext("The body is not valid JSON."), code="bad_json") from None
    return model.model_validate(data)


def _case(number: str) -> Case:
    case = lookups.load_case(db_session(), number=number)
    if case is None:
        raise ApiError(404, gettext("There is no case %(number)s.", number=number))
    return case


def _etag(case: Case) -> dict[str, str]:
    return {"ETag": f'"{case.version}"'}


def _check_if_match(case: Case) -> None:
    if "If-Match" not in request.headers:
        return
    if not (request.if_match.star_tag or request.if_match.contains(str(case.version))):
        raise ApiError(412, details={"current_etag": f'"{case.version}"'})


def _stale() -> ApiError:
    # Someone else changed the case between our read and our write.
    if "If-Match" in request.headers:
        return ApiError(412)
    return ApiError(
        409,
        gettext("The case changed while this request ran; read it again and retry."),
        code="changed_concurrently",
    )


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    """Public: it describes shapes, not data, and clients and tools read it before they hold a token."""
    return cast(Response, current_app.json.response(document()))


@bp.get("/cases")
@allow(ALL_ROLES)
def list_cases() -> Response:
    query = s.CaseListQuery.model_validate(request.args.to_dict())
    select_cases = case_query(
        CaseFilter(
            q=query.q or "",
            status=query.status,
            type=query.type.value if query.type else "",
            reason=query.reason.value if query.reason else "",
            market=query.market or "",
            opened_from=query.opened_from,
            opened_to=query.opened_to,
        )
    )
    if query.order_id is not None:
        select_cases = select_cases.where(
            Case.order_id.in_(select(Order.id).where(Order.external_order_id == query.order_id))
        )
    if query.updated_since is not None:
        select_cases = select_cases.where(Case.updated_at >= query.updated_since)
    keys = [(Case.updated_at, False), (Case.id, False)] if query.sort == "updated" else sort_keys(query.sort)
    if query.cursor:
        try:
            decode_cursor(query.cursor, keys)
        except BadCursor:
            raise invalid(
                {"cursor": [gettext("Use the `next` value of a page listed with the same sort.")]}
            ) from None
    select_cases = select_cases.options(
        selectinload(Case.market), selectinload(Case.order), selectinload(Case.buyer)
    )
    page = keyset_page(db_session(), select_cases, keys, query.cursor, query.limit)
    return _json(s.CasePage(items=[convert.case_summary(c) for c in page.items], next=page.next_cursor))


@bp.get("/cases/<number>")
@allow(ALL_ROLES)
def get_case(number: str) -> Response:
    case = _case(number)
    return _json(convert.case_detail(case), headers=_etag(case))


@bp.post("/cases")
@allow(STAFF)
def create_case() -> Response:
    session = db_session()
    body = _body(s.CaseCreate)
    key = request.headers.get("Idempotency-Key")
    token = auth.current_token()
    idempotency = None
    if key is not None:
        if not VISIBLE_ASCII.match(key):
            raise invalid({"Idempotency-Key": [gettext("Use 1 to 200 visible ASCII characters.")]})
        idempotency = (token.id, key, api_cases.request_hash(body.model_dump_json().encode()))
    try:
        case = _replay(idempotency)
        if case is None:
            case = api_cases.open_case_for_order(
                session,
                auth.actor(),
                order_id=body.order_id,
                type=body.type,
                reason=body.reason,
                items=[api_cases.RequestedItem(i.sku, i.quantity) for i in body.items]
                if body.items
                else None,
                note=body.note,
                idempotency=idempotency,
                buyer_email=body.buyer_email,
                return_insurance=body.return_insurance,
                return_insurer=body.return_insurer,
            )
            session.commit()
    except api_cases.InputError as error:
        session.rollback()
        raise invalid(
            {field: [gettext(m, **p) for m, p in messages] for field, messages in error.fields.items()}
        ) from None
    except IntegrityError:
        # A request with the same Idempotency-Key committed first: answer with its case.
        session.rollback()
        case = _replay(idempotency)
        if case is None:
            raise
    fresh = _case(case.number)
    return _json(
        convert.case_detail(fresh),
        201,
        {**_etag(fresh), "Location": url_for("api.get_case", number=fresh.number)},
    )


def _replay(idempotency: tuple[int, str, str] | None) -> Case | None:
    if idempotency is None:
        return None
    try:
        return api_cases.replayed_case(db_session(), *idempotency)
    except api_cases.IdempotencyMismatch:
        raise invalid(
            {"Idempotency-Key": [gettext("This key was used before with a different request.")]}
        ) from None


@bp.post("/cases/<number>/events")
@allow(STAFF)
def record_event(number: str) -> Response:
    session = db_session()
    case = _case(number)
    _check_if_match(case)
    event = _body(s.EventIn).root
    try:
        decision = api_cases.record_event(session, case, auth.actor(), event.event, event.model_dump())
        session.commit()
    except LifecycleError as error:
        session.rollback()
        fresh = _case(number)
        raise ApiError(
            409,
            gettext(error.message, **error.params),
            code="not_allowed_now",
            details={"status": fresh.status.value, "allowed_events": api_cases.allowed_events(fresh)},
        ) from None
    except StaleDataError:
        session.rollback()
        raise _stale() from None
    fresh = _case(number)
    lang = _language()
    result = s.EventResult(
        event=event.event,
        case=convert.case_detail(fresh),
        decision=convert.decision_out(decision, convert.version_numbers(session, [decision]), lang)
        if decision is not None
        else None,
    )
    return _json(result, headers={**_etag(fresh), "Content-Language": lang, "Vary": "Accept-Language"})


@bp.post("/cases/<number>/evidence")
@allow(STAFF)
def add_evidence(number: str) -> Response:
    session = db_session()
    case = _case(number)
    _check_if_match(case)
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, gettext("Upload the file as multipart/form-data."))
    problems: dict[str, list[str]] = {}
    upload = request.files.get("file")
    if upload is None:
        problems["file"] = [gettext("Choose a file to add.")]
    kind_text = request.form.get("kind", "")
    if kind_text not in EvidenceKind._value2member_map_:
        problems["kind"] = [
            gettext("Choose one of: %(kinds)s.", kinds=", ".join(k.value for k in EvidenceKind))
        ]
    caption = request.form.get("caption") or None
    if caption is not None and (len(caption) > 300 or "\x00" in caption):
        problems["caption"] = [gettext("A caption has at most 300 characters.")]
    if problems or upload is None:
        raise invalid(problems)
    data = upload.read()
    filename = (upload.filename or "upload").replace("\x00", "")[-200:] or "upload"
    try:
        item = evidence_service.add_evidence(
            session,
            current_app.extensions["attachments"],
            case,
            auth.actor(),
            data=data,
            filename=filename,
            kind=EvidenceKind(kind_text),
            caption=caption,
        )
        session.commit()
    except LifecycleError as error:
        session.rollback()
        raise invalid({"file": [gettext(error.message, **error.params)]}) from None
    except StaleDataError:
        session.rollback()
        raise _stale() from None
    fresh = _case(number)
    return _json(convert.evidence_out(item), 201, _etag(fresh))


def _language() -> str:
    return request.accept_languages.best_match(["en", "zh"]) or "en"


@bp.get("/cases/<number>/decisions")
@allow(ALL_ROLES)
def list_decisions(number: str) -> Response:
    case = _case(number)
    lang = _language()
    versions = convert.version_numbers(db_session(), case.decisions)
    body = s.DecisionList(items=[convert.decision_out(d, versions, lang) for d in case.decisions])
    return _json(body, headers={"Content-Language": lang, "Vary": "Accept-Language"})
