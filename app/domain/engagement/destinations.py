"""Where tracking links lead, and unsubscribes: the parts of engagement that need the database at once.

Opens, clicks, QR scans and page views are recorded through the buffered path (buffer → drain →
recording); an unsubscribe is written synchronously, so it is effective before the next send.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import EmailStatus, EventType, Message, MessageKind
from app.models.event import QrCode

from app.domain.contacts.inputs import redirect_location
from app.domain.messages.composing import compiled_version, contact_context
from app.domain.engagement.events import record_event
from app.domain.campaigns.enrollment import set_email_status
from app.domain.messages.rendering import personal_link
from app.domain.engagement.site import decorate


def find_message(session: Session, public_id: str) -> Message | None:
    """The nurture message a token names; test sends (proofs) record nothing."""
    return session.scalar(select(Message).where(Message.public_id == public_id, Message.kind != MessageKind.TEST))


def link_target(services, message: Message, index: int) -> str | None:
    """The link's real URL, looked up from the step itself: a token can only lead where the email did."""
    if message.step_version is None:
        return None
    compiled = compiled_version(services, message.step_version)
    if not 0 <= index < len(compiled.links):
        return None
    url = compiled.links[index]
    if "{" in url and message.contact is not None:  # a link with merge fields, e.g. ?company={{ … }}
        url = personal_link(url, contact_context(message.contact))
    return url if url.startswith(("https://", "http://")) else None


def click_destination(services, session: Session, public_id: str, index: int) -> str | None:
    """Where a click goes: the email's own link, with the contact token when it leads to the marketer's site."""
    message = find_message(session, public_id)
    if message is None:
        return None
    target = link_target(services, message, index)
    return decorate(services, session, target, message.contact) if target else None


def qr_destination(session: Session, public_id: str) -> str | None:
    code = session.scalar(select(QrCode).where(QrCode.public_id == public_id))
    return redirect_location(code.url) if code is not None else None  # rows stored before URLs were checked too


def unsubscribe(session: Session, public_id: str, *, now: datetime, how: str) -> bool:
    """Idempotent; effective before the next send because delivery re-checks the status.
    Works for as long as the message row exists, whatever happened to its campaign."""
    message = find_message(session, public_id)
    if message is None or message.contact is None:
        return False
    contact = message.contact
    if contact.email_status == EmailStatus.ACTIVE:
        record_event(session, contact, EventType.UNSUBSCRIBE, now=now, message=message, source=how)
        set_email_status(session, contact, EmailStatus.UNSUBSCRIBED, cause=f"unsubscribed ({how})",
                         actor="contact", now=now)
    return True
