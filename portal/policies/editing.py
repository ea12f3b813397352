"""The ops manager's side: edit a draft with live checking, try it, simulate, publish and roll back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import allow
from portal.db import db_session
from portal.domain import policies as service
from portal.domain import policy_approval as approval
from portal.domain.enums import PolicyStatus, Role
from portal.domain.models import Job, Policy, PolicyVersion
from portal.domain.simulation import MAX_DAYS, simulate
from portal.jobs import JobContext, is_stale, start_job
from portal.policies import palette
from portal.policies.check_slots import bounded_checks
from portal.policies.editor import check_text, try_decision, ui_lang
from portal.policies.forms import (
    FACT_PREFIX,
    SIMULATION_PERIODS,
    ApproveForm,
    PublishForm,
    RejectForm,
    RollbackForm,
    TryInput,
    event_choices,
    read_try_form,
)
from portal.policies.views import bp, get_policy
from portal.rendering import render, wants_fragment
from rules import vocabulary

SIMULATION_JOB = "policy_simulation"
CHANGED_PER_PAGE = 50
EDITORS = (Role.OPS_MANAGER,)


def change_message(error: service.PolicyChangeError) -> str:
    """Why a change was refused, in the reader's language."""
    messages = {
        "conflict": _("Someone else saved this draft while you were editing. Your text is kept below; "
                      "compare it with theirs, then save again to replace theirs."),
        "no_draft": _("There is no draft. Edit the policy and save a draft first."),
        "invalid": _("This version has errors or failing examples (%(count)s). Fix them first: a policy "
                     "with errors can never be published.", count=error.params.get("count", 0)),
        "comment_required": _("Say why you are making this change."),
        "comment_too_long": _("The comment is too long (at most %(limit)s characters).",
                              limit=error.params.get("limit", 0)),
        "already_published": _("Version %(number)s is already the published version.",
                               number=error.params.get("number")),
        "no_such_version": _("There is no published or archived version %(number)s.",
                             number=error.params.get("number")),
        "too_long": _("The policy is too long (at most 256 KiB)."),
        "policy_exists": _("This market already has its own policy."),
        "approval_required": _("Publishing this policy needs a second ops manager's approval: request it."),
        "approval_required_rollback": _("Publishing this policy needs a second ops manager's approval, so it "
                                        "cannot be rolled back in one step. Copy the old version's text into "
                                        "the draft and request publication."),
        "approval_not_required": _("This policy is published without approval."),
        "approval_setting_forbidden": _("Only an admin can stop requiring approval."),
        "request_pending": _("This draft is already waiting for approval."),
        "no_such_request": _("There is no such request."),
        "request_closed": _("This request was already decided or withdrawn."),
        "reviewer_not_manager": _("Only an ops manager can approve or reject a request."),
        "own_request": _("You asked to publish this draft: another ops manager has to approve or reject it."),
        "request_stale": _("The draft changed after publication was requested. The requester has to "
                           "request it again."),
        "not_your_request": _("Only the manager who asked can withdraw the request."),
    }
    return messages.get(error.code, _("The change was refused."))


def _latest_simulations(session: Session, policy_id: int, limit: int = 5) -> list[Job]:
    # Few simulations run per policy; filtering the newest in Python avoids JSON queries that vary by engine.
    jobs = session.scalars(select(Job).where(Job.kind == SIMULATION_JOB).order_by(Job.id.desc()).limit(200))
    return [job for job in jobs if (job.params or {}).get("policy_id") == policy_id][:limit]


def _editor(session: Session, policy: Policy, *, text: str | None = None, token: str | None = None,
            notice: str = "", conflict: PolicyVersion | None = None, tried: Any = None,
            try_input: TryInput | None = None, days: int = 30, status: int = 200) -> ResponseReturnValue:
    draft = service.draft_of(session, policy.id)
    published = service.published_of(session, policy.id)
    if text is None:
        text = draft.text if draft else (published.text if published else "")
    lang = ui_lang()
    return render("policies/edit.html", status=status, policy=policy, draft=draft, published=published,
                  text=text, token=token if token is not None else service.edit_token(draft),
                  report=check_text(text, lang), notice=notice, conflict=conflict, tried=tried,
                  try_input=try_input or TryInput(), fields=palette.fields(), field_specs=vocabulary.FIELDS,
                  actions=palette.actions(), events=palette.events(), event_choices=event_choices(),
                  fact_prefix=FACT_PREFIX, periods=SIMULATION_PERIODS, days=days,
                  simulations=_latest_simulations(session, policy.id))


