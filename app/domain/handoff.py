"""Handing a qualified lead to sales: assignment, the lead report, the rep's notice, and feedback."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (Contact, Event, Feedback, Handoff, HandoffStatus, Message, MessageKind, MessageStatus,
                        Note, Role, Stage, StageTransition, User)
from app.queueing import owe

from .enrollment import stop_enrollments
from .errors import Conflict, ValidationError
from .lifecycle import move_stage
from .settings import get_setting

REJECT_REASONS = ("not the decision maker", "no budget", "no need", "bad timing", "already a customer",
                  "competitor", "wrong contact data", "duplicate")


def choose_rep(session: Session, contact: Contact) -> tuple[User | None, str]:
    """Existing account owner first, then territory, then round-robin among active reps."""
    reps = session.scalars(select(User).where(User.role == Role.SALES, User.active.is_(True))).all()
    if not reps:
        return None, "unassigned"
    by_id = {r.id: r for r in reps}
    if contact.owner_id in by_id:
        return by_id[contact.owner_id], "owner"
    account_owner = session.scalar(select(Contact.owner_id).where(
        Contact.email_domain == contact.email_domain, Contact.owner_id.is_not(None), Contact.id != contact.id).limit(1))
    if account_owner in by_id and not _free_mail(contact.email_domain):
        return by_id[account_owner], "account owner"
    in_territory = [r for r in reps if r.territory and _in_territory(r.territory, contact)]
    pool, strategy = (in_territory, "territory") if in_territory else (reps, "round robin")
    least_recent = min(pool, key=lambda r: (r.last_assigned_at is not None, r.last_assigned_at or datetime.min, r.id))
    return least_recent, strategy


FREE_MAIL = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "proton.me", "gmx.de"}


def _free_mail(domain: str) -> bool:
    return domain in FREE_MAIL


def _in_territory(territory: dict[str, Any], contact: Contact) -> bool:
    checks = {"countries": contact.country, "industries": contact.industry}
    return all(checks[key] in values for key, values in territory.items() if key in checks and values)


def hand_off(session: Session, contact: Contact, *, reason: str, now: datetime, actor: str = "system") -> Handoff:
    """Qualify, assign, report, notify; from here on no nurture email reaches the contact."""
    move_stage(session, contact, Stage.MQL, cause=reason, actor=actor, now=now)
    rep, strategy = choose_rep(session, contact)
    sla_hours = int(get_setting(session, "qualification").get("sla_hours", 48))
    handoff = Handoff(contact_id=contact.id, rep_id=rep.id if rep else None, status=HandoffStatus.PENDING,
                      reason=reason, assignment=strategy, score=contact.score, grade=contact.grade,
                      created_at=now, respond_by=now + timedelta(hours=sla_hours), report={})
    session.add(handoff)
    stop_enrollments(session, contact, reason="handed off to sales", now=now)
    if rep is not None:
        rep.last_assigned_at = now
        contact.owner_id = rep.id
    move_stage(session, contact, Stage.HANDED_OFF,
               cause=f"assigned to {rep.email if rep else 'nobody (no active reps)'} by {strategy}", actor=actor, now=now)
    session.flush()
    handoff.report = lead_report(session, contact, handoff)
    if rep is not None:
        notice = Message(public_id=secrets.token_hex(16), kind=MessageKind.NOTIFICATION, handoff_id=handoff.id,
                         dedupe_key=f"handoff:{handoff.id}:notify", to_email=rep.email,
                         subject=f"New lead: {contact.name}" + (f" at {contact.company}" if contact.company else ""),
                         status=MessageStatus.PENDING, created_at=now)
        session.add(notice)
        owe(session, notice)
    session.flush()
    return handoff


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


def lead_report(session: Session, contact: Contact, handoff: Handoff) -> dict[str, Any]:
    """What a rep reads before calling: why, the evidence, the engagement, the conversations."""
    fit = contact.fit_reasons or {}
    notes = session.scalars(select(Note).where(Note.contact_id == contact.id).order_by(Note.created_at)).all()
    history = session.scalars(select(StageTransition).where(StageTransition.contact_id == contact.id)
                              .order_by(StageTransition.id)).all()
    human = session.execute(select(Event.type, func.count()).where(
        Event.contact_id == contact.id, Event.is_machine.is_(False)).group_by(Event.type)).all()
    return {
        "reason": handoff.reason,
        "contact": {k: getattr(contact, k) for k in ("email", "first_name", "last_name", "company", "title",
                                                     "industry", "company_size", "budget", "timeline_months",
                                                     "country", "timezone", "source")} | {"fields": contact.fields},
        "persona": contact.persona.name if contact.persona else None,
        "segment": contact.segment,
        "score": {"total": contact.score, "reasons": contact.score_reasons},
        "fit": {"grade": contact.grade, "percent": fit.get("percent"), "met": fit.get("met", []),
                "missed": fit.get("missed", [])},
        "engagement": {t: n for t, n in human},
        "timeline": timeline(session, contact),
        "notes": [{"kind": n.kind, "body": n.body, "at": n.created_at.isoformat()} for n in notes],
        "history": [{"attribute": h.attribute, "from": h.from_value, "to": h.to_value, "cause": h.cause,
                     "actor": h.actor, "at": h.created_at.isoformat()} for h in history],
    }


def respond(session: Session, handoff: Handoff, user: User, *, accept: bool, rating: int | None,
            reasons: list[str], comment: str, now: datetime) -> Feedback:
    """The rep's decision: accepted leads become SAL; rejected ones go back to marketing."""
    if handoff.status not in (HandoffStatus.PENDING, HandoffStatus.ESCALATED):
        raise Conflict(f"this lead was already {handoff.status}")
    if rating is not None and not 1 <= rating <= 5:
        raise ValidationError("rating", "must be between 1 and 5")
    unknown = [r for r in reasons if r not in REJECT_REASONS]
    if unknown:
        raise ValidationError("reasons", f"unknown reason {unknown[0]!r}; choose from {', '.join(REJECT_REASONS)}")
    if not accept and not reasons:
        raise ValidationError("reasons", "say why the lead is rejected")
    handoff.status = HandoffStatus.ACCEPTED if accept else HandoffStatus.REJECTED
    handoff.responded_at = now
    feedback = Feedback(handoff_id=handoff.id, user_id=user.id, decision="accept" if accept else "reject",
                        rating=rating, reasons=reasons, comment=comment.strip(), created_at=now)
    session.add(feedback)
    move_stage(session, handoff.contact, Stage.SAL if accept else Stage.REJECTED,
               cause=f"{'accepted' if accept else 'rejected'} by {user.email}" + (f": {', '.join(reasons)}" if reasons else ""),
               actor=f"user:{user.id}", now=now)
    return feedback
