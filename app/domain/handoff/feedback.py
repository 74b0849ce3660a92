"""What sales says back: accept or reject with reasons, a rating, comments, the later outcome, and
sending rejected or lost leads back to nurture (recycling) with their score reset."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (ApiKey, Campaign, CampaignKind, CampaignStatus, Contact, Feedback, Handoff, HandoffStatus,
                        Outcome, Role, Stage, User)
from app.models.base import MAX_INT

from app.domain.contacts.api_keys import acting_for
from app.domain.errors import Conflict, Forbidden, ValidationError
from app.domain.handoff.hand_off import OPEN_STATUSES, log
from app.domain.contacts.lifecycle import move_stage
from app.domain.settings import get_setting
from app.domain.handoff.webhooks import queue_webhook
from app.domain.campaigns.enrollment import enroll
from app.domain.qualification.qualify import rescore

COMMENT_MAX = 5000
OUTCOME_STAGES = {Outcome.OPPORTUNITY: Stage.OPPORTUNITY, Outcome.WON: Stage.WON, Outcome.LOST: Stage.LOST}


def reasons_config(session: Session) -> dict[str, list[str]]:
    return get_setting(session, "feedback")


def may_decide(user: User, handoff: Handoff) -> bool:
    """The assigned rep, a sales manager or an admin; marketing watches but does not decide."""
    return user.role in (Role.ADMIN, Role.SALES_MANAGER) or (user.role == Role.SALES and handoff.rep_id == user.id)


def may_record_outcome(user: User, handoff: Handoff) -> bool:
    """Opportunity, won or lost: said by those who decide on the lead."""
    return may_decide(user, handoff)


def may_recycle(user: User, handoff: Handoff) -> bool:
    """Marketing, who nurture the lead again, as well as those who decide on it."""
    return user.role == Role.MARKETER or may_decide(user, handoff)


def act_for(session: Session, key: ApiKey, email: Any, handoff: Handoff, may=may_decide) -> tuple[User, str]:
    """The user an API key answers for on this lead, and the actor the audit trail records. The key
    needs sales:act (admin to act for an admin); the user must be active and one `may` lets act."""
    if not isinstance(email, str) or not email.strip():
        raise ValidationError("user", "name the user acting, by email")
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        raise ValidationError("user", f"no active user {email!r}")
    actor = acting_for(key, user)
    if not may(user, handoff):
        raise Forbidden(f"{user.email} may not answer for this lead (the assigned rep, a sales manager or an admin "
                        f"may{'; marketing may recycle it' if may is may_recycle else ''})", "user")
    return user, actor


def _check_common(rating: Any, comment: Any) -> str:
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        raise ValidationError("rating", "must be between 1 and 5")
    if not isinstance(comment, str):
        raise ValidationError("comment", "must be text")
    if len(comment) > COMMENT_MAX:
        raise ValidationError("comment", f"holds at most {COMMENT_MAX} characters")
    return comment.strip()


def _check_reasons(reasons: Any, allowed: list[str]) -> list[str]:
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValidationError("reasons", "must be a list of reasons")
    unknown = [r for r in reasons if r not in allowed]
    if unknown:
        raise ValidationError("reasons", f"unknown reason {unknown[0]!r}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(reasons))


def respond(session: Session, handoff: Handoff, user: User, *, accept: bool, rating: int | None,
            reasons: list[str], comment: str, now: datetime, actor: str | None = None) -> Feedback:
    """The rep's decision: accepted leads become SAL; rejected ones go back to marketing, and are
    recycled at once when every reason given is one the agreement recycles on. `actor` is who the
    audit trail names (default the user; see act_for for an API key)."""
    actor = actor or f"user:{user.id}"
    if handoff.status == HandoffStatus.QUEUED:
        raise Conflict("this lead is still waiting for a rep with room this week")
    if handoff.status not in OPEN_STATUSES:
        raise Conflict(f"this lead was already {handoff.status}")
    comment = _check_common(rating, comment)
    # An accepted lead gives accept reasons and a rejected one reject reasons: the evidence report
    # counts them per decision, so a reject reason on an accepted lead would count as the opposite.
    reasons = _check_reasons(reasons, reasons_config(session)["accept_reasons" if accept else "reject_reasons"])
    if not accept and not reasons:
        raise ValidationError("reasons", "say why the lead is rejected")
    handoff.status = HandoffStatus.ACCEPTED if accept else HandoffStatus.REJECTED
    handoff.responded_at = now
    feedback = Feedback(handoff_id=handoff.id, user_id=user.id, decision="accept" if accept else "reject",
                        rating=rating, reasons=reasons, comment=comment, actor=actor, created_at=now)
    session.add(feedback)
    verb = "accepted" if accept else "rejected"
    cause = f"{verb} by {user.email}" + (f": {', '.join(reasons)}" if reasons else "")
    move_stage(session, handoff.contact, Stage.SAL if accept else Stage.REJECTED, cause=cause, actor=actor, now=now)
    log(session, handoff, verb, now=now, actor=actor, detail=cause)
    queue_webhook(session, handoff, f"handoff.{verb}", now=now)
    recycle_on = get_setting(session, "recycle").get("on_reject") or []
    if not accept and all(r in recycle_on for r in reasons):
        recycle(session, handoff, now=now, actor="system", why=f"rejected for {', '.join(reasons)}")
    return feedback


def add_feedback(session: Session, handoff: Handoff, user: User, *, rating: int | None, reasons: list[str],
                 comment: str, now: datetime, actor: str | None = None) -> Feedback:
    """A rating, reasons or a comment given after the decision (the monthly review asks for them)."""
    if handoff.status in OPEN_STATUSES or handoff.status == HandoffStatus.QUEUED:
        raise Conflict("accept or reject the lead first")
    comment = _check_common(rating, comment)
    config = reasons_config(session)
    reasons = _check_reasons(reasons, config["reject_reasons"] + config["accept_reasons"] + config["lost_reasons"])
    if rating is None and not reasons and not comment:
        raise ValidationError("rating", "give a rating, reasons or a comment")
    feedback = Feedback(handoff_id=handoff.id, user_id=user.id, decision="comment", rating=rating, reasons=reasons,
                        comment=comment, actor=actor or f"user:{user.id}", created_at=now)
    session.add(feedback)
    return feedback


def record_outcome(session: Session, handoff: Handoff, user: User, *, outcome: str, amount: Any = None,
                   reason: str | None = None, comment: str = "", now: datetime, actor: str | None = None) -> Feedback:
    """accepted → opportunity → won (with the amount) or lost (with a reason from the configured list)."""
    actor = actor or f"user:{user.id}"
    if not isinstance(outcome, str) or outcome not in {str(o) for o in Outcome}:  # a list is not hashable
        raise ValidationError("outcome", "must be opportunity, won or lost")
    if handoff.status != HandoffStatus.ACCEPTED:
        raise Conflict("only an accepted lead has an outcome; accept it first")
    if handoff.outcome in (Outcome.WON, Outcome.LOST):
        raise Conflict(f"this lead was already {handoff.outcome}")
    if handoff.outcome == outcome:
        raise Conflict(f"this lead is already an {outcome}")
    comment = _check_common(None, comment)
    if outcome == Outcome.WON:
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_INT:
            raise ValidationError("amount", f"a won deal needs its amount: a whole number from 0 to {MAX_INT}")
    elif amount is not None:
        raise ValidationError("amount", "only a won deal has an amount")
    lost_reasons = reasons_config(session)["lost_reasons"]
    if outcome == Outcome.LOST:
        if reason not in lost_reasons:
            raise ValidationError("reason", f"say why it was lost: one of {', '.join(lost_reasons)}")
    elif reason is not None:
        raise ValidationError("reason", "only a lost deal has a reason")
    handoff.outcome, handoff.outcome_amount, handoff.outcome_reason = outcome, amount, reason
    handoff.outcome_at = now
    feedback = Feedback(handoff_id=handoff.id, user_id=user.id, decision="outcome", actor=actor,
                        reasons=[outcome] + ([reason] if reason else []), comment=comment, created_at=now)
    session.add(feedback)
    cause = f"{outcome} according to {user.email}" + (f": {reason}" if reason else "") + (
        f" (${amount:,})" if amount is not None else "")
    move_stage(session, handoff.contact, OUTCOME_STAGES[Outcome(outcome)], cause=cause, actor=actor, now=now)
    log(session, handoff, "outcome", now=now, actor=actor, detail=cause)
    queue_webhook(session, handoff, "outcome.recorded", now=now)
    if outcome == Outcome.LOST and reason in (get_setting(session, "recycle").get("on_lost") or []):
        recycle(session, handoff, now=now, actor="system", why=f"lost: {reason}")
    return feedback


def recyclable(handoff: Handoff) -> bool:
    return handoff.recycled_at is None and (handoff.status == HandoffStatus.REJECTED or handoff.outcome == Outcome.LOST)


def recycle_campaign(session: Session) -> Campaign | None:
    slug = get_setting(session, "recycle").get("campaign") or "recycle"
    return session.scalar(select(Campaign).where(Campaign.slug == slug, Campaign.kind == CampaignKind.RECYCLE))


def recycle(session: Session, handoff: Handoff, *, now: datetime, actor: str, why: str = "") -> Contact:
    """Back to nurture: the score starts over (events before now no longer count), the contact enters
    the recycle campaign, and it may qualify again later."""
    if not recyclable(handoff):
        raise Conflict("only a rejected or lost lead that was not recycled yet can go back to nurture")
    contact = handoff.contact
    handoff.recycled_at = now
    contact.score_reset_at = now
    cause = "recycled to nurture" + (f" ({why})" if why else "") + "; score reset"
    move_stage(session, contact, Stage.NURTURING, cause=cause, actor=actor, now=now)
    log(session, handoff, "recycled", now=now, actor=actor, detail=cause)
    session.flush()
    rescore(session, contact, now=now)
    campaign = recycle_campaign(session)
    if campaign is not None and campaign.status == CampaignStatus.ACTIVE:
        enroll(session, contact, campaign, now=now, source="recycle", actor=actor)
    return contact
