"""Applying a validated campaign library to the database, idempotently."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Campaign, Persona, Step, StepVersion

from app.domain.campaigns.files import CampaignFile, Library, load_library
from app.domain.errors import ValidationError
from app.domain.qualification.agreement import campaign_problems
from app.domain.qualification.agreement import apply_agreement


class SyncError(ValidationError):
    def __init__(self, problems: list[str]):
        super().__init__("campaigns", f"{len(problems)} problem(s); nothing was applied")
        self.problems = problems


def sync_directory(session: Session, directory: Path, *, templates_dir: Path, postal_address: str,
                   now: datetime) -> dict[str, int]:
    library, problems = load_library(directory, templates_dir, postal_address)
    known_personas = set(library.personas) | set(session.scalars(select(Persona.slug)).all())
    for campaign in library.campaigns:
        persona = campaign.data.get("persona")
        if persona and persona not in known_personas:
            problems.append(f"{campaign.path}:1: persona {persona!r} is not defined (personas/{persona}.yml)")
    if library.agreement is not None:
        known_campaigns = {c.slug for c in library.campaigns} | set(session.scalars(select(Campaign.slug)).all())
        problems.extend(f"{directory / 'agreement.yml'}:1: {p}" for p in campaign_problems(library.agreement, known_campaigns))
    if problems:
        raise SyncError(list(problems))
    return apply_library(session, library, now=now)


def apply_library(session: Session, library: Library, *, now: datetime) -> dict[str, int]:
    counts = {"personas": 0, "campaigns": 0, "step_versions": 0, "agreement": 0}
    for slug, data in library.personas.items():
        counts["personas"] += _upsert_persona(session, slug, data, now)
    session.flush()
    for campaign_file in library.campaigns:
        changed, versions = _upsert_campaign(session, campaign_file, now)
        counts["campaigns"] += changed
        counts["step_versions"] += versions
    if library.agreement is not None:
        counts["agreement"] = _apply_agreement(session, library.agreement, now)
    session.flush()
    return counts


def _assign(obj, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _upsert_persona(session: Session, slug: str, data: dict, now: datetime) -> int:
    persona = session.scalar(select(Persona).where(Persona.slug == slug))
    values = {"name": data["name"], "description": data.get("description", ""), "priority": data.get("priority", 0),
              "rules": data["rules"], "examples": data.get("examples") or [], "active": True}
    if persona is None:
        session.add(Persona(slug=slug, created_at=now, updated_at=now, source_path=data["source_path"], **values))
        return 1
    persona.source_path = data["source_path"]  # where it was last read from; not a change of content
    if _assign(persona, values):
        persona.updated_at = now
        return 1
    return 0


def _upsert_campaign(session: Session, source: CampaignFile, now: datetime) -> tuple[int, int]:
    data = source.data
    persona_id = session.scalar(select(Persona.id).where(Persona.slug == data["persona"])) if data.get("persona") else None
    values = {"name": data["name"], "description": data.get("description", ""), "kind": data.get("kind", "drip"),
              "status": data.get("status", "active"), "persona_id": persona_id, "trigger_event": data.get("trigger"),
              "timezone": data.get("timezone", "UTC"), "send_window": data.get("send_window") or {},
              "exit_goals": data.get("exit_goals") or [], "from_name": data.get("from_name"),
              "layout": data.get("layout", "default"), "rate_per_minute": data.get("rate_per_minute")}
    campaign = session.scalar(select(Campaign).where(Campaign.slug == source.slug))
    changed = 0
    if campaign is None:
        campaign = Campaign(slug=source.slug, created_at=now, updated_at=now, source_path=source.path, **values)
        session.add(campaign)
        session.flush()
        changed = 1
    else:
        campaign.source_path = source.path  # where it was last read from; not a change of content
        if _assign(campaign, values):
            campaign.updated_at = now
            changed = 1
    versions = 0
    existing = {s.key: s for s in session.scalars(select(Step).where(Step.campaign_id == campaign.id))}
    for position, step_file in enumerate(source.steps):
        step = existing.pop(step_file.key, None)
        if step is None:
            step = Step(campaign_id=campaign.id, key=step_file.key, position=position, active=True)
            session.add(step)
            session.flush()
        changed |= _assign(step, {"position": position, "active": True})
        current = step.current_version
        if current is None or current.content_hash != step_file.content_hash:
            number = (session.scalar(select(func.max(StepVersion.version)).where(StepVersion.step_id == step.id)) or 0) + 1
            version = StepVersion(step_id=step.id, version=number, subject=step_file.subject,
                                  preheader=step_file.preheader, body_markdown=step_file.body, layout=step_file.layout,
                                  delay_seconds=step_file.delay_seconds, conditions=step_file.conditions,
                                  content_hash=step_file.content_hash, created_at=now)
            session.add(version)
            session.flush()
            step.current_version = version
            versions += 1
    for removed in existing.values():  # kept for history and in-flight messages, but no longer sent
        changed |= _assign(removed, {"active": False})
    return changed, versions


def _apply_agreement(session: Session, agreement: dict, now: datetime) -> int:
    return apply_agreement(session, agreement, now)
