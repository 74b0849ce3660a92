"""The monthly lead review per rep: every lead delivered that month, its status, and the feedback
still missing. Sent as an email digest once per rep and month (the message's dedupe key
review:<rep id>:<yyyy-mm> makes a second one impossible) and shown as a page."""
from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Feedback, Handoff, HandoffStatus, Message, MessageKind, MessageStatus, User
from app.infra.queue import owe

from app.domain.contacts.inputs import LAST_YEAR
from app.domain.errors import ValidationError

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: Any) -> date:
    match = MONTH_RE.match(text) if isinstance(text, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= LAST_YEAR:
        raise ValidationError("month", f"must be a month as YYYY-MM, e.g. 2026-01; got {text!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=timezone.utc)
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=timezone.utc)


def previous_month(now: datetime) -> date:
    return date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)


def missing_feedback(handoff: Handoff, feedback: list[Feedback]) -> list[str]:
    """What sales still owes marketing about this lead."""
    missing = []
    if handoff.status in (HandoffStatus.PENDING, HandoffStatus.ESCALATED):
        missing.append("accept or reject")
    if not any(f.rating for f in feedback):
        missing.append("rating")
    if handoff.status == HandoffStatus.ACCEPTED and handoff.outcome in (None, "opportunity"):
        missing.append("outcome")
    return missing


def month_review(session: Session, rep: User, month: date, *, now: datetime) -> dict[str, Any]:
    start, end = month_bounds(month)
    handoffs = session.scalars(select(Handoff).where(Handoff.rep_id == rep.id, Handoff.assigned_at >= start,
                                                     Handoff.assigned_at < end)
                               .order_by(Handoff.assigned_at, Handoff.id)).all()
    feedback: dict[int, list[Feedback]] = {h.id: [] for h in handoffs}
    for f in session.scalars(select(Feedback).where(Feedback.handoff_id.in_(list(feedback)))
                             .order_by(Feedback.created_at, Feedback.id)):
        feedback[f.handoff_id].append(f)
    leads = []
    for h in handoffs:
        ratings = [f.rating for f in feedback[h.id] if f.rating]
        leads.append({
            "handoff_id": h.id, "contact": h.contact.name, "company": h.contact.company, "email": h.contact.email,
            "assigned_at": h.assigned_at.isoformat(), "reason": h.reason, "score": h.score, "grade": h.grade,
            "status": str(h.status), "rating": ratings[-1] if ratings else None, "outcome": h.outcome,
            "outcome_amount": h.outcome_amount, "recycled": h.recycled_at is not None,
            "missing": missing_feedback(h, feedback[h.id]),
        })
    counts: dict[str, int] = {}
    for lead in leads:
        counts[lead["status"]] = counts.get(lead["status"], 0) + 1
    return {"month": f"{month:%Y-%m}", "rep": {"id": rep.id, "email": rep.email, "name": rep.name},
            "leads": leads, "counts": counts, "missing": sum(1 for lead in leads if lead["missing"]),
            "won": sum(1 for lead in leads if lead["outcome"] == "won"),
            "won_amount": sum(lead["outcome_amount"] or 0 for lead in leads if lead["outcome"] == "won"),
            "as_of": now.isoformat()}


def review_key(rep_id: int, month: date) -> str:
    return f"review:{rep_id}:{month:%Y-%m}"


def owe_reviews(session: Session, *, now: datetime) -> int:
    """Owe last month's review to every rep who received leads in it; at most one per rep and month."""
    month = previous_month(now)
    start, end = month_bounds(month)
    rep_ids = set(session.scalars(select(Handoff.rep_id).where(
        Handoff.rep_id.is_not(None), Handoff.assigned_at >= start, Handoff.assigned_at < end)).all())
    owed: list[Message] = []
    for rep in session.scalars(select(User).where(User.id.in_(rep_ids), User.active.is_(True)).order_by(User.id)):
        key = review_key(rep.id, month)
        if session.scalar(select(Message.id).where(Message.dedupe_key == key)) is not None:
            continue
        message = Message(public_id=secrets.token_hex(16), kind=MessageKind.NOTIFICATION, dedupe_key=key,
                          to_email=rep.email, subject=f"Your leads in {month:%B %Y}: status and missing feedback",
                          status=MessageStatus.PENDING, created_at=now)
        try:
            with session.begin_nested():
                session.add(message)
        except IntegrityError:  # another scheduler owed it at the same moment
            continue
        owed.append(message)
    for message in owed:  # after the savepoints: their release must not hand these to the queue early
        owe(session, message)
    return len(owed)


def review_months(session: Session, rep: User, *, now: datetime, limit: int = 12) -> list[str]:
    """Months (newest first) in which the rep received leads, for the review page's navigation."""
    months = {f"{at:%Y-%m}" for at in session.scalars(select(Handoff.assigned_at).where(
        Handoff.rep_id == rep.id, Handoff.assigned_at.is_not(None)))}
    months.add(f"{now:%Y-%m}")
    return sorted(months, reverse=True)[:limit]
