"""Forms about a contact Nurture already knows: held until the contact confirms them (double opt-in).

An anonymous form never rewrites what is known about a contact on its own say-so. The submission
(fields, consent, event and answers) is held in a form_confirmations row, and the contact is emailed
a signed link (messages.confirmations) to a page that shows what was sent; a GET only shows it (link
scanners follow links), a POST confirms it. Confirming applies the entry through the same path a
form about a new contact takes (form_entries.apply_entry), event and all.

The event is held too, rather than recorded and flagged unconfirmed: every reader of events
(scoring, the fast track to sales, autoresponders, exit goals, reports, the CRM webhook) would
have to learn to skip such events, and one that did not would let a stranger hand a lead to sales.
A held event is invisible to all of them until the contact confirms; it is then recorded with the
time it was submitted.

At most one confirmation email goes to an address a day, and none once three went unanswered in a
month (a stranger cannot have us mail someone daily); the page its link opens lists every
submission about the contact still waiting, so a second form the same day can be confirmed too.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.infra.queue import owe
from app.models import Contact, EmailStatus, FormConfirmation, Message, MessageKind, MessageStatus

from app.domain.errors import NotFound, ValidationError
from app.domain.engagement.form_entries import Entry, apply_entry
from app.domain.messages.confirmations import SUBJECT, confirmation_key
from app.domain.messages.links import CONFIRM

CONFIRM_WITHIN = timedelta(days=7)   # a held submission older than this can no longer be confirmed
EMAIL_EVERY = timedelta(days=1)      # one confirmation email per address a day, however many forms
MAX_PENDING = 10                     # a flood of forms about one address holds no more than this
UNANSWERED = (3, timedelta(days=30))  # after this many confirmation emails unanswered in this time: no more
LABELS = {"first_name": "First name", "last_name": "Last name", "company": "Company", "title": "Job title",
          "industry": "Industry", "company_size": "Company size", "country": "Country", "timezone": "Time zone",
          "budget": "Budget", "timeline": "Buying timeline"}
ACTIONS = {"form_submitted": "Sent a form", "sign_up": "Signed up", "content_download": "Asked for a download",
           "demo_request": "Asked for a demo"}


@dataclass(frozen=True)
class Held:
    """One held submission as the confirmation page shows it."""
    id: str
    form: str
    submitted_at: datetime
    action: str
    fields: list[tuple[str, str]]
    answers: list[tuple[str, str]]
    confirmed: bool


@dataclass(frozen=True)
class Page:
    email: str
    held: list[Held]  # the link's own submission first, then the others still waiting
    done: str | None = None  # the submission just confirmed


def hold(session: Session, contact: Contact, entry: Entry, *, now: datetime, ip: str | None) -> FormConfirmation | None:
    """Hold the entry for the contact's confirmation and owe the confirmation email unless one went
    out in the last day (or the address cannot receive mail). None when too many already wait."""
    recent = session.scalars(select(FormConfirmation).where(
        FormConfirmation.contact_id == contact.id, FormConfirmation.created_at >= now - UNANSWERED[1])).all()
    if sum(1 for row in recent if row.confirmed_at is None and row.created_at >= now - CONFIRM_WITHIN) >= MAX_PENDING:
        return None
    row = FormConfirmation(public_id=secrets.token_hex(16), contact_id=contact.id, form=entry.form,
                           event_type=entry.event_type, fields=dict(entry.fields), answers=dict(entry.answers),
                           url=entry.url, ip=(ip or "")[:64] or None, created_at=now)
    session.add(row)
    if _may_email(contact, recent, now):
        message = Message(public_id=secrets.token_hex(16), kind=MessageKind.NOTIFICATION, contact_id=contact.id,
                          dedupe_key=confirmation_key(row.public_id), to_email=contact.email, subject=SUBJECT,
                          status=MessageStatus.PENDING, created_at=now)
        session.add(message)
        session.flush()
        row.message_id = message.id
        owe(session, message)
    session.flush()
    return row


def _may_email(contact: Contact, recent: list[FormConfirmation], now: datetime) -> bool:
    if contact.email_status in (EmailStatus.BOUNCED, EmailStatus.COMPLAINED):
        return False
    emailed = [row for row in recent if row.message_id is not None]
    if any(row.created_at > now - EMAIL_EVERY for row in emailed):
        return False
    return len(emailed) < UNANSWERED[0] or any(row.confirmed_at is not None for row in recent)


def _origin(session: Session, tokens, token: str, now: datetime) -> FormConfirmation | None:
    """The held submission a confirmation link names, while it may still be confirmed."""
    verified = tokens.verify(CONFIRM, token)
    if verified is None:
        return None
    row = session.scalar(select(FormConfirmation).where(FormConfirmation.public_id == verified[0]))
    if row is None or row.created_at < now - CONFIRM_WITHIN:
        return None
    return row


def _waiting(session: Session, contact_id: int, now: datetime) -> list[FormConfirmation]:
    return list(session.scalars(select(FormConfirmation).where(
        FormConfirmation.contact_id == contact_id, FormConfirmation.confirmed_at.is_(None),
        FormConfirmation.created_at >= now - CONFIRM_WITHIN).order_by(FormConfirmation.created_at)))


def page(session: Session, tokens, token: str, *, now: datetime, done: str | None = None) -> Page | None:
    """What the link's page shows, or None for a forged, unknown or expired link."""
    origin = _origin(session, tokens, token, now)
    if origin is None:
        return None
    rows = [origin] + [row for row in _waiting(session, origin.contact_id, now) if row.id != origin.id]
    if done and all(row.public_id != done for row in rows):
        rows += list(session.scalars(select(FormConfirmation).where(FormConfirmation.public_id == done)))
    return Page(email=session.get(Contact, origin.contact_id).email, held=[_shown(row) for row in rows], done=done)


