"""Turning a batch of queued hits into event rows: resolve, check consent, classify, insert once, react.

Everything here is idempotent: rows are keyed by the hit's id, inserted with ON CONFLICT DO NOTHING,
and only the rows actually inserted set reactions (scoring, autoresponders, exit goals) in motion.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from app.models import Contact, Event, EventType, Message, MessageKind
from app.models.event import QrCode

from app.domain.engagement.events import insert_keyed_events
from app.domain.engagement.hits import CLICK, OPEN, PAGE_VIEW, QR_SCAN, Hit, decode
from app.domain.messages.links import CLICK as CLICK_KIND
from app.domain.messages.links import HONEYPOT_LINK, OPEN as OPEN_KIND
from app.domain.engagement.bots import classify
from app.domain.engagement.destinations import link_target
from app.domain.engagement.site import page_view_row
from app.domain.engagement.pace import mark_beyond_human_pace
from app.domain.engagement.events import reaction_context, react_to_events
from app.domain.engagement.bots import BURST_WINDOW

log = logging.getLogger(__name__)
HONEYPOT_REASON = "followed the hidden honeypot link"


def record_hits(services, items: Iterable[bytes | str]) -> dict[str, int]:
    """Write one batch in one transaction; returns counts of written, duplicate and skipped hits."""
    hits, skipped = [], 0
    for item in items:
        try:
            hits.append(decode(item))
        except ValueError as exc:
            log.warning("dropping a malformed hit: %s", exc)
            skipped += 1
    now = services.now()
    with services.sessions() as session:
        rows = _rows(services, session, hits, now)
        skipped += len(hits) - len(rows)
        inserted = insert_keyed_events(session, rows)
        _after_insert(session, rows, inserted, now=now)
        session.commit()
    return {"written": len(inserted), "duplicates": len(rows) - len(inserted), "skipped": skipped}


def _rows(services, session: Session, hits: list[Hit], now: datetime) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        by_kind[hit.kind].append(hit)
    rows: list[dict[str, Any]] = []
    rows += _email_rows(services, session, by_kind[OPEN] + by_kind[CLICK], now)
    rows += _qr_rows(session, by_kind[QR_SCAN], now)
    rows += _page_view_rows(session, by_kind[PAGE_VIEW], now)
    return rows


def _row(hit: Hit, now: datetime, **values) -> dict[str, Any]:
    row = {"contact_id": None, "message_id": None, "campaign_id": None, "step_id": None, "url": None,
           "properties": {}, "is_machine": False, "machine_reason": None, "user_agent": hit.user_agent,
           "ip": hit.ip, "occurred_at": hit.at, "created_at": now, "dedupe_key": hit.dedupe_key, "source": "api"}
    row.update(values)
    return row


def _email_rows(services, session: Session, hits: list[Hit], now: datetime) -> list[dict[str, Any]]:
    if not hits:
        return []
    messages = {m.public_id: m for m in session.scalars(
        select(Message).options(joinedload(Message.contact))
        .where(Message.public_id.in_({h.public_id for h in hits}), Message.kind != MessageKind.TEST)).unique()}
    context = _click_context(session, [m.id for m in messages.values()], hits, messages)
    rows = []
    for hit in sorted(hits, key=lambda h: h.at):
        message = messages.get(hit.public_id)
        if message is None or message.contact is None or not message.contact.tracking_consent:
            continue  # unknown, a test send, an erased contact, or tracking consent withdrawn: nothing
        common = {"contact_id": message.contact_id, "message_id": message.id, "campaign_id": message.campaign_id,
                  "step_id": message.step_id}
        if hit.kind == OPEN:
            verdict = classify(kind=OPEN_KIND, method=hit.method, user_agent=hit.user_agent, ip=hit.ip,
                               sent_at=message.sent_at, at=hit.at)
            rows.append(_row(hit, now, type=EventType.EMAIL_OPEN, source="pixel", is_machine=verdict.is_machine,
                             machine_reason=verdict.reason, **common))
            continue
        if hit.link is None:
            continue
        url = None if hit.link == HONEYPOT_LINK else link_target(services, message, hit.link)
        if url is None and hit.link != HONEYPOT_LINK:
            continue
        clicks = context["clicks"][message.id]
        verdict = classify(kind=CLICK_KIND, method=hit.method, user_agent=hit.user_agent, ip=hit.ip,
                           sent_at=message.sent_at, at=hit.at, link=hit.link,
                           honeypot_ips=frozenset(context["honeypot_ips"][message.id]),
                           other_clicks=tuple((link, at) for link, at, _ in clicks))
        properties = {"honeypot": True} if hit.link == HONEYPOT_LINK else {"link": hit.link}
        rows.append(_row(hit, now, type=EventType.EMAIL_CLICK, source="link", url=url, properties=properties,
                         is_machine=verdict.is_machine, machine_reason=verdict.reason, **common))
        if hit.link == HONEYPOT_LINK and hit.ip:
            context["honeypot_ips"][message.id].add(hit.ip)
        elif hit.link != HONEYPOT_LINK:
            clicks.append((hit.link, hit.at, hit.dedupe_key))
    return rows


def _click_context(session: Session, message_ids: list[int], hits: list[Hit],
                   messages: dict[str, Message]) -> dict[str, Any]:
    """Earlier clicks of the same emails, and addresses that followed their honeypot link."""
    clicks: dict[int, list] = defaultdict(list)
    honeypot_ips: dict[int, set] = defaultdict(set)
    if message_ids and any(h.kind == CLICK for h in hits):
        for message_id, properties, occurred_at, ip, reason in session.execute(
                select(Event.message_id, Event.properties, Event.occurred_at, Event.ip, Event.machine_reason)
                .where(Event.message_id.in_(message_ids), Event.type == EventType.EMAIL_CLICK)):
            if reason == HONEYPOT_REASON:
                if ip:
                    honeypot_ips[message_id].add(ip)
            elif isinstance((properties or {}).get("link"), int):
                clicks[message_id].append((properties["link"], occurred_at, None))
    # Honeypot hits in this batch count for every click of the batch, whatever their order.
    for hit in hits:
        message = messages.get(hit.public_id)
        if message is not None and hit.kind == CLICK and hit.link == HONEYPOT_LINK and hit.ip:
            honeypot_ips[message.id].add(hit.ip)
    return {"clicks": clicks, "honeypot_ips": honeypot_ips}


def _qr_rows(session: Session, hits: list[Hit], now: datetime) -> list[dict[str, Any]]:
    if not hits:
        return []
    codes = {c.public_id: c for c in session.scalars(select(QrCode).where(
        QrCode.public_id.in_({h.public_id for h in hits})))}
    rows = []
    for hit in hits:
        code = codes.get(hit.public_id)
        if code is None:
            continue
        verdict = classify(kind=CLICK_KIND, method=hit.method, user_agent=hit.user_agent, ip=hit.ip,
                           sent_at=None, at=hit.at)
        rows.append(_row(hit, now, type=EventType.QR_SCAN, source=f"qr:{code.public_id[:8]}", url=code.url,
                         campaign_id=code.campaign_id, properties={"qr": code.public_id, "label": code.label},
                         is_machine=verdict.is_machine, machine_reason=verdict.reason))
    return rows


def _page_view_rows(session: Session, hits: list[Hit], now: datetime) -> list[dict[str, Any]]:
    if not hits:
        return []
    contacts = {c.public_id: c for c in session.scalars(select(Contact).where(
        Contact.public_id.in_({h.public_id for h in hits})))}
    rows, judged = [], []
    for hit in hits:
        contact = contacts.get(hit.public_id)
        if contact is None or not contact.tracking_consent:
            continue
        row = page_view_row(hit, contact)
        if row is not None:
            rows.append(_row(hit, now, **row))
            if not hit.extra.get("server"):  # the marketer's server, trusted by its key, is not paced
                judged.append(rows[-1])
    mark_beyond_human_pace(session, judged)
    return rows


def _after_insert(session: Session, rows: list[dict[str, Any]], inserted: set[str], *, now: datetime) -> None:
    """QR counters, hindsight reclassification, and the reactions for each contact touched."""
    fresh = [r for r in rows if r["dedupe_key"] in inserted]
    scans: dict[str | None, int] = defaultdict(int)
    for row in fresh:
        if row["type"] == EventType.QR_SCAN:
            scans[row["properties"].get("qr")] += 1
    for public_id, count in scans.items():
        session.execute(update(QrCode).where(QrCode.public_id == public_id).values(scans=QrCode.scans + count))
    retro = _reclassify_with_hindsight(session, fresh)
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in fresh:
        if row["contact_id"] is not None:
            by_contact[row["contact_id"]].append(row)
    for contact_id in retro:
        by_contact.setdefault(contact_id, [])
    if not by_contact:
        return
    context = reaction_context(session)
    with session.no_autoflush:
        contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(list(by_contact))))}
    for contact_id, contact_rows in sorted(by_contact.items()):  # one lock order for concurrent drainers
        human = [r for r in contact_rows if not r["is_machine"]]
        if contact_id in contacts and (human or contact_id in retro):
            react_to_events(session, contacts[contact_id], human, now=now, context=context)


def _reclassify_with_hindsight(session: Session, fresh: list[dict[str, Any]]) -> set[int]:
    """A honeypot hit or a burst seen now turns earlier human-looking clicks of that email into machine ones."""
    touched: set[int] = set()
    for row in fresh:
        if row["type"] != EventType.EMAIL_CLICK or not row["is_machine"] or row["message_id"] is None:
            continue
        if row["machine_reason"] == HONEYPOT_REASON and row["ip"]:
            condition = Event.ip == row["ip"]
            reason = "same address followed the hidden honeypot link"
        elif row["machine_reason"] == "clicked several links at once":
            condition = Event.occurred_at.between(row["occurred_at"] - BURST_WINDOW, row["occurred_at"] + BURST_WINDOW)
            reason = "clicked several links at once"
        else:
            continue
        changed = session.execute(update(Event).where(
            Event.message_id == row["message_id"], Event.type == EventType.EMAIL_CLICK, Event.is_machine.is_(False),
            condition).values(is_machine=True, machine_reason=reason).returning(Event.contact_id)).scalars().all()
        touched.update(c for c in changed if c is not None)
    return touched
