"""Handing a qualified lead to sales: assignment (or the queue), the lead report, the rep's notice,
the CRM webhook, and the audit trail of everything that happens to the handoff."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (NURTURE_STAGES, Contact, Event, Handoff, HandoffEvent, HandoffStatus, Message, MessageKind, MessageStatus,
                        Note, Stage, StageTransition, User)
from app.infra import locks
from app.infra.queue import owe

from app.domain.handoff.assignment import Assignment, choose_rep
from app.domain.campaigns.enrollment import stop_enrollments
from app.domain.contacts.lifecycle import move_stage
from app.domain.contacts.profile import region_of, seniority_of
from app.domain.qualification.agreement import load_agreement
from app.domain.qualification.qualify import qualifies, rescore
from app.domain.settings import get_setting
from app.domain.handoff.webhooks import announce_qualified, queue_webhook

OPEN_STATUSES = (HandoffStatus.PENDING, HandoffStatus.ESCALATED)


def refresh_contact(session: Session, contact: Contact, *, now: datetime, trigger_event: str | None = None,
                    trigger_url: str | None = None) -> Handoff | None:
    """Re-score, and hand off if the contact is still in nurture and now meets the agreement."""
    session.flush()
    rescore(session, contact, now=now)
    if contact.stage not in NURTURE_STAGES:
        return None
    reason = qualifies(load_agreement(session), contact, trigger_event=trigger_event, trigger_url=trigger_url)
    if reason is None:
        return None
    return hand_off(session, contact, reason=reason, now=now)


def hand_off_by_id(session: Session, contact_id: int, reason: str, now: datetime, actor: str) -> int:
    """hand_off for a contact known by id (re-scoring updates contacts in bulk, not as loaded objects)."""
    contact = session.get(Contact, contact_id, populate_existing=True)
    return hand_off(session, contact, reason=reason, now=now, actor=actor).id


def log(session: Session, handoff: Handoff, kind: str, *, now: datetime, actor: str = "system", detail: str = "",
        from_rep: User | None = None, to_rep: User | None = None) -> HandoffEvent:
    entry = HandoffEvent(handoff_id=handoff.id, kind=kind, from_rep_id=from_rep.id if from_rep else None,
                         to_rep_id=to_rep.id if to_rep else None, detail=detail, actor=actor, created_at=now)
    session.add(entry)
    return entry


def notify(session: Session, handoff: Handoff, to: User, *, key: str, subject: str, now: datetime) -> Message | None:
    """Owe a notification email about this handoff; the dedupe key makes the same notice impossible twice."""
    if session.scalar(select(Message.id).where(Message.dedupe_key == key)) is not None:
        return None
    notice = Message(public_id=secrets.token_hex(16), kind=MessageKind.NOTIFICATION, handoff_id=handoff.id,
                     dedupe_key=key, to_email=to.email, subject=subject[:500], status=MessageStatus.PENDING,
                     created_at=now)
    session.add(notice)
    owe(session, notice)
    return notice


def lead_subject(contact: Contact, prefix: str = "New lead") -> str:
    return f"{prefix}: {contact.name}" + (f" at {contact.company}" if contact.company else "")


def hand_off(session: Session, contact: Contact, *, reason: str, now: datetime, actor: str = "system") -> Handoff:
    """Qualify, then assign or queue; from here on no nurture email reaches the contact."""
    move_stage(session, contact, Stage.MQL, cause=reason, actor=actor, now=now)
    stop_enrollments(session, contact, reason="handed off to sales", now=now)
    handoff = Handoff(contact_id=contact.id, status=HandoffStatus.QUEUED, reason=reason[:200], assignment="queued",
                      score=contact.score, grade=contact.grade, created_at=now, report={})
    handoff.contact = contact
    session.add(handoff)
    session.flush()
    assignment = choose_rep(session, contact, now=now)
    if assignment.queued:
        _queue(session, handoff, assignment, now=now, actor=actor)
    else:
        assign(session, handoff, assignment, now=now, actor=actor, announce=False)
    announce_qualified(session, handoff, now=now)  # before handoff.assigned, in the order it happened
    if not assignment.queued:
        queue_webhook(session, handoff, "handoff.assigned", now=now)
    session.flush()
    return handoff


def _queue(session: Session, handoff: Handoff, assignment: Assignment, *, now: datetime, actor: str) -> None:
    why = ("no active sales rep" if assignment.strategy == "unassigned"
           else f"every rep for it ({assignment.strategy}) is at their weekly cap")
    handoff.assignment = f"queued: {assignment.strategy}"[:50]
    log(session, handoff, "queued", now=now, actor=actor, detail=why)
    handoff.report = lead_report(session, handoff.contact, handoff)


def assign(session: Session, handoff: Handoff, assignment: Assignment, *, now: datetime, actor: str,
           kind: str = "assigned", detail: str = "", announce: bool = True) -> None:
    """Give the lead to the chosen rep: SLA clock, owner, stage, audit entry, notice and (unless the
    caller announces it) the handoff.assigned webhook."""
    rep, contact = assignment.rep, handoff.contact
    previous = handoff.rep
    sla_hours = float(get_setting(session, "qualification").get("sla_hours", 48))
    handoff.rep_id, handoff.rep = rep.id, rep
    handoff.assignment = assignment.strategy
    handoff.status = HandoffStatus.PENDING
    handoff.assigned_at = now
    handoff.respond_by = now + timedelta(hours=sla_hours)
    rep.last_assigned_at = now
    contact.owner_id = rep.id
    cause = f"assigned to {rep.email} by {assignment.strategy}"
    if not move_stage(session, contact, Stage.HANDED_OFF, cause=cause, actor=actor, now=now) and previous is not None:
        session.add(StageTransition(contact_id=contact.id, attribute="owner", from_value=str(previous.id),
                                    to_value=str(rep.id), cause=f"{kind}: {cause}" + (f" ({detail})" if detail else ""),
                                    actor=actor, created_at=now))
    log(session, handoff, kind, now=now, actor=actor, detail=detail or cause, from_rep=previous, to_rep=rep)
    session.flush()
    handoff.report = lead_report(session, contact, handoff)
    suffix = "" if handoff.reassignments == 0 and kind != "released" else f":{kind}:{handoff.reassignments}"
    notify(session, handoff, rep, key=f"handoff:{handoff.id}:notify{suffix}", subject=lead_subject(contact), now=now)
    if announce:
        queue_webhook(session, handoff, "handoff.assigned", now=now)


def release_queued(session: Session, *, now: datetime, limit: int = 200) -> int:
    """Queued leads, highest score first, go to reps who have room again (a new week, a raised cap,
    a new rep). Returns how many were assigned."""
    query = (select(Handoff).join(Contact, Contact.id == Handoff.contact_id).where(Handoff.status == HandoffStatus.QUEUED)
             .order_by(Contact.score.desc(), Handoff.created_at, Handoff.id).limit(limit))
    queued = session.scalars(locks.handoffs_once(session, query)).all()  # several schedulers: each lead once
    released = 0
    for handoff in queued:
        assignment = choose_rep(session, handoff.contact, now=now)
        if assignment.queued:
            continue
        waited = now - handoff.created_at
        assign(session, handoff, assignment, now=now, actor="system", kind="released",
               detail=f"released from the queue after {describe_span(waited)}")
        released += 1
    session.flush()
    return released


def describe_span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"


EVENT_LABELS = {
    "email_sent": "Sent “{subject}”", "email_open": "Opened an email", "email_click": "Clicked {url}",
    "page_view": "Viewed {url}", "form_submitted": "Submitted a form {url}", "unsubscribe": "Unsubscribed",
}


def timeline(session: Session, contact: Contact, limit: int = 200) -> list[dict[str, Any]]:
    events = session.scalars(select(Event).where(Event.contact_id == contact.id)
                             .order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)).all()
    out = []
    for e in events:
        template = EVENT_LABELS.get(e.type, e.type.replace("_", " ").capitalize() + " {url}")
        label = template.format(url=e.url or "", subject=(e.properties or {}).get("subject", "")).strip()
        out.append({"id": e.id, "type": e.type, "at": e.occurred_at.strftime("%Y-%m-%d %H:%M UTC"),
                    "label": label, "machine": e.is_machine, "machine_reason": e.machine_reason})
    return out


CONTACT_KEYS = ("email", "first_name", "last_name", "company", "title", "industry", "company_size", "budget",
                "timeline_months", "country", "timezone", "source")


def lead_report(session: Session, contact: Contact, handoff: Handoff) -> dict[str, Any]:
    """What a rep reads before calling: why, the evidence, the engagement, the conversations."""
    fit = contact.fit_reasons or {}
    notes = session.scalars(select(Note).where(Note.contact_id == contact.id).order_by(Note.created_at)).all()
    history = session.scalars(select(StageTransition).where(StageTransition.contact_id == contact.id)
                              .order_by(StageTransition.id)).all()
    human = session.execute(select(Event.type, func.count()).where(
        Event.contact_id == contact.id, Event.is_machine.is_(False)).group_by(Event.type)).all()
    rep = handoff.rep
    return {
        "reason": handoff.reason,
        "source": contact.source,
        "assignment": {"strategy": handoff.assignment, "rep": rep.email if rep else None,
                       "rep_name": rep.name if rep else None},
        "contact": {k: getattr(contact, k) for k in CONTACT_KEYS} | {"fields": contact.fields},
        "profile": {"seniority": seniority_of(contact.title), "region": region_of(contact.country)},
        "persona": contact.persona.name if contact.persona else None,
        "segment": contact.segment,
        "score": {"total": contact.score, "reasons": contact.score_reasons},
        "fit": {"grade": contact.grade, "percent": fit.get("percent"), "met": fit.get("met", []),
                "missed": fit.get("missed", [])},
        "engagement": {t: n for t, n in human},
        "timeline": timeline(session, contact),
        "notes": [{"kind": n.kind, "body": n.body, "at": n.created_at.isoformat()} for n in notes],
        "rapport": [n.body for n in notes if n.kind == "personal"],
        "history": [{"attribute": h.attribute, "from": h.from_value, "to": h.to_value, "cause": h.cause,
                     "actor": h.actor, "at": h.created_at.isoformat()} for h in history],
    }


def handoff_events(session: Session, handoff: Handoff) -> list[HandoffEvent]:
    return list(session.scalars(select(HandoffEvent).where(HandoffEvent.handoff_id == handoff.id)
                                .order_by(HandoffEvent.created_at, HandoffEvent.id)))