def _shown(row: FormConfirmation) -> Held:
    fields = [(label, str(row.fields[name])) for name, label in LABELS.items() if name in row.fields]
    for kind, label in (("email", "Emails from us"), ("tracking", "Tracking")):
        given = (row.fields.get("consent") or {}).get(kind)
        if given is not None:
            fields.append((label, "yes" if given.get("granted") else "no"))
    return Held(id=row.public_id, form=row.form, submitted_at=row.created_at,
                action=ACTIONS.get(row.event_type, row.event_type), fields=fields,
                answers=sorted((row.answers or {}).items()), confirmed=row.confirmed_at is not None)


def confirm(session: Session, tokens, token: str, submission: str | None, *, now: datetime) -> Page:
    """Apply one held submission (the link's own, or another still waiting for the same contact), and
    return the page that says so. Confirming twice applies it once."""
    origin = _origin(session, tokens, token, now)
    if origin is None:
        raise NotFound("confirmation link")
    chosen = submission or origin.public_id
    row = origin if chosen == origin.public_id else next(
        (r for r in _waiting(session, origin.contact_id, now) if r.public_id == chosen), None)
    if row is None:
        raise ValidationError("submission", "is not one of the forms waiting for your confirmation")
    taken = session.execute(update(FormConfirmation).where(
        FormConfirmation.id == row.id, FormConfirmation.confirmed_at.is_(None)).values(confirmed_at=now)
        .execution_options(synchronize_session="fetch"))
    if taken.rowcount != 1:  # already confirmed, perhaps by a concurrent click: applied once
        return page(session, tokens, token, now=now, done=row.public_id)
    contact = session.get(Contact, row.contact_id)
    entry = Entry(form=row.form, email=contact.email, event_type=row.event_type,
                  fields={**row.fields, "email": contact.email}, answers=dict(row.answers or {}), url=row.url)
    apply_entry(session, entry, now=now, confirmed=True, occurred_at=row.created_at)
    return page(session, tokens, token, now=now, done=row.public_id)
