"""Many events at once (a CRM or website backend posting a batch, an import): stored with one INSERT,
each contact touched reacts once (unsubscribe, exit goals, autoresponders), then all of them are
re-scored and qualified together: one read of their events, one bulk UPDATE, as the full re-score
does (app.domain.qualification.rescoring). Scores and grades are the ones the events would have given one at a
time (scoring is a pure function of the events); qualification is judged on the batch's outcome,
and a fast-track event in the batch hands its contact off just as it would alone.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Contact, EmailStatus, Event, EventType
from app.infra import locks

from app.domain.engagement.arrivals import upsert_contact
from app.domain.campaigns.enrollment import enroll, exit_on_goal
from app.domain.errors import NotFound, ValidationError
from app.domain.engagement.events import insert_keyed_events, parse_event, transaction_reaction_context
from app.domain.campaigns.enrollment import set_email_status
from app.domain.handoff.hand_off import hand_off_by_id
from app.domain.qualification.rescoring import RescoreStats, rescore_chunk

MAX_BATCH = 1000


def parse_batch(items: Any, now: datetime) -> list[dict[str, Any]]:
    """Every event of an API batch validated; the first problem names its place, e.g. events[3].type."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationError("events", f"must be a list of 1 to {MAX_BATCH} events")
    parsed = []
    for i, item in enumerate(items):
        try:
            parsed.append(parse_event(item, now))
        except ValidationError as exc:
            raise ValidationError(f"events[{i}].{exc.field}", exc.message) from None
    keys = [p["dedupe_key"] for p in parsed if p["dedupe_key"]]
    if len(keys) != len(set(keys)):
        raise ValidationError("events", "two events carry the same id")
    return parsed


def resolve_contacts(session: Session, parsed: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """Fill in contact_id: by id (which must exist) or by email (a new address becomes a contact)."""
    ids = {p["contact_id"] for p in parsed if p["contact_id"] is not None}
    known = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids)))) if ids else set()
    for i, p in enumerate(parsed):
        if p["contact_id"] is not None and p["contact_id"] not in known:
            raise NotFound(f"contact {p['contact_id']} (events[{i}].contact_id)")
    emails = {p["email"] for p in parsed if p["contact_id"] is None}
    by_email = dict(session.execute(select(Contact.email, Contact.id).where(Contact.email.in_(emails))).all())
    for p in parsed:
        if p["contact_id"] is None:
            if p["email"] not in by_email:
                contact, _ = upsert_contact(session, {"email": p["email"], "source": f"event:{p['type']}"},
                                            now=now, actor="api")
                by_email[p["email"]] = contact.id
            p["contact_id"] = by_email[p["email"]]


def record_events(session: Session, parsed: Sequence[Mapping[str, Any]], *, now: datetime,
                  source: str = "api") -> tuple[int, RescoreStats]:
    """Store human events of known contacts (parse_batch + resolve_contacts shapes), react, re-score
    and qualify. Returns how many were stored (repeated ids are skipped) and the re-score figures."""
    rows = [{"contact_id": p["contact_id"], "type": p["type"], "occurred_at": p["occurred_at"], "url": p["url"],
             "properties": dict(p.get("properties") or {}), "is_machine": False, "source": source,
             "dedupe_key": p.get("dedupe_key"), "created_at": now} for p in parsed]
    if rows:
        # Every contact first, in id order, so concurrent batches never deadlock.
        locks.lock_contacts(session, {r["contact_id"] for r in rows})
    stored = _insert(session, rows)
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in stored:
        by_contact[row["contact_id"]].append(row)
    if not by_contact:
        return 0, RescoreStats()
    ids = sorted(by_contact)
    context = transaction_reaction_context(session)
    reacting = {t for t in context["any_exit_goals"]} | set(context["autoresponders"]) | {EventType.UNSUBSCRIBE}
    needed = [cid for cid in ids if any(e["type"] in reacting for e in by_contact[cid])]
    contacts = list(session.scalars(select(Contact).where(Contact.id.in_(needed)).order_by(Contact.id))) if needed else []
    for contact in contacts:
        _react(session, contact, by_contact[contact.id], context, now=now)
    session.flush()
    stats = rescore_chunk(session, ids, now=now, hand_off=hand_off_by_id, triggers={
        contact_id: [(r["type"], r["url"]) for r in events] for contact_id, events in by_contact.items()},
        activity={contact_id: max(r["occurred_at"] for r in events) for contact_id, events in by_contact.items()})
    for contact in contacts:  # the bulk UPDATE bypassed these objects
        session.expire(contact)
    return len(stored), stats


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One INSERT; rows whose id (dedupe_key) was already recorded are skipped."""
    keyed = [r for r in rows if r["dedupe_key"]]
    if not keyed:
        session.execute(Event.__table__.insert(), rows)
        return rows
    written = insert_keyed_events(session, keyed)
    plain = [r for r in rows if not r["dedupe_key"]]
    if plain:
        session.execute(Event.__table__.insert(), plain)
    return [r for r in rows if not r["dedupe_key"] or r["dedupe_key"] in written]


def _react(session: Session, contact: Contact, events: list[dict[str, Any]], context: Mapping[str, Any], *,
           now: datetime) -> None:
    """What one contact's new events set in motion, once per event type; scoring (and the time of the
    last activity) comes after, for all."""
    for event_type in dict.fromkeys(e["type"] for e in events):
        if event_type == EventType.UNSUBSCRIBE:
            set_email_status(session, contact, EmailStatus.UNSUBSCRIBED, cause="unsubscribed", actor="contact",
                             now=now)
        if event_type in context["any_exit_goals"]:
            exit_on_goal(session, contact, event_type, now=now)
        for campaign in context["autoresponders"].get(event_type, ()):
            enroll(session, contact, campaign, now=now, source=f"event:{event_type}")
