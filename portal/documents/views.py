"""PDF downloads (return instructions, evidence packs) and the auditor's case search and pack exports."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.documents.evidence import (
    case_audit_trail,
    collect_exhibits,
    load_case,
    render_evidence_pack,
)
from portal.documents.export import ExportFilter, count_export, export_filename, write_export
from portal.documents.forms import ExportForm
from portal.documents.instructions import instructions_filename, render_return_instructions
from portal.documents.render import RenderError
from portal.domain.attachments import StorageError, writing
from portal.domain.enums import CaseType, Role
from portal.domain.lookups import market_codes, shop_names
from portal.domain.models import Case, Dispute, Job, Market, Order
from portal.domain.storage import ObjectStore
from portal.errors import storage_message
from portal.i18n import select_locale
from portal.jobs import JobContext, is_stale, seconds_left, start_job
from portal.pagination import newest_first
from portal.rendering import next_page_url, render, wants_fragment

bp = Blueprint("documents", __name__)

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN, Role.OPS_MANAGER)
EXPORT_KIND = "evidence_export"
PDF = "application/pdf"


def _pdf_response(data: bytes, filename: str) -> Response:
    response = current_app.response_class(data, mimetype=PDF)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_failed(error: RenderError) -> ResponseReturnValue:
    return render("documents/render_error.html", status=503, message=str(error))


def _case_or_404(number: str) -> Case:
    case = load_case(db_session(), number)
    if case is None or case.number != number:
        abort(404)
    return case


@bp.route("/cases/<number>/evidence-pack.pdf", methods=["GET", "POST"])
@allow(ALL_ROLES)
def evidence_pack(number: str) -> ResponseReturnValue:
    """GET shows a button; only the POST (CSRF-checked) renders the pack and logs it in the user's name.

    A link, an image tag or a prefetch on another site can make a browser GET this address; none of
    them can make it generate a pack and write to the audit log as the signed-in user.
    """
    session = db_session()
    case = _case_or_404(number)
    if request.method == "GET":
        return render("documents/pack_confirm.html", case=case)
    try:
        pack = render_evidence_pack(session, current_app.extensions["attachments"], case, actor=current_user)
    except RenderError as error:
        session.rollback()
        return _render_failed(error)
    session.commit()
    response = _pdf_response(pack.pdf, pack.filename)
    response.headers["X-Content-SHA256"] = pack.sha256
    return response


@bp.get("/cases/<number>/return-instructions.pdf")
@allow(ALL_ROLES)
def return_instructions(number: str) -> ResponseReturnValue:
    case = _case_or_404(number)
    rma = request.args.get("rma", "")
    returns = [r for r in case.returns if not rma or r.rma_number == rma]
    if not returns:
        abort(404, description=_("This case has no approved return, so there are no return instructions."))
    try:
        data = render_return_instructions(
            db_session(), current_app.extensions["attachments"], case, returns[-1]
        )
    except RenderError as error:
        return _render_failed(error)
    return _pdf_response(data, instructions_filename(returns[-1]))


def _day_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/audit/cases")
@allow(AUDIT_READERS)
def audit_cases() -> ResponseReturnValue:
    session = db_session()
    q = request.args.get("q", "").strip()[:64]
    market = request.args.get("market", "")[:2]
    case_type = request.args.get("type", "")
    disputed = request.args.get("disputed") == "1"
    day_from, day_to = _day_arg("from"), _day_arg("to")
    query = select(Case).options(
        selectinload(Case.market), selectinload(Case.order), selectinload(Case.disputes)
    )
    if q:
        query = query.where(
            or_(Case.number == q, Case.order_id.in_(select(Order.id).where(Order.external_order_id == q)))
        )
    if market:
        query = query.where(Case.market_id.in_(select(Market.id).where(Market.code == market)))
    if case_type in {t.value for t in CaseType}:
        query = query.where(Case.type == CaseType(case_type))
    if disputed:
        query = query.where(exists().where(Dispute.case_id == Case.id) | (Case.type == CaseType.DISPUTE))
    if day_from:
        query = query.where(Case.opened_at >= datetime.combine(day_from, time.min, UTC))
    if day_to:
        query = query.where(Case.opened_at < datetime.combine(day_to + timedelta(days=1), time.min, UTC))
    page = newest_first(
        session, query, Case.opened_at, Case.id, request.args.get("after"), current_app.config["PAGE_SIZE"]
    )
    markets = market_codes(session)
    return render(
        "documents/cases.html",
        "documents/partials/_case_rows.html",
        page=page,
        q=q,
        market=market,
        case_type=case_type,
        disputed=disputed,
        day_from=day_from,
        day_to=day_to,
        markets=markets,
        types=list(CaseType),
        more_url=next_page_url(page.next_cursor),
        appending=bool(request.args.get("after")) and wants_fragment(),
    )


@bp.get("/audit/cases/<number>")
@allow(AUDIT_READERS)
def audit_case(number: str) -> ResponseReturnValue:
    session = db_session()
    case = _case_or_404(number)
    return render(
        "documents/case.html",
        case=case,
        exhibits=collect_exhibits(session, current_app.extensions["attachments"], case),
        trail=case_audit_trail(session, case),
    )


def _recent_exports() -> list[Job]:
    return list(
        db_session().scalars(
            select(Job)
            .where(Job.kind == EXPORT_KIND)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(20)
        )
    )


def export_work(context: JobContext) -> tuple[dict[str, Any], str]:
    """The export job: on a second attempt it starts over and replaces the unfinished file."""
    name = export_filename(context.job_id)
    params = dict(context.params)
    lang = params.pop("lang", "en")
    out = Path(context.app.instance_path) / "exports" / name
    with writing("exports"):
        summary = write_export(
            context.app,
            context.session,
            ExportFilter.from_params(params),
            out,
            context.progress,
            actor_id=context.created_by_id,
            lang=lang,
            job_id=context.job_id,
        )
    exports: ObjectStore = context.app.extensions["exports"]
    exports.put_file(name, out)  # into the shared store, so any web host can serve the download
    if exports.local_path(name) != out.resolve():
        out.unlink(missing_ok=True)
    return {**summary, "filename": name}, f"exports/{name}"


@bp.route("/audit/exports", methods=["GET", "POST"])
@allow(AUDIT_READERS)
def exports() -> ResponseReturnValue:
    """The export form and recent exports; a valid POST starts an export and goes to its progress page."""
    session = db_session()
    form = ExportForm(market_codes(session), shops=shop_names(session))
    if not form.is_submitted():
        return render("documents/exports.html", form=form, jobs=_recent_exports(), is_stale=is_stale)
    if form.validate():
        case_filter = ExportFilter(
            form.date_from.data,
            form.date_to.data,
            form.market.data or "",
            form.type.data or "",
            bool(form.disputed_only.data),
            shop=form.shop.data or "",
        )
        problem = _export_refused(session, count_export(session, case_filter))
        if problem is None:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            params = {**case_filter.to_params(), "lang": select_locale()}
            job = start_job(app, session, EXPORT_KIND, params, current_user)
            return redirect(url_for("documents.export_status", export_id=job.id), code=303)
        form.form_errors.append(problem)
    return render("documents/exports.html", status=422, form=form, jobs=_recent_exports(), is_stale=is_stale)


def _export_refused(session: Session, cases: int) -> str | None:
    """Why an export of `cases` cases cannot start now, or None when it can."""
    config = current_app.config
    if not cases:
        return _("No case matches these filters, so there is nothing to export.")
    if cases > config["EXPORT_MAX_CASES"]:
        return _(
            "These filters match %(count)s cases; one export holds at most %(limit)s. "
            "Narrow the dates, the market or the case type, and export in parts.",
            count=f"{cases:,}",
            limit=f"{config['EXPORT_MAX_CASES']:,}",
        )
    running = [
        job
        for job in session.scalars(
            select(Job).where(Job.kind == EXPORT_KIND, Job.status.in_(("queued", "running")))
        )
        if not is_stale(job)
    ]
    if len(running) >= config["EXPORTS_AT_ONCE"]:
        return _(
            "%(count)s exports are already running, the most the portal runs at once. "
            "Start this one when one of them has finished.",
            count=len(running),
        )
    try:
        with writing("exports"):
            folder = Path(current_app.instance_path) / "exports"
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
    except StorageError as error:
        return storage_message(error)
    return None


def _job_or_404(export_id: int) -> Job:
    job = db_session().get(Job, export_id)
    if job is None or job.kind != EXPORT_KIND:
        abort(404)
    return job


@bp.get("/audit/exports/<int:export_id>")
@allow(AUDIT_READERS)
def export_status(export_id: int) -> ResponseReturnValue:
    job = _job_or_404(export_id)
    return render(
        "documents/export.html",
        "documents/partials/_export_progress.html",
        job=job,
        stale=is_stale(job),
        left=seconds_left(job),
    )


@bp.get("/audit/exports/<int:export_id>/download")
@allow(AUDIT_READERS)
def export_download(export_id: int) -> ResponseReturnValue:
    job = _job_or_404(export_id)
    if job.status != "done" or not job.result_path:
        return redirect(url_for("documents.export_status", export_id=job.id))
    name = Path(job.result_path).name
    exports: ObjectStore = current_app.extensions["exports"]
    if job.result_path == f"exports/{name}":
        # A remote store serves the file itself, so a large export never ties up a web worker.
        link = exports.link(name, name, current_app.config["STORAGE_LINK_SECONDS"])
        if link is not None and exports.exists(name):
            return redirect(link)
    try:
        stream = exports.open(name) if job.result_path == f"exports/{name}" else None
    except ValueError:
        stream = None
    if stream is None:
        abort(410, description=_("The export file is gone; start the export again."))
    return send_file(stream, mimetype="application/zip", as_attachment=True, download_name=name)
