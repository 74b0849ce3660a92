"""Turning a message row into the bytes handed to SMTP, with safe headers."""
from __future__ import annotations

from email.headerregistry import Address
from functools import lru_cache
from email.utils import format_datetime, parseaddr
from datetime import datetime

from app.models import Message, MessageKind

from .contacts import rule_fields
from .mime import dkim_sign, multipart_alternative
from .rendering import RenderedEmail, compile_step, content_hash, merge_context, render


@lru_cache(maxsize=256)
def sender_address(mail_from: str, display_name: str | None = None) -> Address:
    name, addr = parseaddr(mail_from)
    local, _, domain = addr.partition("@")
    return Address(display_name=_one_line(display_name or name), username=local, domain=domain)


def _one_line(text: str | None) -> str:
    """Contact or author data never reaches a header raw: no CR, LF or NUL survives."""
    return " ".join((text or "").replace("\x00", " ").split())


def render_message(services, message: Message) -> RenderedEmail:
    if message.kind == MessageKind.NOTIFICATION:
        from .notices import render_notification  # new-lead notice, escalation, monthly review

        return render_notification(services, message)
    compiled = compiled_version(services, message.step_version)
    contact = message.contact
    tokens = services.tokens
    if message.kind == MessageKind.TEST:
        return preview(compiled, contact, prefix="[Test] ")
    track = contact.tracking_consent
    rendered = render(
        compiled, contact_context(contact),
        link_url=(lambda i: tokens.click_url(message.public_id, i)) if track else (lambda i: compiled.links[i]),
        pixel_url=tokens.open_url(message.public_id) if track else None,
        unsubscribe_url=tokens.unsubscribe_url(message.public_id),
    )
    if not track:
        return rendered
    from .tracking import with_honeypot  # the hidden link that tells scanners from people

    return RenderedEmail(rendered.subject, with_honeypot(rendered.html, tokens.honeypot_url(message.public_id)),
                         rendered.text)


def compiled_version(services, version):
    cfg = services.config
    return compile_step(version.content_hash, version.subject, version.preheader, version.body_markdown,
                        version.layout, str(cfg.templates_dir), cfg.postal_address)


def contact_context(contact) -> dict:
    return merge_context(rule_fields(contact), contact.persona.slug if contact.persona else None, contact.segment)


SAMPLE_CONTEXT = merge_context({"first_name": "Sam", "last_name": "Sample", "company": "Example Co",
                                "email": "sam@example.com"}, None, None)


def preview(compiled, contact=None, *, prefix: str = "") -> RenderedEmail:
    """A step as a given contact (or a sample one) would read it, with its real, untracked links."""
    out = render(compiled, contact_context(contact) if contact is not None else SAMPLE_CONTEXT,
                 link_url=lambda i: compiled.links[i], pixel_url=None, unsubscribe_url="#unsubscribe-preview")
    return RenderedEmail(subject=prefix + out.subject, html=out.html, text=out.text)


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
    """(Message-ID, bytes): multipart/alternative, safe headers, DKIM-signed when a key is configured."""
    cfg = services.config
    campaign = message.campaign
    sender = sender_address(cfg.mail_from, campaign.from_name if campaign else None)
    message_id = f"<{message.public_id}@{sender.domain}>"
    headers = [
        ("From", str(sender)),
        ("To", message.to_email),
        ("Subject", _one_line(rendered.subject)),
        ("Reply-To", cfg.reply_to or sender.addr_spec),
    ]
    generated = [("Date", format_datetime(now)), ("Message-ID", message_id)]
    if message.kind != MessageKind.NOTIFICATION:
        unsubscribe = services.tokens.unsubscribe_url(message.public_id)
        generated += [
            ("List-Unsubscribe", f"<{unsubscribe}>, <mailto:unsubscribe@{sender.domain}?subject=unsubscribe-{message.public_id}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Feedback-ID", f"{message.campaign_id}:{message.step_id}:{message.kind}:nurture"),
        ]
    raw = multipart_alternative(headers, generated, rendered.text, rendered.html, message.public_id)
    if cfg.dkim_private_key:
        raw = dkim_sign(raw, selector=cfg.dkim_selector, domain=sender.domain, private_key=cfg.dkim_private_key)
    return message_id, raw


def version_hash(subject: str, preheader: str, body: str, layout: str) -> str:
    return content_hash(subject, preheader, body, layout)
