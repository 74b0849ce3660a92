"""Opens, clicks and unsubscribes arriving through tracking links, recorded against their message."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import EmailStatus, EventType, Message

from .events import record_event
from .lifecycle import set_email_status
from .rendering import compile_step, merge_context, sandbox
from .contacts import rule_fields
from .tracking import CLICK, OPEN, classify


def find_message(session: Session, public_id: str) -> Message | None:
    return session.scalar(select(Message).where(Message.public_id == public_id))


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
    version = message.step_version
    if version is None:
        return None
    cfg = services.config
    compiled = compile_step(version.content_hash, version.subject, version.preheader, version.body_markdown,
                            version.layout, str(cfg.templates_dir), cfg.postal_address)
    if not 0 <= index < len(compiled.links):
        return None
    url = compiled.links[index]
    if "{" in url and message.contact is not None:  # a link with merge fields, e.g. ?company={{ … }}
        contact = message.contact
        context = merge_context(rule_fields(contact), contact.persona.slug if contact.persona else None, contact.segment)
        url = sandbox().from_string(url).render(context)
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
