"""Turning a message row into the bytes handed to SMTP, with safe headers."""
from __future__ import annotations

from dataclasses import replace
from email.headerregistry import Address
from functools import lru_cache
from email.utils import format_datetime, parseaddr
from datetime import datetime

from app.models import Message, MessageKind

from app.domain.contacts.records import rule_fields
from app.domain.messages.mime import (LIST_UNSUBSCRIBE_POST, dkim_sign, fold_header, multipart_message, plain_header, quoted_printable,
                   recipient_header, subject_header)
from app.domain.messages.rendering import (NotPiecewise, RenderedEmail, TemplateError, compile_step, content_hash, merge_context,
                        personal_links, render, render_pieces, render_plainly)
from app.domain.messages.links import with_honeypot  # the hidden link that tells scanners from people


@lru_cache(maxsize=256)
def sender_address(mail_from: str, display_name: str | None = None) -> Address:
    name, addr = parseaddr(mail_from)
    local, _, domain = addr.partition("@")
    return Address(display_name=_one_line(display_name or name), username=local, domain=domain)


def _one_line(text: str | None) -> str:
    """Contact or author data never reaches a header raw: no CR, LF or NUL survives."""
    return " ".join((text or "").replace("\x00", " ").split())


def render_message(services, message: Message) -> RenderedEmail:
    """A campaign step or a test send (proof) of one, for its contact."""
    compiled = compiled_version(services, message.step_version)
    if message.kind == MessageKind.TEST:
        return preview(compiled, message.contact, prefix="[Test] ")
    return with_safe_subject(compiled, message.contact, _render_for(services, message, compiled))


def with_safe_subject(compiled, contact, rendered: RenderedEmail) -> RenderedEmail:
    """Text an anonymous form typed in, never confirmed by the contact, is not merged into a subject
    line (the inbox shows it as ours: "Welcome to …, URGENT verify your account at …"). The subject
    is merged again without those fields, so it reads as for a contact who left them empty."""
    unconfirmed = getattr(contact, "unconfirmed_fields", None) if contact is not None else None
    if not unconfirmed:
        return rendered
    fields = {name: (None if name in unconfirmed else value) for name, value in rule_fields(contact).items()}
    context = merge_context(fields, contact.persona.slug if contact.persona else None, contact.segment)
    try:
        subject = " ".join(compiled.subject.render(context).split())
    except Exception as exc:
        raise TemplateError(f"cannot render for this contact: {exc}") from exc
    return replace(rendered, subject=subject)


def _render_for(services, message: Message, compiled) -> RenderedEmail:
    contact = message.contact
    tokens = services.tokens
    context = contact_context(contact)
    if contact.tracking_consent:
        urls = tokens.email_urls(message.public_id, len(compiled.links))
        try:
            return render_pieces(compiled, context, click_urls=urls.clicks, pixel_url=urls.open,
                                 unsubscribe_url=urls.unsubscribe, honeypot_url=urls.honeypot)
        except NotPiecewise:
            rendered = render_plainly(compiled, context, link_url=lambda i: tokens.click_url(message.public_id, i),
                                      pixel_url=urls.open, unsubscribe_url=urls.unsubscribe)
            return RenderedEmail(rendered.subject, with_honeypot(rendered.html, urls.honeypot), rendered.text)
    unsubscribe_url = tokens.unsubscribe_url(message.public_id)
    try:
        return render_pieces(compiled, context, click_urls=None, pixel_url=None, unsubscribe_url=unsubscribe_url,
                             honeypot_url=None)
    except NotPiecewise:
        return render_plainly(compiled, context, link_url=personal_links(compiled, context), pixel_url=None,
                              unsubscribe_url=unsubscribe_url)


_compiled_by_version: dict[tuple, object] = {}


def compiled_version(services, version):
    """The step version compiled once per process. Looked up by id and content hash first: building
    the content key costs more per recipient than the rest of the lookup."""
    cfg = services.config
    key = (getattr(version, "id", None), version.content_hash, cfg.templates_dir, cfg.postal_address)
    if key[0] is not None and key in _compiled_by_version:
        return _compiled_by_version[key]
    compiled = compile_step(version.content_hash, version.subject, version.preheader, version.body_markdown,
                            version.layout, str(cfg.templates_dir), cfg.postal_address)
    if key[0] is not None:
        if len(_compiled_by_version) >= 512:
            _compiled_by_version.clear()
        _compiled_by_version[key] = compiled
    return compiled


