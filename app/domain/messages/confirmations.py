"""The email that asks a contact to confirm a form submitted with their address (double opt-in).

It is rendered at send time from our own trusted layout (templates/email/confirmations/, out of
reach of a campaign's layout, which is a plain name), and carries nothing a visitor typed: not the
form's name, not the fields. Those are shown only on the page its signed link opens. The message
row is a notification (no List-Unsubscribe, always wanted) whose dedupe key names the held
submission: confirm:<public id>.
"""
from __future__ import annotations

from app.models import Message

from app.domain.messages.rendering import RenderedEmail, layout_environment

KEY_PREFIX = "confirm:"
SUBJECT = "Please confirm the form you sent us"


def confirmation_key(public_id: str) -> str:
    return KEY_PREFIX + public_id


def is_confirmation(message: Message) -> bool:
    return (message.dedupe_key or "").startswith(KEY_PREFIX)


def render_confirmation(services, message: Message) -> RenderedEmail:
    public_id = (message.dedupe_key or "")[len(KEY_PREFIX):]
    env = layout_environment(str(services.config.templates_dir))
    context = {"confirm_url": services.tokens.confirm_url(public_id), "postal_address": services.config.postal_address,
               "sent_on": message.created_at.strftime("%d %B %Y")}
    return RenderedEmail(subject=message.subject,
                         html=env.get_template("email/confirmations/confirm.html").render(context),
                         text=env.get_template("email/confirmations/confirm.txt").render(context))
