"""Opens, clicks and unsubscribes arriving through tracking links, recorded against their message."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import EmailStatus, EventType, Message, MessageKind

from .composing import compiled_version, contact_context
from .events import record_event
from .lifecycle import set_email_status
from .rendering import sandbox
from .tracking import CLICK, OPEN, classify


def find_message(session: Session, public_id: str) -> Message | None:
    """The nurture message a token names; test sends (proofs) record nothing."""
    return session.scalar(select(Message).where(Message.public_id == public_id, Message.kind != MessageKind.TEST))


def record_open(session: Session, public_id: str, *, method: str, user_agent: str | None, ip: str | None,
                now: datetime) -> None:
    message = find_message(session, public_id)
    if message is None or message.contact is None or not message.contact.tracking_consent:
        return
    verdict = classify(kind=OPEN, method=method, user_agent=user_agent, ip=ip, sent_at=message.sent_at, at=now)
    record_event(session, message.contact, EventType.EMAIL_OPEN, now=now, message=message, source="pixel",
                 is_machine=verdict.is_machine, machine_reason=verdict.reason, user_agent=user_agent, ip=ip)


def link_target(services, message: Message, index: int) -> str | None:
    """The link's real URL, looked up from the step itself: a token can only lead where the email did."""
    if message.step_version is None:
        return None
    compiled = compiled_version(services, message.step_version)
    if not 0 <= index < len(compiled.links):
        return None
    url = compiled.links[index]
    if "{" in url and message.contact is not None:  # a link with merge fields, e.g. ?company={{ … }}
        url = sandbox().from_string(url).render(contact_context(message.contact))
    return url if url.startswith(("https://", "http://")) else None


def record_click(session: Session, services, public_id: str, index: int, *, method: str, user_agent: str | None,
                 ip: str | None, now: datetime) -> str | None:
    message = find_message(session, public_id)
    if message is None:
        return None
    target = link_target(services, message, index)
    if target is None:
        return None
    if message.contact is not None and message.contact.tracking_consent:
        verdict = classify(kind=CLICK, method=method, user_agent=user_agent, ip=ip, sent_at=message.sent_at, at=now)
        record_event(session, message.contact, EventType.EMAIL_CLICK, now=now, message=message, url=target,
                     source="link", is_machine=verdict.is_machine, machine_reason=verdict.reason,
                     user_agent=user_agent, ip=ip, properties={"link": index})
    return target


def unsubscribe(session: Session, public_id: str, *, now: datetime, how: str) -> bool:
    """Idempotent; effective before the next send because delivery re-checks the status."""
    message = find_message(session, public_id)
    if message is None or message.contact is None:
        return False
    contact = message.contact
    if contact.email_status == EmailStatus.ACTIVE:
        record_event(session, contact, EventType.UNSUBSCRIBE, now=now, message=message, source=how)
        set_email_status(session, contact, EmailStatus.UNSUBSCRIBED, cause=f"unsubscribed ({how})",
                         actor="contact", now=now)
    return True
