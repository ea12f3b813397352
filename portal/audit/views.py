"""The audit log for auditors: check it against its signed checkpoints, check an evidence pack, and the
public key that lets anyone do the same offline. The trail itself (read, filter, export) is in trail.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal.access import allow, public
from portal.audit.forms import CheckPackForm
from portal.audit.keys import public_key, signer
from portal.db import db_session
from portal.documents.pack_proof import verify_pack
from portal.domain.audit_signing import SigningKeyError, load_public_key, problem_text
from portal.domain.audit_tree import verify_log
from portal.domain.enums import Role
from portal.rendering import render

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN, Role.OPS_MANAGER)
# Largest pack the upload form checks; the whole request is also bounded by MAX_UPLOAD_MB.
PACK_LIMIT_MB = 30
KEY_LIMIT_BYTES = 16 * 1024


def translated(problems: list) -> list[str]:
    return [problem_text(problem, _) for problem in problems]


@bp.post("/verify")
@allow(AUDIT_READERS)
def verify() -> ResponseReturnValue:
    report = verify_log(db_session(), public_key())
    return render(
        "audit/verify.html",
        "audit/partials/_verify.html",
        report=report,
        problems=translated(report.problems),
    )


@bp.get("/public-key.pem")
@public
def public_key_pem() -> ResponseReturnValue:
    """The key that checks the audit log's checkpoints, for anyone who holds one of our evidence packs."""
    response = current_app.response_class(signer().public_pem(), mimetype="text/plain")
    response.headers["Content-Disposition"] = 'inline; filename="aftersales-desk-audit-key.pem"'
    return response


def _read_limited(storage: object, limit: int) -> bytes | None:
    """The uploaded file's bytes, or None when it is larger than `limit`."""
    data = storage.read(limit + 1)  # type: ignore[attr-defined]
    return None if len(data) > limit else data


@bp.route("/check-pack", methods=["GET", "POST"])
@allow(AUDIT_READERS)
def check_pack() -> ResponseReturnValue:
    """Upload an evidence pack and check it the way `flask audit verify-pack` does, without the database."""
    form = CheckPackForm()
    context: dict[str, Any] = {"form": form, "limit_mb": PACK_LIMIT_MB, "key_id": signer().key_id}
    if not form.is_submitted():
        return render("audit/check_pack.html", **context)
    if not form.validate():
        return render("audit/check_pack.html", status=422, **context)
    data = _read_limited(form.pack.data, PACK_LIMIT_MB * 1024 * 1024)
    if data is None:
        form.pack.errors = [
            _("The file is larger than %(mb)d MB; no evidence pack is that large.", mb=PACK_LIMIT_MB)
        ]
        return render("audit/check_pack.html", status=422, **context)
    key = public_key()
    key_name = None
    upload = form.public_key.data
    if upload and getattr(upload, "filename", ""):
        key_bytes = _read_limited(upload, KEY_LIMIT_BYTES)
        try:
            if key_bytes is None:
                raise SigningKeyError("too large")
            key = load_public_key(key_bytes)
        except SigningKeyError:
            form.public_key.errors = [
                _("This is not an Ed25519 public key in PEM format (as “openssl pkey -pubout” writes it).")
            ]
            return render("audit/check_pack.html", status=422, **context)
        key_name = upload.filename
    report = verify_pack(data, key)
    if not report.checked:
        form.pack.errors = translated(report.problems)
        return render("audit/check_pack.html", status=422, **context)
    return render(
        "audit/check_pack.html",
        report=report,
        problems=translated(report.problems),
        key_name=key_name,
        filename=form.pack.data.filename,
        **context,
    )


from portal.audit import trail  # noqa: E402,F401  (registers the trail and its export on bp)
