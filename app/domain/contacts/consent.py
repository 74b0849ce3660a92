"""Permission to email and permission to track, recorded separately, each with basis, source and time.

Every change is kept in the contact's history (stage_transitions, attribute email_consent or
tracking_consent) with who made it. Without tracking consent an email carries no pixel and no
rewritten links, and hits that still arrive are dropped; without email consent nothing is sent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session

from app.models import Contact, StageTransition

from app.domain.contacts.inputs import parse_time
from app.domain.errors import ValidationError

KINDS = ("email", "tracking")
BASES = ("consent", "legitimate_interest", "contract", "legal_obligation")


def parse_consent(value: Any) -> dict[str, dict[str, Any]]:
    """{"email": true | {"granted", "basis", "source", "at"}, "tracking": …} → validated mapping."""
    if not isinstance(value, Mapping):
        raise ValidationError("consent", 'must be an object such as {"email": {"granted": true, "basis": "consent"}}')
    out = {}
    for kind, entry in value.items():
        field = f"consent.{kind}"
        if kind not in KINDS:
            raise ValidationError(field, "is not a kind of consent (email or tracking)")
        if isinstance(entry, bool):
            entry = {"granted": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("granted"), bool):
            raise ValidationError(f"{field}.granted", "must be true or false")
        unknown = sorted(set(entry) - {"granted", "basis", "source", "at"})
        if unknown:
            raise ValidationError(f"{field}.{unknown[0]}", "is not part of a consent record (granted, basis, source, at)")
        basis = entry.get("basis")
        if basis is not None and basis not in BASES:
            raise ValidationError(f"{field}.basis", f"must be one of {', '.join(BASES)}")
        source = entry.get("source")
        if source is not None and (not isinstance(source, str) or not 0 < len(source) <= 200 or "\n" in source):
            raise ValidationError(f"{field}.source", "must be a one-line string of at most 200 characters")
        at = parse_time(entry.get("at"), f"{field}.at")
        out[kind] = {"granted": entry["granted"], "basis": basis, "source": source, "at": at}
    return out


def apply_consent(session: Session, contact: Contact, consent: Mapping[str, Mapping[str, Any]], *, now: datetime,
                  source: str, actor: str, record: bool = True) -> bool:
    """Record each given permission with its basis, source and time. Returns whether email consent was
    withdrawn, which stops the contact's drips (campaigns.enrollment.apply_consent)."""
    withdrew_email = False
    for kind, entry in consent.items():
        before = getattr(contact, f"{kind}_consent")
        setattr(contact, f"{kind}_consent", entry["granted"])
        setattr(contact, f"{kind}_consent_basis", entry["basis"] or ("consent" if entry["granted"] else None))
        setattr(contact, f"{kind}_consent_source", entry["source"] or source)
        setattr(contact, f"{kind}_consent_at", entry["at"] or now)
        if record and contact.id is not None and before != entry["granted"]:
            session.add(StageTransition(contact_id=contact.id, attribute=f"{kind}_consent",
                                        from_value="granted" if before else "withdrawn",
                                        to_value="granted" if entry["granted"] else "withdrawn",
                                        cause=f"{entry['basis'] or 'consent'} via {entry['source'] or source}",
                                        actor=actor, created_at=now))
        if kind == "email" and before and not entry["granted"] and contact.id is not None:
            withdrew_email = True
    return withdrew_email


def consent_json(contact: Contact) -> dict[str, Any]:
    def one(kind: str) -> dict[str, Any]:
        at = getattr(contact, f"{kind}_consent_at")
        return {"granted": getattr(contact, f"{kind}_consent"), "basis": getattr(contact, f"{kind}_consent_basis"),
                "source": getattr(contact, f"{kind}_consent_source"), "at": at.isoformat() if at else None}
    return {kind: one(kind) for kind in KINDS}


def record_consent(session: Session, contact: Contact, consent: Mapping[str, Mapping[str, Any]], *, now: datetime,
                   source: str, actor: str, created: bool) -> bool:
    """What upsert records: the given permissions; for a new contact, also the implied default
    (legitimate interest, from where it came) for each permission not given, so none is unexplained."""
    if created:
        for kind in KINDS:
            if kind not in consent:
                setattr(contact, f"{kind}_consent_basis", "legitimate_interest")
                setattr(contact, f"{kind}_consent_source", source)
                setattr(contact, f"{kind}_consent_at", now)
    if not consent:
        return False
    return apply_consent(session, contact, consent, now=now, source=source, actor=actor, record=not created)
