"""What an owed message says, by its kind: campaign steps and test sends from their step version,
notices to sales (new lead, escalation, monthly review) from the handoff's own layouts, and the
email asking a contact to confirm a form (also a notification) from its own trusted layout."""
from __future__ import annotations

from app.models import Message, MessageKind

from app.domain.handoff.notices import render_notification
from app.domain.messages.composing import render_message
from app.domain.messages.confirmations import is_confirmation, render_confirmation
from app.domain.messages.rendering import RenderedEmail


def message_content(services, message: Message) -> RenderedEmail:
    if message.kind == MessageKind.NOTIFICATION:
        if is_confirmation(message):
            return render_confirmation(services, message)
        return render_notification(services, message)
    return render_message(services, message)
