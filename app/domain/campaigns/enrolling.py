"""Enrolling a contact in a campaign on request (the API), removing it, and a contact's enrollments.
Each refusal says why: the campaign is not active, the contact may not receive it, it is already in."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.campaigns.catalog import find_campaign
from app.domain.campaigns.enrollment import active_steps, enroll, may_receive
from app.domain.errors import Conflict, NotFound
from app.models import Campaign, CampaignStatus, Contact, Enrollment, EnrollmentStatus


def _contact(session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id}")
    return contact


def enroll_contact(session: Session, contact_id: int, campaign_ref: int | str, *, now: datetime,
                   actor: str) -> Enrollment:
    contact, campaign = _contact(session, contact_id), find_campaign(session, campaign_ref)
    if campaign.status != CampaignStatus.ACTIVE:
        raise Conflict(f"campaign {campaign.slug} is {campaign.status}, not active")
    if not active_steps(campaign):
        raise Conflict(f"campaign {campaign.slug} has no active step to send")
    if not may_receive(contact, campaign):
        raise Conflict(f"contact {contact.id} may not receive {campaign.slug} (email status {contact.email_status}, "
                       f"stage {contact.stage}, email consent {'given' if contact.email_consent else 'withdrawn'})")
    enrollment = enroll(session, contact, campaign, now=now, source="api", actor=actor)
    if enrollment is None:
        already = "is in it" if _active(session, contact, campaign) else "has been through this drip (drips run once)"
        raise Conflict(f"contact {contact.id} {already}")
    return enrollment


def _active(session: Session, contact: Contact, campaign: Campaign) -> bool:
    return session.scalar(select(Enrollment.id).where(
        Enrollment.contact_id == contact.id, Enrollment.campaign_id == campaign.id,
        Enrollment.status == EnrollmentStatus.ACTIVE)) is not None


def remove_enrollment(session: Session, enrollment_id: int, *, now: datetime, actor: str) -> Enrollment:
    """Stop it: nothing more of the campaign is planned for the contact. An ended enrollment stays as it is."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound(f"enrollment {enrollment_id}")
    if enrollment.status == EnrollmentStatus.ACTIVE:
        enrollment.status = EnrollmentStatus.STOPPED
        enrollment.exit_reason = f"removed by {actor}"[:200]
        enrollment.ended_at = now
        enrollment.next_due_at = None
    return enrollment


def contact_enrollments(session: Session, contact_id: int) -> list[Enrollment]:
    contact = _contact(session, contact_id)
    return list(session.scalars(select(Enrollment).where(Enrollment.contact_id == contact.id)
                                .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())))