def contact_context(contact) -> dict:
    return merge_context(rule_fields(contact), contact.persona.slug if contact.persona else None, contact.segment)


SAMPLE_CONTEXT = merge_context({"first_name": "Sam", "last_name": "Sample", "company": "Example Co",
                                "email": "sam@example.com"}, None, None)


def preview(compiled, contact=None, *, prefix: str = "") -> RenderedEmail:
    """A step as a given contact (or a sample one) would read it, with its real, untracked links."""
    context = contact_context(contact) if contact is not None else SAMPLE_CONTEXT
    out = render(compiled, context, link_url=personal_links(compiled, context), pixel_url=None,
                 unsubscribe_url="#unsubscribe-preview")
    out = with_safe_subject(compiled, contact, out)
    return RenderedEmail(subject=prefix + out.subject, html=out.html, text=out.text)


@lru_cache(maxsize=256)
def sender_headers(mail_from: str, display_name: str | None, reply_to: str | None) -> tuple[bytes, bytes, str]:
    """(From, Reply-To, domain): the same for every recipient of a campaign, so folded once."""
    sender = sender_address(mail_from, display_name)
    return fold_header("From", str(sender)), fold_header("Reply-To", reply_to or sender.addr_spec), sender.domain


@lru_cache(maxsize=4)
def _date_header(second: datetime, utc_offset) -> bytes:
    """Messages of one batch share their second. The offset is part of the key because equal
    instants in different zones compare equal yet are written differently."""
    return plain_header("Date", format_datetime(second))


@lru_cache(maxsize=1024)
def _feedback_id(campaign_id, step_id, kind) -> bytes:
    return plain_header("Feedback-ID", f"{campaign_id}:{step_id}:{kind}:nurture")


def message_id_header(public_id: str, mail_from: str) -> str:
    """The Message-ID a message goes out with; derivable later from its row (the journal sweeper does)."""
    return f"<{public_id}@{sender_address(mail_from).domain}>"


def build_mime(services, message: Message, rendered: RenderedEmail, now: datetime) -> tuple[str, bytes]:
    """(Message-ID, bytes): multipart/alternative, safe headers, DKIM-signed when a key is configured."""
    cfg = services.config
    campaign = message.campaign
    from_header, reply_to_header, domain = sender_headers(cfg.mail_from, campaign.from_name if campaign else None,
                                                          cfg.reply_to)
    public_id = message.public_id
    message_id = message_id_header(public_id, cfg.mail_from)
    head = [from_header, recipient_header(message.to_email), subject_header(_one_line(rendered.subject)),
            reply_to_header, _date_header(now.replace(microsecond=0), now.utcoffset()), plain_header("Message-ID", message_id)]
    bodies = rendered.bodies_qp()
    if message.kind != MessageKind.NOTIFICATION:
        unsubscribe = bodies.unsubscribe_url if bodies is not None else services.tokens.unsubscribe_url(public_id)
        head += [
            plain_header("List-Unsubscribe", f"<{unsubscribe}>, <mailto:unsubscribe@{domain}?subject=unsubscribe-{public_id}>"),
            LIST_UNSUBSCRIBE_POST,
            _feedback_id(message.campaign_id, message.step_id, message.kind),
        ]
    if bodies is not None:
        raw = multipart_message(b"".join(head), public_id, bodies.text_qp, bodies.html_qp)
    else:
        raw = multipart_message(b"".join(head), public_id, quoted_printable(rendered.text),
                                quoted_printable(rendered.html))
    if cfg.dkim_private_key:
        raw = dkim_sign(raw, selector=cfg.dkim_selector, domain=domain, private_key=cfg.dkim_private_key)
    return message_id, raw


def version_hash(subject: str, preheader: str, body: str, layout: str) -> str:
    return content_hash(subject, preheader, body, layout)
