"""After the decision: a lead's follow-up page (outcome, later rating, recycling, its audit trail) and
the monthly lead review per rep. Thin: parse the form, call app.domain.handoff.feedback / reviews, render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.domain.errors import Conflict, ValidationError
from app.domain.handoff.feedback import (add_feedback, may_decide, may_record_outcome, may_recycle, reasons_config,
                                         record_outcome, recyclable, recycle)
from app.domain.handoff.hand_off import handoff_events
from app.domain.handoff.reviews import month_review, parse_month, previous_month, review_months
from app.extensions import db_session, services
from app.models import Feedback, Handoff, Role, User, WebhookDelivery

from . import bp
from .access import HANDOFFS, REVIEWS, SALES, may_view_handoff, roles_required
from .helpers import get_or_404

COMMENT_MAX = 5000


def _visible(handoff_id: int) -> Handoff:
    found = get_or_404(Handoff, handoff_id)
    if not may_view_handoff(current_user, found):
        abort(403, description="This lead was handed to another rep.")
    return found


def _render(handoff: Handoff, *, error: str | None = None, form: dict | None = None, status: int = 200):
    session = db_session()
    config = reasons_config(session)
    closed = handoff.outcome in ("won", "lost")
    events = handoff_events(session, handoff)
    ids = {int(e.actor[5:]) for e in events if e.actor.startswith("user:") and e.actor[5:].isdigit()}
    actors = {f"user:{u.id}": u.name or u.email for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return render_template(
        "followup/handoff.html", handoff=handoff, contact=handoff.contact, events=events, actors=actors,
        feedback=session.scalars(select(Feedback).where(Feedback.handoff_id == handoff.id).order_by(Feedback.id)).all(),
        webhooks=session.scalars(select(WebhookDelivery).where(WebhookDelivery.handoff_id == handoff.id)
                                 .order_by(WebhookDelivery.id)).all() if current_user.role != SALES else [],
        can_outcome=may_record_outcome(current_user, handoff) and handoff.status == "accepted" and not closed,
        can_feedback=may_decide(current_user, handoff) and handoff.status in ("accepted", "rejected"),
        can_recycle=may_recycle(current_user, handoff) and recyclable(handoff),
        lost_reasons=config["lost_reasons"], reasons=config["reject_reasons"] + config["accept_reasons"],
        error=error, form=form or {}), status


@bp.get("/handoffs/<int:handoff_id>/follow-up")
@roles_required(*HANDOFFS)
def follow_up(handoff_id: int):
    return _render(_visible(handoff_id))


def _act(handoff: Handoff, work, done: str, form: dict):
    session = db_session()
    try:
        work(session)
    except ValidationError as exc:
        session.rollback()
        return _render(handoff, error=f"{exc.field.capitalize()}: {exc.message}.", form=form, status=400)
    except Conflict as exc:
        session.rollback()
        return _render(handoff, error=f"Nothing was changed: {exc}.", form=form, status=409)
    session.commit()
    flash(done, "success")
    return redirect(url_for("ui.follow_up", handoff_id=handoff.id))


def _whole(value: str, field: str):
    value = value.replace(",", "").replace("$", "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 13:  # '²' is a digit to isdigit(), not to int()
        raise ValidationError(field, "must be a whole number")
    return int(value)


@bp.post("/handoffs/<int:handoff_id>/outcome")
@roles_required(*HANDOFFS)
def outcome(handoff_id: int):
    handoff = _visible(handoff_id)
    if not may_record_outcome(current_user, handoff):
        abort(403, description="Only the assigned rep, a sales manager or an admin can record the outcome.")
    form = {k: request.form.get(k, "") for k in ("outcome", "amount", "reason", "comment")}

    def work(session):
        amount = _whole(form["amount"], "amount")
        record_outcome(session, handoff, current_user, outcome=form["outcome"], amount=amount,
                       reason=form["reason"] or None, comment=form["comment"][:COMMENT_MAX + 1], now=services().now())
    return _act(handoff, work, f"Outcome recorded: {form['outcome']}.", form)


@bp.post("/handoffs/<int:handoff_id>/feedback")
@roles_required(*HANDOFFS)
def later_feedback(handoff_id: int):
    handoff = _visible(handoff_id)
    if not may_decide(current_user, handoff):
        abort(403, description="Only the assigned rep, a sales manager or an admin can rate this lead.")
    form = {"rating": request.form.get("rating", ""), "reasons": request.form.getlist("reasons"),
            "comment": request.form.get("comment", "")}

    def work(session):
        rating = _whole(form["rating"], "rating")
        add_feedback(session, handoff, current_user, rating=rating, reasons=form["reasons"],
                     comment=form["comment"][:COMMENT_MAX + 1], now=services().now())
    return _act(handoff, work, "Thank you: feedback recorded.", form)


@bp.post("/handoffs/<int:handoff_id>/recycle", endpoint="recycle")
@roles_required(*HANDOFFS)
def recycle_lead(handoff_id: int):
    handoff = _visible(handoff_id)
    if not may_recycle(current_user, handoff):
        abort(403, description="Marketing, a sales manager or the assigned rep can send a lead back to nurture.")
    return _act(handoff, lambda s: recycle(s, handoff, now=services().now(), actor=f"user:{current_user.id}",
                                           why=f"by {current_user.email}"),
                "The lead is back in nurture, in the recycle campaign, with its score reset.", {})


# --- monthly lead review ------------------------------------------------------------------------------

def _month(text: str):
    try:
        return parse_month(text)
    except ValidationError as exc:
        abort(400, description=f"The month {exc.message}.")


@bp.get("/reviews")
@roles_required(*REVIEWS)
def reviews():
    now = services().now()
    if current_user.role == SALES:
        return redirect(url_for("ui.review", rep_id=current_user.id, month=f"{previous_month(now):%Y-%m}"))
    session = db_session()
    month = _month(request.args["month"]) if request.args.get("month") else previous_month(now)
    reps = session.scalars(select(User).where(User.role == Role.SALES).order_by(User.name)).all()
    rows = [(rep, month_review(session, rep, month, now=now)) for rep in reps]
    return render_template("followup/reviews.html", rows=rows, month=f"{month:%Y-%m}", tab="reviews")


@bp.get("/reviews/<int:rep_id>/<month>")
@roles_required(*REVIEWS)
def review(rep_id: int, month: str):
    first = _month(month)
    if current_user.role == SALES and current_user.id != rep_id:
        abort(403, description="Each rep sees their own lead review.")
    rep = get_or_404(User, rep_id)
    session, now = db_session(), services().now()
    return render_template("followup/review.html", rep=rep, review=month_review(session, rep, first, now=now),
                           months=review_months(session, rep, now=now), tab="reviews")
