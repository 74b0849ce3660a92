"""Forward to a colleague: the prospect's forward is recorded; the colleague reads an untracked copy."""
from __future__ import annotations

from datetime import datetime

from app.models import Event, EventType, Message

from app.domain.messages.composing import compiled_version, contact_context
from app.domain.engagement.events import record_event
from app.domain.messages.rendering import personal_links, render


def record_forward(session, message: Message, *, now: datetime, user_agent: str | None, ip: str | None) -> Event | None:
    """A forward counts as engagement of the contact the email was sent to (if they allow tracking)."""
    contact = message.contact
    if contact is None or not contact.tracking_consent:
        return None
    return record_event(session, contact, EventType.FORWARD, now=now, message=message, source="forward",
                        user_agent=user_agent, ip=ip, properties={"via": "mail app"})


def web_version(services, message: Message) -> str | None:
    """The email's HTML without pixel, tracked links or a working unsubscribe (it is someone else's)."""
    if message.step_version is None or message.contact is None:
        return None
    compiled = compiled_version(services, message.step_version)
    context = contact_context(message.contact)
    return render(compiled, context, link_url=personal_links(compiled, context), pixel_url=None,
                  unsubscribe_url="#").html
