"""CSV imports: upload, preview with the column mapping, the import in the background, result and errors."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, current_app, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from htmx_flask import make_response as htmx_response
from htmx_flask import request
from sqlalchemy import select, update
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.fields.choices import SelectChoice

from portal.access import allow
from portal.csv_export import SafeWriter
from portal.db import db_session
from portal.domain.csv_files import ENCODING_NAMES, FIELDS, ImportFileError
from portal.domain.csv_import import check_mapping, claim, file_header, preview, register_upload, run_import
from portal.domain.enums import Role
from portal.domain.lifecycle import Actor
from portal.domain.models import ImportBatch, Job, Market, Shop, User
from portal.imports.forms import UploadForm
from portal.jobs import RETRYABLE, JobContext, LeaseLost, is_stale, start_job
from portal.pagination import newest_first
from portal.rendering import next_page_url, render

bp = Blueprint("imports", __name__, url_prefix="/imports")

# Imports create orders and open cases in bulk, and the policy acts on every case they open: that is
# the job of whoever owns the shop's set-up and policy, not of an agent working one case at a time.
IMPORTERS = (Role.OPS_MANAGER, Role.ADMIN)
JOB_KIND = "csv_import"


def _form() -> UploadForm:
    form = UploadForm()
    rows = db_session().execute(
        select(Market.id, Market.code, Shop.name).join(Shop).order_by(Shop.name, Market.code)
    )
    form.market.choices = [SelectChoice(mid, f"{code} · {shop}") for mid, code, shop in rows]
    return form


def _recent() -> Any:
    session = db_session()
    return newest_first(
        session,
        select(ImportBatch),
        ImportBatch.created_at,
        ImportBatch.id,
        request.args.get("after"),
        current_app.config["PAGE_SIZE"],
    )


def _index(form: UploadForm, status: int = 200, problem: str | None = None) -> ResponseReturnValue:
    page = _recent()
    limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    return render(
        "imports/index.html",
        status=status,
        form=form,
        page=page,
        problem=problem,
        limit_mb=limit_mb,
        more_url=next_page_url(page.next_cursor),
        fields=FIELDS,
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
    limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    problem = _(
        "The file is larger than %(mb)d MB, the most the portal accepts. Split it into smaller files.",
        mb=limit_mb,
    )
    page = _recent()
    return render(
        "imports/index.html",
        status=413,
        form=UploadForm(formdata=None),
        page=page,
        problem=problem,
        limit_mb=limit_mb,
        more_url=None,
        fields=FIELDS,
    )


@bp.route("", methods=["GET", "POST"])
@allow(IMPORTERS)
def index() -> ResponseReturnValue:
    form = _form()
    if not form.is_submitted():
        return _index(form)
    if not form.validate():
        return _index(form, 422)
    session = db_session()
    market = session.get(Market, form.market.data)
    assert market is not None  # the choices came from the table
    upload = form.file.data
    try:
        batch = register_upload(
            session,
            current_app.extensions["attachments"],
            kind=form.kind.data,
            filename=upload.filename or "",
            data=upload.read(),
            market=market,
            encoding=form.encoding.data,
            user=current_user,
        )
        session.commit()
    except ImportFileError as error:
        session.rollback()
        return _index(form, 422, _(error.message, **error.params))
    return redirect(url_for("imports.batch", batch_id=batch.id), code=303)


def _batch_or_404(batch_id: int) -> ImportBatch:
    batch = db_session().get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


def translate(error: dict[str, Any]) -> str:
    params = dict(error.get("params") or {})
    field, message = params.get("field"), error["message"]  # both already marked where they were written
    if field:
        params["field"] = _(field)
    return _("Line %(line)d: %(problem)s", line=error["line"], problem=_(message, **params))


def _job(batch: ImportBatch) -> Job | None:
    return db_session().get(Job, batch.job_id) if batch.job_id else None


def _show(
    batch: ImportBatch, status: int = 200, problem: str | None = None, mapping: dict[str, str] | None = None
) -> ResponseReturnValue:
    store = current_app.extensions["attachments"]
    job = _job(batch)
    return render(
        "imports/batch.html",
        status=status,
        batch=batch,
        job=job,
        stale=bool(job and is_stale(job)),
        header=file_header(store, batch),
        encoding_name=ENCODING_NAMES.get(batch.encoding, batch.encoding),
        rows=preview(store, batch),
        fields=FIELDS[batch.kind],
        mapping=mapping if mapping is not None else batch.mapping,
        problem=problem,
        translate=translate,
        errors=batch.errors[:200],
        creator=db_session().get(User, batch.created_by_id) if batch.created_by_id else None,
    )


@bp.get("/<int:batch_id>")
@allow(IMPORTERS)
def batch(batch_id: int) -> ResponseReturnValue:
    return _show(_batch_or_404(batch_id))


def import_work(context: JobContext) -> None:
    """The import job: all rows or none, committed together with the job's completion (so a worker
    killed midway leaves nothing, and the attempt after it imports everything once)."""
    batch_id = int(context.params["batch_id"])
    store = context.app.extensions["attachments"]
    with context.session() as session:
        # Before the long transaction starts, so the progress page finds the job at once.
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(job_id=context.job_id, status="running")
        )
        session.commit()
        batch = session.get(ImportBatch, batch_id)
        if batch is None:
            raise LookupError(f"import {batch_id} is gone")
        user = session.get(User, context.created_by_id) if context.created_by_id else None
        actor = Actor.person(user) if user else Actor.system("import")
        sqlite = session.get_bind().dialect.name == "sqlite"
        try:
            outcome = run_import(
                session,
                store,
                batch,
                actor,
                lambda done, total: context.progress(done, total),
                report_while_writing=not sqlite,
            )
            context.finish(
                session,
                {
                    "status": batch.status,
                    "created": outcome.created,
                    "unchanged": outcome.unchanged,
                    "skipped": outcome.skipped,
                    "errors": outcome.error_count,
                },
            )
            session.commit()
        except (LeaseLost, *RETRYABLE):
            # Another worker runs this import now, or the job will try again: it lands once, later.
            session.rollback()
            raise
        except Exception:
            session.rollback()
            session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(status="failed"))
            session.commit()
            raise


@bp.post("/<int:batch_id>/start")
@allow(IMPORTERS)
def start(batch_id: int) -> ResponseReturnValue:
    session = db_session()
    batch = _batch_or_404(batch_id)
    if batch.status in ("running", "done"):
        return redirect(url_for("imports.batch", batch_id=batch.id), code=303)
    header = file_header(current_app.extensions["attachments"], batch)
    mapping = {f.name: request.form.get(f"map-{f.name}", "") for f in FIELDS[batch.kind]}
    mapping = {name: column for name, column in mapping.items() if column in header}
    missing = check_mapping(batch.kind, header, mapping)
    if missing:
        problem = _("Choose a column for: %(fields)s.", fields=", ".join(_(label) for label in missing))
        return _show(batch, 422, problem, mapping)
    used = [column for column in mapping.values()]
    if len(used) != len(set(used)):
        return _show(batch, 422, _("Each column can feed only one field."), mapping)
    batch.mapping = mapping
    session.commit()
    if not claim(session, batch):
        return redirect(url_for("imports.batch", batch_id=batch.id), code=303)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    start_job(app, session, JOB_KIND, {"batch_id": batch.id}, current_user)
    return redirect(url_for("imports.batch", batch_id=batch.id), code=303)


@bp.get("/<int:batch_id>/progress")
@allow(IMPORTERS)
def progress(batch_id: int) -> ResponseReturnValue:
    batch = _batch_or_404(batch_id)
    job = _job(batch)
    stale = bool(job and is_stale(job))
    if batch.status != "running" or (job is not None and job.status == "failed"):
        # Finished: the whole page shows the result (or the errors) now.
        if request.htmx:
            return htmx_response("", 204, refresh=True)
        return redirect(url_for("imports.batch", batch_id=batch.id))
    return render("imports/partials/_progress.html", batch=batch, job=job, stale=stale)


@bp.get("/<int:batch_id>/errors.csv")
@allow(IMPORTERS)
def errors_file(batch_id: int) -> ResponseReturnValue:
    batch = _batch_or_404(batch_id)
    if not batch.errors:
        abort(404)
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow([_("Line"), _("Column"), _("Value"), _("Problem")])
    for error in batch.errors:
        column = batch.mapping.get(error["field"], "")
        writer.writerow(
            [error["line"], column, error.get("value", ""), translate(error)]
        )
    if batch.error_count > len(batch.errors):
        writer.writerow(
            ["", "", "", _("… and %(count)d more errors", count=batch.error_count - len(batch.errors))]
        )
    response = current_app.response_class("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="import-{batch.id}-errors.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
