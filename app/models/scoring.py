"""The agreement as data: behaviour scoring rules, fit criteria and named settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ScoringRule(Base):
    """Points for behaviour or for a profile trait.

    kind "event": each event of a type, optionally narrowed to a URL pattern or campaign;
    kind "milestone": once, when the contact's count of such events reaches min_count
    (within window_days if set); kind "profile": once, while the contact matches `condition`.
    """

    __tablename__ = "scoring_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="event", server_default="event")
    event_type: Mapped[str | None] = mapped_column(String(50))
    points: Mapped[int] = mapped_column(Integer)
    url_pattern: Mapped[str | None] = mapped_column(String(500))  # glob, e.g. */pricing*
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    daily_cap: Mapped[int | None] = mapped_column(Integer)  # most points from this rule per day
    min_count: Mapped[int | None] = mapped_column(Integer)
    window_days: Mapped[int | None] = mapped_column(Integer)
    condition: Mapped[dict | None] = mapped_column()  # a rules-engine condition on contact fields
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FitCriterion(Base):
    """One qualification criterion of the ideal customer profile, with its weight."""

    __tablename__ = "fit_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(30))
    value: Mapped[dict] = mapped_column()  # {"v": ...} so scalars and lists share a column
    weight: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Setting(Base):
    """Named JSON settings: qualification threshold, score half-life, SLA hours…"""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column()
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]
