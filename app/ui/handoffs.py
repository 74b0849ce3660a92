"""Handoffs: the leads sales received, the lead report a rep reads before calling, and the decision."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.domain.errors import Conflict, ValidationError
from app.domain.handoff.feedback import may_decide, reasons_config, respond
from app.extensions import db_session, services
from app.models import Handoff, HandoffStatus

from . import bp, queries
from .access import HANDOFFS, may_view_handoff, roles_required, sees_all_handoffs
from .helpers import choice_arg, get_or_404, int_arg, paginate, whole_number

OPEN = (HandoffStatus.PENDING, HandoffStatus.ESCALATED)
COMMENT_MAX = 5000


@bp.get("/handoffs")
@roles_required(*HANDOFFS)
def handoffs():
    status = choice_arg("status", [str(s) for s in HandoffStatus])
    rep_id = None if sees_all_handoffs(current_user) else current_user.id
    page = paginate(db_session(), queries.handoff_query(rep_id=rep_id, status=status), int_arg("page", 1))
    return render_template("handoffs/list.html", page=page, status=status, statuses=[str(s) for s in HandoffStatus],
                           own=rep_id is not None, now=services().now())


@bp.get("/handoffs/<int:handoff_id>")
@roles_required(*HANDOFFS)
def handoff(handoff_id: int):
    return _render(_visible(handoff_id))


@bp.post("/handoffs/<int:handoff_id>/respond", endpoint="respond")
@roles_required(*HANDOFFS)
def decide(handoff_id: int):
    found = _visible(handoff_id)
    if not may_decide(current_user, found):
        abort(403, description="Only the assigned rep, a sales manager or an admin can accept or reject this lead.")
    form = {"decision": request.form.get("decision", ""), "rating": request.form.get("rating", "").strip(),
            "accept_reasons": request.form.getlist("accept_reasons"),
            "reject_reasons": request.form.getlist("reject_reasons"), "comment": request.form.get("comment", "")}
    if form["decision"] not in ("accept", "reject"):
        return _render(found, form=form, error="Choose Accept or Reject.", status=400)
    other = "reject" if form["decision"] == "accept" else "accept"
    if form[f"{other}_reasons"]:
        return _render(found, form=form, status=400,
                       error=f"You ticked reasons to {other} but chose {form['decision'].capitalize()}: "
                             f"untick them or choose {other.capitalize()}.")
    if form["rating"] and whole_number(form["rating"]) is None:
        return _render(found, form=form, error="The rating is a number from 1 to 5.", status=400)
    if len(form["comment"]) > COMMENT_MAX:
        return _render(found, form=form, error=f"The comment holds at most {COMMENT_MAX:,} characters.", status=400)
    session = db_session()
    try:
        respond(session, found, current_user, accept=form["decision"] == "accept",
                rating=whole_number(form["rating"]) if form["rating"] else None,
                reasons=form[f"{form['decision']}_reasons"],
                comment=form["comment"], now=services().now())
    except ValidationError as exc:
        session.rollback()
        return _render(found, form=form, error=f"{exc.field.capitalize()}: {exc.message}.", status=400)
    except Conflict as exc:
        session.rollback()
        return _render(found, form=form, error=f"Nothing was changed: {exc}.", status=409)
    session.commit()
    flash("Lead accepted. It is yours now: good luck with the call." if found.status == HandoffStatus.ACCEPTED
          else "Lead rejected. Marketing has your reasons and the lead goes back to them.", "success")
    return redirect(url_for("ui.handoff", handoff_id=found.id))


def _visible(handoff_id: int) -> Handoff:
    found = get_or_404(Handoff, handoff_id)
    if not may_view_handoff(current_user, found):
        abort(403, description="This lead was handed to another rep.")
    return found


def _render(found: Handoff, *, form: dict | None = None, error: str | None = None, status: int = 200):
    session = db_session()
    report = found.report or {}
    return render_template(
        "handoffs/detail.html", handoff=found, report=report, contact=report.get("contact") or {},
        score=report.get("score") or {}, fit=report.get("fit") or {}, feedback=queries.handoff_feedback(session, found),
        new_notes=queries.contact_notes(session, found.contact_id, since=found.created_at),
        can_decide=may_decide(current_user, found) and found.status in OPEN,
        reasons=reasons_config(session), form=form or {}, error=error, now=services().now()), status
