"""Personas, segments, campaigns and their steps as they stand, looked up by id or slug for the API."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.domain.errors import NotFound, ValidationError
from app.models import Campaign, CampaignKind, CampaignStatus, Persona, Segment, Step, StepVersion
from app.models.base import MAX_ROW_ID


def list_personas(session: Session) -> list[Persona]:
    return list(session.scalars(select(Persona).order_by(Persona.priority.desc(), Persona.slug)))


def get_persona(session: Session, slug: str) -> Persona:
    persona = session.scalar(select(Persona).where(Persona.slug == slug))
    if persona is None:
        raise NotFound(f"persona {slug!r}")
    return persona


def list_segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.priority.desc(), Segment.slug)))


def list_campaigns(session: Session, *, status: str | None = None, kind: str | None = None) -> list[Campaign]:
    query = select(Campaign).options(selectinload(Campaign.persona)).order_by(Campaign.slug)
    for column, value, allowed, field in ((Campaign.status, status, CampaignStatus, "status"),
                                          (Campaign.kind, kind, CampaignKind, "kind")):
        if value:
            if value not in {str(a) for a in allowed}:
                raise ValidationError(field, f"must be one of {', '.join(str(a) for a in allowed)}")
            query = query.where(column == value)
    return list(session.scalars(query))


def find_campaign(session: Session, ref: int | str) -> Campaign:
    """A campaign by id (a number, or digits) or slug."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        campaign = session.get(Campaign, ref) if 0 < ref <= MAX_ROW_ID else None
    elif isinstance(ref, str) and ref.isascii() and ref.isdigit() and len(ref) <= 19:
        campaign = session.get(Campaign, int(ref)) if 0 < int(ref) <= MAX_ROW_ID else None
    elif isinstance(ref, str):
        campaign = session.scalar(select(Campaign).where(Campaign.slug == ref))
    else:
        raise ValidationError("campaign", "give a campaign's id or slug")
    if campaign is None:
        raise NotFound(f"campaign {ref!r}")
    return campaign


def get_step(session: Session, step_id: int) -> Step:
    step = session.get(Step, step_id)
    if step is None:
        raise NotFound(f"step {step_id}")
    return step


def step_versions(session: Session, step: Step) -> list[StepVersion]:
    """Every version of the step, newest first (in-flight messages keep the version they were planned with)."""
    return list(session.scalars(select(StepVersion).where(StepVersion.step_id == step.id)
                                .order_by(StepVersion.version.desc())))
