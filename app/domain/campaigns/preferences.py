"""The preference page: pause for 30 days, choose which campaigns (topics) to stay in, or leave all.

A pause moves the contact's active enrollments and any email already owed to the end of the pause
(the scheduler plans nothing before it and delivery claims nothing before it). Leaving a campaign
stops its enrollment; joining it again picks up where it stopped.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Campaign, CampaignKind, Contact, Enrollment, EnrollmentStatus, Message, MessageStatus

PAUSE = timedelta(days=30)
LEFT_REASON = "left by the contact (email preferences)"
TOPIC_KINDS = (CampaignKind.DRIP, CampaignKind.RECYCLE)


def topics(session: Session, contact: Contact) -> list[dict]:
    """The campaigns this contact is or was in, newest enrollment per campaign, with whether it is on."""
    rows = session.execute(select(Enrollment, Campaign).join(Campaign, Campaign.id == Enrollment.campaign_id).where(
        Enrollment.contact_id == contact.id, Campaign.kind.in_([str(k) for k in TOPIC_KINDS]))
        .order_by(Enrollment.cycle)).all()
    latest = {campaign.id: (enrollment, campaign) for enrollment, campaign in rows}
    return [{"id": campaign.id, "name": campaign.name, "description": campaign.description,
             "on": enrollment.status == EnrollmentStatus.ACTIVE,
             "left": enrollment.status == EnrollmentStatus.STOPPED and enrollment.exit_reason == LEFT_REASON}
            for enrollment, campaign in sorted(latest.values(), key=lambda pair: pair[1].name)]


def pause(session: Session, contact: Contact, *, now: datetime, span: timedelta = PAUSE) -> datetime:
    until = now + span
    contact.paused_until = until
    contact.updated_at = now
    session.execute(update(Enrollment).where(
        Enrollment.contact_id == contact.id, Enrollment.status == EnrollmentStatus.ACTIVE,
        Enrollment.next_due_at < until).values(next_due_at=until))
    session.execute(update(Message).where(
        Message.contact_id == contact.id, Message.status == MessageStatus.PENDING).values(next_attempt_at=until))
    return until


def resume(session: Session, contact: Contact, *, now: datetime) -> None:
    contact.paused_until = None
    contact.updated_at = now


def choose(session: Session, contact: Contact, keep: Iterable[int], *, now: datetime) -> dict[str, int]:
    """Stay in the campaigns in `keep`, leave the others; returns how many were left and rejoined."""
    keep = set(keep)
    left = rejoined = 0
    for topic in topics(session, contact):
        enrollment = session.scalars(select(Enrollment).where(
            Enrollment.contact_id == contact.id, Enrollment.campaign_id == topic["id"])
            .order_by(Enrollment.cycle.desc())).first()
        if topic["on"] and topic["id"] not in keep:
            enrollment.status, enrollment.exit_reason = EnrollmentStatus.STOPPED, LEFT_REASON
            enrollment.ended_at, enrollment.next_due_at = now, None
            left += 1
        elif topic["left"] and topic["id"] in keep:
            enrollment.status, enrollment.exit_reason, enrollment.ended_at = EnrollmentStatus.ACTIVE, None, None
            enrollment.next_due_at = max(now, contact.paused_until or now)
            rejoined += 1
    contact.preferences = {**(contact.preferences or {}),
                           "left_campaigns": sorted(t["id"] for t in topics(session, contact) if t["left"])}
    contact.updated_at = now
    return {"left": left, "rejoined": rejoined}