def _days() -> int:
    raw = request.form.get("days", "30")
    return max(1, min(int(raw), MAX_DAYS)) if raw.isdigit() else 30


@bp.get("/<int:policy_id>/edit")
@allow(EDITORS)
@bounded_checks
def edit(policy_id: int) -> ResponseReturnValue:
    session = db_session()
    return _editor(session, get_policy(session, policy_id))


@bp.post("/<int:policy_id>/edit")
@allow(EDITORS)
@bounded_checks
def edit_submit(policy_id: int) -> ResponseReturnValue:
    """The editor's buttons without JavaScript: check, try, save, save and simulate, save and publish."""
    session = db_session()
    policy = get_policy(session, policy_id)
    text = request.form.get("text", "")
    token = request.form.get("token", service.NEW_DRAFT)
    action = request.form.get("action", "check")
    days = _days()
    if action == "try":
        given = read_try_form(request.form)
        tried = try_decision(session, text, given, ui_lang())
        return _editor(session, policy, text=text, token=token, tried=tried, try_input=given, days=days,
                       notice=_("Not saved yet: press Save draft to keep your changes."))
    if action not in ("save", "simulate", "review"):
        return _editor(session, policy, text=text, token=token, days=days,
                       notice=_("Checked. Not saved yet: press Save draft to keep your changes."))
    try:
        draft = service.save_draft(session, policy, text, token, current_user)
        session.commit()
    except service.PolicyChangeError as error:
        session.rollback()
        current = service.draft_of(session, policy.id)
        # The next save carries the current token: replacing their text is now a deliberate choice.
        return _editor(session, policy, text=text, token=service.edit_token(current), days=days,
                       notice=change_message(error), conflict=current if error.code == "conflict" else None)
    if action == "simulate":
        if service.errors_in(draft.text):
            return _editor(session, policy, days=days,
                           notice=_("Draft saved. Fix the errors before simulating it."))
        job = start_job(current_app._get_current_object(), session, SIMULATION_JOB,  # type: ignore[attr-defined]
                        {"policy_id": policy.id, "draft_id": draft.id, "days": days, "lang": ui_lang()},
                        current_user)
        return redirect(url_for("policies.simulation", policy_id=policy.id, job_id=job.id))
    if action == "review":
        return redirect(url_for("policies.publish", policy_id=policy.id))
    flash(_("Draft v%(number)s saved. It does not apply to cases until you publish it.", number=draft.number),
          "success")
    return redirect(url_for("policies.edit", policy_id=policy.id))


@bp.post("/<int:policy_id>/check")
@allow(EDITORS)
@bounded_checks
def check(policy_id: int) -> ResponseReturnValue:
    """Findings and examples for the text being typed; nothing is saved."""
    session = db_session()
    policy = get_policy(session, policy_id)
    text = request.form.get("text", "")
    if not wants_fragment():
        return _editor(session, policy, text=text, token=request.form.get("token", service.NEW_DRAFT),
                       notice=_("Checked. Not saved yet: press Save draft to keep your changes."))
    return render("policies/partials/_check.html", "policies/partials/_check.html",
                  report=check_text(text, ui_lang()), policy=policy)


@bp.post("/<int:policy_id>/try")
@allow(EDITORS)
@bounded_checks
def try_it(policy_id: int) -> ResponseReturnValue:
    """Decide a described (or real) case with the text in the editor, saved or not."""
    session = db_session()
    policy = get_policy(session, policy_id)
    text = request.form.get("text", "")
    given = read_try_form(request.form)
    tried = try_decision(session, text, given, ui_lang())
    if not wants_fragment():
        return _editor(session, policy, text=text, token=request.form.get("token", service.NEW_DRAFT),
                       tried=tried, try_input=given)
    return render("policies/partials/_try_result.html", "policies/partials/_try_result.html",
                  tried=tried, try_input=given)


@bp.post("/<int:policy_id>/draft/discard")
@allow(EDITORS)
def discard(policy_id: int) -> ResponseReturnValue:
    session = db_session()
    policy = get_policy(session, policy_id)
    try:
        number = service.discard_draft(session, policy, current_user)
    except service.PolicyChangeError as error:
        flash(change_message(error), "error")
        return redirect(url_for("policies.show", policy_id=policy.id))
    session.commit()
    flash(_("Draft v%(number)s discarded.", number=number), "success")
    return redirect(url_for("policies.show", policy_id=policy.id))


