"""Recording engagement, and what an event sets in motion: autoresponders, exit goals, re-scoring."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Campaign, CampaignKind, CampaignStatus, Contact, EmailStatus, Event, EventType, Message
from app.models.base import MAX_ROW_ID
from app.infra import keyed_inserts

from app.domain.contacts.inputs import parse_time
from app.domain.contacts.records import find_contact, normalise_email
from app.domain.campaigns.enrollment import enroll, exit_on_goal
from app.domain.errors import NotFound, ValidationError
from app.domain.campaigns.enrollment import set_email_status
from app.domain.handoff.hand_off import refresh_contact
from app.domain.qualification.agreement import load_agreement
from app.domain.qualification.scoring import fast_track_reason
from app.domain.engagement.arrivals import upsert_contact

EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
# Types only the tracking and delivery layers may write; the public API may not forge them.
INTERNAL_TYPES = {EventType.EMAIL_SENT, EventType.EMAIL_OPEN, EventType.EMAIL_CLICK, EventType.BOUNCE,
                  EventType.COMPLAINT}


def insert_keyed_events(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Store events whose producer may retry, each key once; returns the dedupe keys actually
    inserted (a key already stored is skipped by the database: app.infra.keyed_inserts)."""
    return keyed_inserts.insert_keyed_events(session, rows)


def record_event(session: Session, contact: Contact, event_type: str, *, now: datetime,
                 occurred_at: datetime | None = None, url: str | None = None,
                 properties: Mapping[str, Any] | None = None, message: Message | None = None,
                 is_machine: bool = False, machine_reason: str | None = None, user_agent: str | None = None,
                 ip: str | None = None, source: str = "api", dedupe_key: str | None = None) -> Event | None:
    """Store the event, then act on it. A repeated dedupe_key records nothing and returns None."""
    if dedupe_key and session.scalar(select(Event.id).where(Event.dedupe_key == dedupe_key)):
        return None
    event = Event(contact_id=contact.id, type=event_type, occurred_at=occurred_at or now, url=url,
                  properties=dict(properties or {}), message_id=message.id if message else None,
                  campaign_id=message.campaign_id if message else None, step_id=message.step_id if message else None,
                  is_machine=is_machine, machine_reason=machine_reason, user_agent=(user_agent or "")[:1000] or None,
                  ip=ip, source=source, dedupe_key=dedupe_key, created_at=now)
    if dedupe_key is None:
        session.add(event)  # nothing unique to collide on: no savepoint round trips
    else:
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:  # a concurrent duplicate of the same dedupe_key
            return None
    if is_machine:
        session.flush()  # callers read event.id; human events are flushed by the re-score
        return event
    contact.last_activity_at = max(filter(None, (contact.last_activity_at, event.occurred_at)))
    _react(session, contact, event_type, now=now, url=url)
    return event


def _react(session: Session, contact: Contact, event_type: str, *, now: datetime, url: str | None = None) -> None:
    if event_type == EventType.UNSUBSCRIBE:
        set_email_status(session, contact, EmailStatus.UNSUBSCRIBED, cause="unsubscribed", actor="contact", now=now)
    context = transaction_reaction_context(session)
    if event_type in context["any_exit_goals"]:
        exit_on_goal(session, contact, event_type, now=now)
    for campaign in context["autoresponders"].get(event_type, ()):
        enroll(session, contact, campaign, now=now, source=f"event:{event_type}")
    refresh_contact(session, contact, now=now, trigger_event=event_type, trigger_url=url)


def transaction_reaction_context(session: Session) -> dict[str, Any]:
    """reaction_context read once per transaction rather than once per event, plus the exit goals of
    every campaign (an enrollment in a paused campaign still exits on its goal). A flushed change to a
    campaign forgets it."""
    context = session.info.get("reaction_context")
    if context is not None:
        return context
    context = dict(reaction_context(session))
    context["any_exit_goals"] = {goal for goals in session.scalars(select(Campaign.exit_goals)) for goal in goals or ()}
    session.info["reaction_context"] = context
    if not session.info.get("reaction_context_listeners"):
        session.info["reaction_context_listeners"] = True
        sa_event.listen(session, "after_transaction_end", _forget_context_on_end)
        sa_event.listen(session, "after_flush", _forget_context_if_campaigns_changed)
    return context


def _forget_context_on_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("reaction_context", None)


