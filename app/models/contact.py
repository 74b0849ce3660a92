"""Contacts: the qualification fields, custom fields, lifecycle stage, score and grade."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, StrEnum


class Stage(StrEnum):
    NEW = "new"
    NURTURING = "nurturing"
    MQL = "mql"
    HANDED_OFF = "handed_off"
    SAL = "sal"
    OPPORTUNITY = "opportunity"
    WON = "won"
    REJECTED = "rejected"
    LOST = "lost"


class EmailStatus(StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


# Stages from which marketing still nurtures; from MQL on, the lead belongs to sales.
NURTURE_STAGES = frozenset({Stage.NEW, Stage.NURTURING})


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_stage", "stage"),
        Index("ix_contacts_persona", "persona_id"),
        Index("ix_contacts_domain", "email_domain"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_domain: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[int | None] = mapped_column(Integer)
    timeline_months: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[dict] = mapped_column(default=dict)
    # Text fields an anonymous form typed in and the contact never confirmed: kept and shown, but never
    # merged into a subject line (app/domain/messages/composing.py).
    unconfirmed_fields: Mapped[list] = mapped_column(default=list)

    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id"))
    segment: Mapped[str | None] = mapped_column(String(50))
    stage: Mapped[Stage] = mapped_column(String(20), default=Stage.NEW)
    email_status: Mapped[EmailStatus] = mapped_column(String(20), default=EmailStatus.ACTIVE)
    email_consent: Mapped[bool] = mapped_column(default=True)
    tracking_consent: Mapped[bool] = mapped_column(default=True)
    # Permission to email and permission to track, each with its basis, source and time (app/domain/consent.py).
    email_consent_basis: Mapped[str | None] = mapped_column(String(30))
    email_consent_source: Mapped[str | None] = mapped_column(String(200))
    email_consent_at: Mapped[datetime | None]
    tracking_consent_basis: Mapped[str | None] = mapped_column(String(30))
    tracking_consent_source: Mapped[str | None] = mapped_column(String(200))
    tracking_consent_at: Mapped[datetime | None]
    # Random 128 bits naming the contact in site-tracking tokens (?nt=…), never the address.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: secrets.token_hex(16))
    # The preference page: a pause, and the campaigns the contact chose to leave.
    paused_until: Mapped[datetime | None]
    preferences: Mapped[dict] = mapped_column(default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    score: Mapped[int] = mapped_column(Integer, default=0)
    grade: Mapped[str] = mapped_column(String(1), default="D")
    score_reasons: Mapped[list] = mapped_column(default=list)
    fit_reasons: Mapped[dict] = mapped_column(default=dict)
    scored_at: Mapped[datetime | None]
    # Recycled leads start over: events before this moment no longer score.
    score_reset_at: Mapped[datetime | None]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime | None]

    persona = relationship("Persona", lazy="joined")

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email

    @property
    def can_receive_nurture(self) -> bool:
        return (
            self.email_status == EmailStatus.ACTIVE
            and self.email_consent
            and self.stage in NURTURE_STAGES
        )


class StageTransition(Base):
    """Every change of lifecycle stage or email status, with what caused it and who."""

    __tablename__ = "stage_transitions"
    __table_args__ = (Index("ix_stage_transitions_contact", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(20), default="stage")  # stage | email_status
    from_value: Mapped[str | None] = mapped_column(String(20))
    to_value: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(500), default="system")  # may name an API key and its user
    created_at: Mapped[datetime]


class Note(Base):
    """Conversation history and personal notes that a rep reads before calling."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_contact", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20), default="note")  # note | conversation | personal
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
