"""Campaigns, their ordered steps, the immutable versions of each step, and enrollments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, StrEnum


class CampaignKind(StrEnum):
    DRIP = "drip"
    AUTORESPONDER = "autoresponder"
    RECYCLE = "recycle"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    EXITED = "exited"    # reached an exit goal
    STOPPED = "stopped"  # handed off, unsubscribed, bounced, or removed


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[CampaignKind] = mapped_column(String(20), default=CampaignKind.DRIP)
    status: Mapped[CampaignStatus] = mapped_column(String(20), default=CampaignStatus.DRAFT)
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id"))
    trigger_event: Mapped[str | None] = mapped_column(String(100))  # autoresponders
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_window: Mapped[dict] = mapped_column(default=dict)  # {"start": "09:00", "end": "17:00", "days": [...]}
    exit_goals: Mapped[list] = mapped_column(default=list)
    from_name: Mapped[str | None] = mapped_column(String(200))
    from_email: Mapped[str | None] = mapped_column(String(320))
    layout: Mapped[str] = mapped_column(String(100), default="default")
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)  # most emails a minute from this campaign
    source_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    persona = relationship("Persona")
    steps = relationship("Step", order_by="Step.position", back_populates="campaign")


class Step(Base):
    """A stable slot in a campaign; its content lives in versions so in-flight sends stay consistent."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_versions.id", use_alter=True, name="fk_steps_current_version")
    )

    campaign = relationship("Campaign", back_populates="steps")
    current_version = relationship("StepVersion", foreign_keys=[current_version_id], post_update=True)


class StepVersion(Base):
    __tablename__ = "step_versions"
    __table_args__ = (UniqueConstraint("step_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(500))
    preheader: Mapped[str] = mapped_column(String(500), default="")
    body_markdown: Mapped[str] = mapped_column(Text)
    layout: Mapped[str] = mapped_column(String(100), default="default")
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    conditions: Mapped[dict] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    step = relationship("Step", foreign_keys=[step_id])


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("contact_id", "campaign_id", "cycle"),
        # The scheduler's query: active enrollments whose next step is due.
        Index("ix_enrollments_due", "status", "next_due_at"),
        Index("ix_enrollments_campaign", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # re-enrolment after recycling
    status: Mapped[EnrollmentStatus] = mapped_column(String(20), default=EnrollmentStatus.ACTIVE)
    next_position: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(50), default="persona")
    exit_reason: Mapped[str | None] = mapped_column(String(200))
    enrolled_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    contact = relationship("Contact")
    campaign = relationship("Campaign")