@bp.route("/<int:policy_id>/publish", methods=["GET", "POST"])
@allow(EDITORS)
@bounded_checks
def publish(policy_id: int) -> ResponseReturnValue:
    """Review the draft against what is published, then publish it (or request approval) with a comment."""
    session = db_session()
    policy = get_policy(session, policy_id)
    draft = service.draft_of(session, policy.id)
    if draft is None:
        flash(change_message(service.PolicyChangeError("no_draft")), "error")
        return redirect(url_for("policies.show", policy_id=policy.id))
    form = PublishForm()
    problem = ""
    if form.validate_on_submit():
        try:
            if policy.requires_approval:
                approval.request_publication(session, policy, form.comment.data or "", form.token.data or "",
                                             current_user)
            else:
                version = service.publish(session, policy, form.comment.data or "", form.token.data or "",
                                          current_user)
        except service.PolicyChangeError as error:
            session.rollback()
            problem = change_message(error)
        else:
            session.commit()
            if policy.requires_approval:
                flash(_("Publication of v%(number)s requested. Another ops manager approves or rejects it on "
                        "this page.", number=draft.number), "success")
                return redirect(url_for("policies.publish", policy_id=policy.id))
            flash(_("Published v%(number)s. New decisions use it from now on; earlier decisions keep "
                    "the version that made them.", number=version.number), "success")
            return redirect(url_for("policies.show", policy_id=policy.id))
    return _publish_page(session, policy, form, problem)


def _publish_page(session: Session, policy: Policy, form: PublishForm, problem: str = "",
                  approve_form: ApproveForm | None = None, reject_form: RejectForm | None = None,
                  status: int = 200) -> ResponseReturnValue:
    draft = service.draft_of(session, policy.id)
    if draft is None:
        return redirect(url_for("policies.show", policy_id=policy.id))
    if request.method == "GET" or problem:
        form.token.data = service.edit_token(draft)
    published = service.published_of(session, policy.id)
    simulations = [job for job in _latest_simulations(session, policy.id)
                   if (job.result or {}).get("draft_token") == service.edit_token(draft)]
    waiting = approval.pending_request(session, policy.id)
    return render("policies/publish.html", policy=policy, draft=draft, published=published, form=form,
                  problem=problem, lines=service.diff(published.text if published else "", draft.text),
                  report=check_text(draft.text, ui_lang()),
                  simulation=simulations[0] if simulations else None, waiting=waiting,
                  waiting_current=waiting is not None and approval.is_current(session, waiting),
                  last_decision=approval.last_decision(session, policy.id),
                  approve_form=approve_form or ApproveForm(formdata=None),
                  reject_form=reject_form or RejectForm(formdata=None), status=status)


@bp.post("/<int:policy_id>/requests/<int:request_id>/<any(approve, reject, withdraw):decision>")
@allow(EDITORS)
@bounded_checks
def decide_request(policy_id: int, request_id: int, decision: str) -> ResponseReturnValue:
    """Another ops manager approves (publishing) or rejects a request; the requester may withdraw it."""
    session = db_session()
    policy = get_policy(session, policy_id)
    approve_form, reject_form = ApproveForm(formdata=None), RejectForm(formdata=None)
    form: FlaskForm = {"approve": ApproveForm, "reject": RejectForm, "withdraw": FlaskForm}[decision]()
    if decision == "approve":
        approve_form = form  # type: ignore[assignment]
    elif decision == "reject":
        reject_form = form  # type: ignore[assignment]
    if not form.validate_on_submit():
        return _publish_page(session, policy, PublishForm(formdata=None), approve_form=approve_form,
                             reject_form=reject_form, status=422)
    comment = str(form.comment.data or "") if decision != "withdraw" else ""
    try:
        if decision == "approve":
            version = approval.approve(session, policy, request_id, comment, current_user)
        elif decision == "reject":
            approval.reject(session, policy, request_id, comment, current_user)
        else:
            approval.withdraw(session, policy, request_id, current_user)
    except service.PolicyChangeError as error:
        session.rollback()
        return _publish_page(session, policy, PublishForm(formdata=None), change_message(error),
                             approve_form=approve_form, reject_form=reject_form, status=409)
    session.commit()
    if decision == "approve":
        flash(_("Approved and published v%(number)s. New decisions use it from now on.",
                number=version.number), "success")
        return redirect(url_for("policies.show", policy_id=policy.id))
    flash(_("Request rejected; the requester sees your comment.") if decision == "reject"
          else _("Request withdrawn."), "success")
    return redirect(url_for("policies.publish", policy_id=policy.id))