def _forget_context_if_campaigns_changed(session: Session, flush_context) -> None:
    if any(isinstance(obj, Campaign) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop("reaction_context", None)


def reaction_context(session: Session) -> dict[str, Any]:
    """What every contact of a batch reacts against, read once per batch rather than per contact."""
    campaigns = session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE)).all()
    autoresponders: dict[str, list[Campaign]] = {}
    for campaign in campaigns:
        if campaign.kind == CampaignKind.AUTORESPONDER and campaign.trigger_event:
            autoresponders.setdefault(campaign.trigger_event, []).append(campaign)
    return {"exit_goals": {goal for campaign in campaigns for goal in (campaign.exit_goals or [])},
            "autoresponders": autoresponders, "threshold": load_agreement(session).qualification}


def react_to_events(session: Session, contact: Contact, events: list[Mapping[str, Any]], *, now: datetime,
                    context: Mapping[str, Any] | None = None) -> None:
    """What a batch of a contact's new human events sets in motion (the buffered tracking path), done
    once per contact and type rather than once per event; with no events, only a re-score."""
    if not events:
        refresh_contact(session, contact, now=now)
        return
    context = context or reaction_context(session)
    contact.last_activity_at = max(filter(None, (contact.last_activity_at, *(e["occurred_at"] for e in events))))
    for event_type in dict.fromkeys(e["type"] for e in events):
        if event_type in context["exit_goals"]:
            exit_on_goal(session, contact, event_type, now=now)
        for campaign in context["autoresponders"].get(event_type, ()):
            enroll(session, contact, campaign, now=now, source=f"event:{event_type}")
    trigger = next((e for e in events if fast_track_reason(e["type"], contact.grade, context["threshold"], e.get("url"))),
                   events[-1])
    refresh_contact(session, contact, now=now, trigger_event=trigger["type"], trigger_url=trigger.get("url"))


def parse_event(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Validate an API event body; raises ValidationError naming the field."""
    if not isinstance(data, Mapping):
        raise ValidationError("body", "must be a JSON object")
    event_type = data.get("type")
    if not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
        raise ValidationError("type", "is required: lower-case letters, digits and _ (e.g. page_view)")
    if event_type in INTERNAL_TYPES:
        raise ValidationError("type", f"{event_type} is recorded by Nurture's own tracking, not through the API")
    if not data.get("email") and not data.get("contact_id"):
        raise ValidationError("email", "give the contact's email or contact_id")
    url = data.get("url")
    if url is not None and (not isinstance(url, str) or len(url) > 4000):
        raise ValidationError("url", "must be a string of at most 4000 characters")
    properties = data.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ValidationError("properties", "must be an object")
    occurred_at = _parse_time(data.get("occurred_at"), now)
    contact_id = data.get("contact_id")
    if contact_id is not None and (isinstance(contact_id, bool) or not isinstance(contact_id, int)):
        raise ValidationError("contact_id", "must be an integer")
    if contact_id is not None and not 0 < contact_id <= MAX_ROW_ID:
        raise ValidationError("contact_id", f"must be a contact's id, from 1 to {MAX_ROW_ID}")
    dedupe = data.get("id")
    if dedupe is not None and (not isinstance(dedupe, str) or not 1 <= len(dedupe) <= 150):
        raise ValidationError("id", "must be a string of 1 to 150 characters (your idempotency key)")
    return {"type": event_type, "email": normalise_email(data["email"]) if data.get("email") else None,
            "contact_id": contact_id, "url": url, "properties": dict(properties), "occurred_at": occurred_at,
            "dedupe_key": f"api:{dedupe}" if dedupe else None}


def _parse_time(value: Any, now: datetime) -> datetime:
    moment = parse_time(value, "occurred_at")
    if moment is None:
        return now
    if moment > now:
        raise ValidationError("occurred_at", "is in the future")
    return moment


def record_api_event(session: Session, data: Mapping[str, Any], *, now: datetime) -> Event | None:
    parsed = parse_event(data, now)
    contact = (session.get(Contact, parsed["contact_id"]) if parsed["contact_id"] is not None
               else find_contact(session, parsed["email"]))
    if contact is None:
        if parsed["contact_id"] is not None:
            raise NotFound(f"contact {parsed['contact_id']}")
        contact, _ = upsert_contact(session, {"email": parsed["email"], "source": f"event:{parsed['type']}"},
                                    now=now, actor="api")
    return record_event(session, contact, parsed["type"], now=now, occurred_at=parsed["occurred_at"],
                        url=parsed["url"], properties=parsed["properties"], dedupe_key=parsed["dedupe_key"])
