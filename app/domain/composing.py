"""Turning a message row into the bytes handed to SMTP, with safe headers."""
from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from datetime import datetime

from app.models import Message, MessageKind

from .contacts import rule_fields
from .rendering import RenderedEmail, compile_step, content_hash, merge_context, render


def sender_address(mail_from: str, display_name: str | None = None) -> Address:
    name, addr = parseaddr(mail_from)
    local, _, domain = addr.partition("@")
    return Address(display_name=_one_line(display_name or name), username=local, domain=domain)


def _one_line(text: str | None) -> str:
    """Contact or author data never reaches a header raw: no CR, LF or NUL survives."""
    return " ".join((text or "").replace("\x00", " ").split())


def render_message(services, message: Message) -> RenderedEmail:
    if message.kind == MessageKind.NOTIFICATION:
        return render_handoff_notice(services, message)
    version = message.step_version
    cfg = services.config
    compiled = compile_step(version.content_hash, version.subject, version.preheader, version.body_markdown,
                            version.layout, str(cfg.templates_dir), cfg.postal_address)
    contact = message.contact
    tokens = services.tokens
    track = contact.tracking_consent
    context = merge_context(rule_fields(contact), contact.persona.slug if contact.persona else None, contact.segment)
    return render(
        compiled, context,
        link_url=(lambda i: tokens.click_url(message.public_id, i)) if track else (lambda i: compiled.links[i]),
        pixel_url=tokens.open_url(message.public_id) if track else None,
        unsubscribe_url=tokens.unsubscribe_url(message.public_id),
    )


def render_handoff_notice(services, message: Message) -> RenderedEmail:
    """The rep's notice, from our own trusted layout (autoescaped), not an author's template."""
    from .rendering import layout_environment

    handoff = message.handoff
    env = layout_environment(str(services.config.templates_dir))
    context = {"handoff": handoff, "contact": handoff.contact, "report": handoff.report,
               "report_url": f"{services.config.base_url}/handoffs/{handoff.id}",
               "respond_by": handoff.respond_by.strftime("%Y-%m-%d %H:%M UTC") if handoff.respond_by else "soon"}
    return RenderedEmail(subject=message.subject, html=env.get_template("email/handoff.html").render(context),
                         text=env.get_template("email/handoff.txt").render(context))


def build_mime(services, message: Message, rendered: RenderedEmail, now: datetime) -> tuple[str, bytes]:
    """(Message-ID, bytes). Built with the SMTP policy, which refuses header injection."""
    cfg = services.config
    campaign = message.campaign
    sender = sender_address(cfg.mail_from, campaign.from_name if campaign else None)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = Address(username=message.to_email.split("@")[0], domain=message.to_email.split("@")[1])
    msg["Subject"] = _one_line(rendered.subject)
    msg["Date"] = format_datetime(now)
    message_id = f"<{message.public_id}@{sender.domain}>"
    msg["Message-ID"] = message_id
    if message.kind != MessageKind.NOTIFICATION:
        unsubscribe = services.tokens.unsubscribe_url(message.public_id)
        msg["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:unsubscribe@{sender.domain}?subject=unsubscribe-{message.public_id}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Feedback-ID"] = f"{message.campaign_id}:{message.step_id}:{message.kind}:nurture"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return message_id, msg.as_bytes()


def version_hash(subject: str, preheader: str, body: str, layout: str) -> str:
    return content_hash(subject, preheader, body, layout)
