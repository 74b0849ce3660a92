"""Form submissions about a contact Nurture already knows, held until the contact confirms them.

An anonymous form never rewrites an existing contact on its own say-so: what it submitted waits
here, and the contact gets an email with a signed link to confirm it (double opt-in)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class FormConfirmation(Base):
    __tablename__ = "form_confirmations"
    __table_args__ = (Index("ix_form_confirmations_contact", "contact_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # 128 random bits: what the signed confirmation link names, never the row id or an address.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    form: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(50))
    # The submitted contact fields and consent (validated), applied only when confirmed.
    fields: Mapped[dict] = mapped_column(default=dict)
    answers: Mapped[dict] = mapped_column(default=dict)
    url: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    # The confirmation email, when one was owed for this submission (at most one a day per address).
    message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
