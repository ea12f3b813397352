"""The front door: role-based home, health check and evidence files."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select, text

from portal.access import ALL_ROLES, allow, public
from portal.db import db_session
from portal.domain.attachments import AttachmentStore
from portal.domain.enums import Role
from portal.domain.models import Attachment, EvidenceItem, Product
from portal.domain.uploads import safe_filename

bp = Blueprint("main", __name__)

HOME_BY_ROLE = {
    Role.CS_AGENT: "cases.queue",
    Role.OPS_MANAGER: "cases.queue",
    Role.AUDITOR: "audit.log",
    Role.ADMIN: "admin.users",
}


@bp.get("/")
@public
def index() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[current_user.role]))


@bp.get("/healthz")
@public
def healthz() -> ResponseReturnValue:
    db_session().execute(text("SELECT 1"))
    return jsonify(status="ok")


def send_stored(sha256: str, filename: str) -> ResponseReturnValue:
    attachment = db_session().get(Attachment, sha256)
    store: AttachmentStore = current_app.extensions["attachments"]
    try:
        path = store.path(sha256)
    except ValueError:
        abort(404)
    if attachment is None or not path.exists():
        abort(404)
    # Images open in the browser; anything else downloads, so a stored HTML file can never run here.
    inline = attachment.content_type in {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "application/pdf",
    }
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=not inline,
        # Names stored before uploads were cleaned may hold a NUL or a newline, which no header can carry.
        download_name=safe_filename(filename),
        max_age=3600,
        etag=sha256,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/evidence/<sha256>")
@allow(ALL_ROLES)
def evidence_file(sha256: str) -> ResponseReturnValue:
    # Only files that are evidence on some case are served here.
    item = db_session().scalar(select(EvidenceItem).where(EvidenceItem.sha256 == sha256).limit(1))
    if item is None:
        abort(404)
    return send_stored(sha256, item.filename)


@bp.get("/evidence/<sha256>/thumbnail")
@allow(ALL_ROLES)
def evidence_thumbnail(sha256: str) -> ResponseReturnValue:
    """A small picture of an image exhibit, so a case page with many photos stays light."""
    item = db_session().scalar(select(EvidenceItem).where(EvidenceItem.sha256 == sha256).limit(1))
    store: AttachmentStore = current_app.extensions["attachments"]
    try:
        path = store.thumbnail(sha256) if item is not None else None
    except ValueError:
        path = None
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=86400, etag=f"thumb-{sha256}")


@bp.get("/products/image/<sha256>")
@allow(ALL_ROLES)
def product_image(sha256: str) -> ResponseReturnValue:
    product = db_session().scalar(select(Product).where(Product.image_sha256 == sha256).limit(1))
    if product is None:
        abort(404)
    return send_stored(sha256, f"{product.sku}.png")
