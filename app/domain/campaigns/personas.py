"""Which persona and segment a contact belongs to, and entering the persona's campaigns."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Campaign, CampaignKind, CampaignStatus, Contact, Persona, Segment

from app.domain.contacts import rules
from app.domain.contacts.records import rule_fields
from app.domain.campaigns.enrollment import enroll


def match_first(candidates: Sequence[Any], fields: Mapping[str, Any]) -> Any | None:
    """The highest-priority candidate (persona or segment) whose rules hold; ties keep list order."""
    for candidate in sorted(candidates, key=lambda c: -c.priority):
        if candidate.rules and rules.evaluate(candidate.rules, fields):
            return candidate
    return None


def check_examples(rule: Mapping[str, Any], examples: Iterable[Mapping[str, Any]]) -> list[str]:
    """Documented example contacts double as tests of a persona's rules."""
    problems = []
    for i, example in enumerate(examples):
        fields = dict(example.get("contact") or {})
        if "email" in fields and "email_domain" not in fields:
            fields["email_domain"] = str(fields["email"]).rsplit("@", 1)[-1]
        expected = bool(example.get("matches", True))
        if rules.evaluate(rule, fields) != expected:
            verb = "should match but does not" if expected else "should not match but does"
            problems.append(f"examples[{i}] {fields}: {verb}")
    return problems


def assign_persona(session: Session, contact: Contact, *, now: datetime, actor: str) -> Persona | None:
    """Re-match persona and segment; a contact entering a persona enters its active drips."""
    fields = rule_fields(contact)
    personas = session.scalars(select(Persona).where(Persona.active.is_(True))).all()
    persona = match_first(personas, fields)
    segment = match_first(session.scalars(select(Segment)).all(), fields)
    contact.segment = segment.slug if segment else None
    if persona is not None and contact.persona_id != persona.id:
        contact.persona_id = persona.id
        contact.persona = persona
        drips = session.scalars(select(Campaign).where(
            Campaign.persona_id == persona.id, Campaign.kind == CampaignKind.DRIP,
            Campaign.status == CampaignStatus.ACTIVE)).all()
        for campaign in drips:
            enroll(session, contact, campaign, now=now, source="persona", actor=actor)
    return persona
