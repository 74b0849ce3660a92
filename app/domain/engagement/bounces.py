"""Bounce reports (DSN), complaints (ARF) and mailto unsubscribe requests arriving after delivery."""
from __future__ import annotations

import email
import re
from datetime import datetime
from email import policy
from email.message import Message as MimeMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Contact, EmailStatus, Event, EventType, Message, MessageStatus

from app.domain.errors import ValidationError
from app.domain.campaigns.enrollment import set_email_status
from app.domain.contacts.webhooks import emit_bounce
from app.domain.engagement.destinations import unsubscribe as unsubscribe_message

MESSAGE_ID = re.compile(r"<([0-9a-f]{32})@[^>]+>")
MAILTO_UNSUBSCRIBE = re.compile(r"\bunsubscribe-([0-9a-f]{32})\b")


def _original_message(session: Session, report: MimeMessage) -> Message | None:
    """Our message, found by the Message-ID quoted anywhere in the report."""
    for part in report.walk():
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers") and not text:
            text = str(part.get_payload()[0]) if isinstance(part.get_payload(), list) else str(part.get_payload())
        for public_id in MESSAGE_ID.findall(text):
            found = session.scalar(select(Message).where(Message.public_id == public_id))
            if found is not None:
                return found
    return None


def _is_complaint(report: MimeMessage) -> bool:
    return report.get_content_type() == "multipart/report" and report.get_param("report-type") == "feedback-report"


def _record(session: Session, contact: Contact, kind: str, message: Message | None, detail: dict, now: datetime) -> None:
    session.add(Event(contact_id=contact.id, type=kind, occurred_at=now, message_id=message.id if message else None,
                      campaign_id=message.campaign_id if message else None, step_id=message.step_id if message else None,
                      source="report", properties=detail, created_at=now))


def process_report(session: Session, raw: bytes, *, now: datetime) -> dict[str, list[str]]:
    """Apply one DSN or ARF report. Hard bounces and complaints suppress the address for good;
    soft bounces are recorded only. Returns the addresses by outcome."""
    if not raw or not raw.strip():
        raise ValidationError("body", "send the bounce or complaint report as the raw message (message/rfc822)")
    report = email.message_from_bytes(raw, policy=policy.compat32)
    if not report.get("From"):  # every DSN, ARF report and mail client's message has one
        raise ValidationError("body", "is not an email message with headers (no From header)")
    outcome: dict[str, list[str]] = {"hard": [], "soft": [], "complaints": [], "unknown": []}
    unsubscribe = MAILTO_UNSUBSCRIBE.search(str(report.get("Subject") or ""))
    if unsubscribe:  # the mailto: of List-Unsubscribe, for mail clients that do not use the HTTPS link
        done = unsubscribe_message(session, unsubscribe.group(1), now=now, how="mailto")
        outcome["unsubscribed" if done else "unknown"] = [unsubscribe.group(0)]
        return outcome
    original = _original_message(session, report)
    if _is_complaint(report):
        contact = original.contact if original else None
        if contact is None:
            outcome["unknown"].append("complaint for a message we cannot find")
            return outcome
        _record(session, contact, EventType.COMPLAINT, original, {"feedback_type": _feedback_type(report)}, now)
        set_email_status(session, contact, EmailStatus.COMPLAINED, cause="spam complaint (ARF)", actor="report", now=now)
        outcome["complaints"].append(contact.email)
        return outcome
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(report)  # flufl.bounce answers (temporary, permanent)
    except Exception:  # its heuristic detectors can trip over odd messages: then it is no report we can read
        raise ValidationError("body", "cannot be read as a bounce or complaint report") from None
    for kind, addresses in (("hard", permanent), ("soft", temporary)):
        for address in sorted(a.decode("utf-8", "replace").lower() for a in addresses):
            contact = session.scalar(select(Contact).where(Contact.email == address))
            if contact is None:
                outcome["unknown"].append(address)
                continue
            message = original if original is not None and original.to_email == address else None
            _record(session, contact, EventType.BOUNCE, message, {"kind": kind}, now)
            if kind == "hard":
                set_email_status(session, contact, EmailStatus.BOUNCED, cause="hard bounce (DSN)", actor="report", now=now)
                if message is not None:
                    message.status = MessageStatus.BOUNCED
            emit_bounce(session, contact, message, kind=kind, detail=f"{kind} bounce (DSN)", now=now)
            outcome[kind].append(address)
    return outcome


def _feedback_type(report: MimeMessage) -> str:
    for part in report.walk():
        if part.get_content_type() == "message/feedback-report":
            body = part.get_payload()
            text = str(body[0]) if isinstance(body, list) else str(body)
            match = re.search(r"Feedback-Type:\s*(\S+)", text, re.I)
            if match:
                return match.group(1).lower()
    return "abuse"
