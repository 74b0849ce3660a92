"""The response SLA: a rep accepts or rejects within the agreed hours, or the lead is reassigned to
another rep (up to max_reassignments) or escalated to the sales manager. Every step is recorded."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Handoff, HandoffEvent, HandoffStatus, Role, StageTransition, User
from app.infra import locks

from app.domain.handoff.assignment import choose_rep
from app.domain.handoff.hand_off import describe_span, assign, lead_subject, log, notify
from app.domain.settings import get_setting
from app.domain.handoff.webhooks import queue_webhook


def manager_for(session: Session, rep: User | None) -> User | None:
    """The rep's own manager when active, else the first active sales manager."""
    if rep is not None and rep.manager_id is not None:
        manager = session.get(User, rep.manager_id)
        if manager is not None and manager.active:
            return manager
    return session.scalar(select(User).where(User.role == Role.SALES_MANAGER, User.active.is_(True))
                          .order_by(User.id).limit(1))


def overdue(session: Session, *, now: datetime, limit: int = 200) -> list[Handoff]:
    query = (select(Handoff).where(Handoff.status == HandoffStatus.PENDING, Handoff.respond_by < now)
             .order_by(Handoff.respond_by).limit(limit))
    return list(session.scalars(locks.handoffs_once(session, query)))  # several schedulers: each lead once


def enforce_sla(session: Session, *, now: datetime) -> dict[str, int]:
    """Reassign or escalate every pending lead whose respond-by time has passed."""
    settings = get_setting(session, "handoff")
    counts = {"reassigned": 0, "escalated": 0}
    for handoff in overdue(session, now=now):
        late = f"no answer within the SLA; {describe_span(now - handoff.respond_by)} overdue"
        if settings.get("sla_action") == "reassign" and handoff.reassignments < int(settings.get("max_reassignments", 1)):
            if reassign(session, handoff, now=now, why=late):
                counts["reassigned"] += 1
                continue
        escalate(session, handoff, now=now, why=late)
        counts["escalated"] += 1
    session.flush()
    return counts


def previous_reps(session: Session, handoff: Handoff) -> set[int]:
    held = set(session.scalars(select(HandoffEvent.to_rep_id).where(
        HandoffEvent.handoff_id == handoff.id, HandoffEvent.to_rep_id.is_not(None))))
    return held | ({handoff.rep_id} if handoff.rep_id else set())


def reassign(session: Session, handoff: Handoff, *, now: datetime, why: str) -> bool:
    """Give the lead to another rep (never one who already had it); False when nobody has room."""
    assignment = choose_rep(session, handoff.contact, now=now, exclude=previous_reps(session, handoff))
    if assignment.queued:
        return False
    handoff.reassignments += 1
    assign(session, handoff, assignment, now=now, actor="sla", kind="reassigned",
           detail=f"{why}; reassigned from {handoff.rep.email if handoff.rep else 'nobody'}")
    return True


def escalate(session: Session, handoff: Handoff, *, now: datetime, why: str) -> None:
    manager = manager_for(session, handoff.rep)
    handoff.status = HandoffStatus.ESCALATED
    handoff.escalated_at = now
    handoff.escalated_to_id = manager.id if manager else None
    detail = f"{why}; escalated to " + (manager.email if manager else "nobody (no active sales manager)")
    log(session, handoff, "escalated", now=now, actor="sla", detail=detail, from_rep=handoff.rep, to_rep=manager)
    session.add(StageTransition(contact_id=handoff.contact_id, attribute="sla", from_value="pending",
                                to_value="escalated", cause=detail, actor="sla", created_at=now))
    if manager is not None:
        notify(session, handoff, manager, key=f"handoff:{handoff.id}:escalated",
               subject=lead_subject(handoff.contact, "Lead not answered in time"), now=now)
    queue_webhook(session, handoff, "handoff.escalated", now=now)