@bp.post("/<int:policy_id>/approval")
@allow(Role.OPS_MANAGER, Role.ADMIN)
def approval_setting(policy_id: int) -> ResponseReturnValue:
    """Require (or, for admins, stop requiring) a second ops manager's approval to publish this policy."""
    session = db_session()
    policy = get_policy(session, policy_id)
    required = request.form.get("required") == "1"
    try:
        approval.set_requirement(session, policy, required, current_user)
    except service.PolicyChangeError as error:
        session.rollback()
        flash(change_message(error), "error")
    else:
        session.commit()
        flash(_("Publishing this policy now needs a second ops manager's approval.") if required
              else _("Publishing this policy no longer needs approval."), "success")
    return redirect(url_for("policies.show", policy_id=policy.id))


@bp.route("/<int:policy_id>/versions/<int:number>/rollback", methods=["GET", "POST"])
@allow(EDITORS)
@bounded_checks
def rollback(policy_id: int, number: int) -> ResponseReturnValue:
    """Confirm, then publish a copy of an old version as the newest one."""
    session = db_session()
    policy = get_policy(session, policy_id)
    old = service.version_of(session, policy.id, number)
    if old is None:
        abort(404)
    if old.status != PolicyStatus.ARCHIVED:
        code = "already_published" if old.status == PolicyStatus.PUBLISHED else "no_such_version"
        flash(change_message(service.PolicyChangeError(code, number=number)), "error")
        return redirect(url_for("policies.version", policy_id=policy.id, number=number))
    form = RollbackForm()
    problem = ""
    if form.validate_on_submit():
        try:
            copy = service.rollback(session, policy, number, form.comment.data or "", current_user)
        except service.PolicyChangeError as error:
            session.rollback()
            problem = change_message(error)
        else:
            session.commit()
            flash(_("Rolled back: v%(new)s is a copy of v%(old)s and is now published.", new=copy.number,
                    old=number), "success")
            return redirect(url_for("policies.show", policy_id=policy.id))
    published = service.published_of(session, policy.id)
    return render("policies/rollback.html", policy=policy, old=old, published=published, form=form,
                  problem=problem, lines=service.diff(published.text if published else "", old.text),
                  report=check_text(old.text, ui_lang()))


def simulation_work(context: JobContext) -> dict[str, Any]:
    params = context.params
    with context.session() as session:
        policy = session.get(Policy, params["policy_id"])
        draft = session.get(PolicyVersion, params["draft_id"])
        if policy is None or draft is None:
            raise LookupError("the draft was discarded before the simulation started")
        return simulate(session, policy, draft, int(params["days"]), params.get("lang", "en"),
                        progress=lambda done, total: context.progress(done, total))


@bp.get("/<int:policy_id>/simulations/<int:job_id>")
@allow(Role.OPS_MANAGER, Role.ADMIN)
def simulation(policy_id: int, job_id: int) -> ResponseReturnValue:
    """Progress while the replay runs (polled by htmx), then its results with the changed cases paged."""
    session = db_session()
    policy = get_policy(session, policy_id)
    job = session.get(Job, job_id)
    if job is None or job.kind != SIMULATION_JOB or (job.params or {}).get("policy_id") != policy.id:
        abort(404)
    result = (job.result or {}) if job.status == "done" else {}
    changed = result.get("changed_cases", [])
    page = request.args.get("page", "1")
    page_number = max(1, int(page)) if page.isdigit() else 1
    start = (page_number - 1) * CHANGED_PER_PAGE
    draft = service.draft_of(session, policy.id)
    return render("policies/simulation.html", "policies/partials/_simulation.html", policy=policy, job=job,
                  result=result, stale=is_stale(job), rows=changed[start:start + CHANGED_PER_PAGE],
                  page=page_number, pages=max(1, -(-len(changed) // CHANGED_PER_PAGE)),
                  dec=Decimal, draft_changed=bool(result) and (
                      draft is None or service.edit_token(draft) != result.get("draft_token")))
