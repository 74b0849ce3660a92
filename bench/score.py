"""Scoring and qualification on PostgreSQL: events per second through the whole reaction path, and
the time to re-score every contact after a rule change.

    .venv/bin/python bench/score.py [--contacts 10000] [--events 100000] [--batch 1000]
                                    [--single-events 5000] [--rescore-contacts 100000] [--chunk 1000]

Creates a scratch database on 127.0.0.1 (NURTURE_TEST_PG, as the integration tests do), loads the
shipped agreement and campaigns, and drops the database at the end. Phase 1 feeds --events events
over --contacts contacts through record_events, the batch path of POST /api/v1/events/batch, --batch
events per transaction: one INSERT, each contact's reactions (exit goals, autoresponders,
unsubscribe), one re-score of the batch's contacts (one read of their events, one bulk UPDATE), and
qualification with handoffs (assignment, lead report, notice). Phase 1b feeds --single-events more
events one at a time through record_event, the path of POST /api/v1/events, committing every 100.
Phase 2 grows the database to --rescore-contacts contacts with a recorded history (bulk-loaded, not
measured), changes a scoring rule, and times rescore_all: chunks of --chunk contacts, three
statements and one bulk UPDATE each. The queue is the embedded one (owed notices are enqueued, not
sent); nothing leaves the machine.
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("NURTURE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
SITE = "https://www.brightline.example"
PAGES = ["/", "/pricing", "/pricing/bl-series", "/quote", "/lead-times", "/tools/sizing", "/case-studies/cleanroom",
         "/case-studies/packaging", "/blog/repeatability", "/blog/backlash", "/products/bl-40", "/careers"]
MIX = [("page_view", 62), ("email_open", 14), ("email_click", 10), ("content_download", 4), ("form_submitted", 3),
       ("qr_scan", 2), ("forward", 2), ("reply", 2), ("demo_request", 0.6), ("unsubscribe", 0.4)]
TITLES = ["Senior Controls Engineer", "Automation Engineer", "Procurement Manager", "VP Operations", "Buyer",
          "Plant Manager", "Director of Engineering", "Maintenance Technician", "CFO", "Intern"]
INDUSTRIES = ["manufacturing", "automotive", "packaging", "logistics", "software", "retail", "medical_devices"]
COUNTRIES = ["US", "DE", "GB", "FR", "JP", "BR", "CA", "IN"]


def scratch_database():
    import psycopg

    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    name = f"nurture_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return admin, name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def profile(rnd: random.Random, i: int) -> dict:
    return {"email": f"person{i}@company{i % 2500}.example", "first_name": f"P{i}", "last_name": "Bench",
            "company": f"Company {i % 2500}", "title": rnd.choice(TITLES), "industry": rnd.choice(INDUSTRIES),
            "company_size": rnd.choice([15, 80, 250, 900, 4000, 20000]), "budget": rnd.choice([None, 5000, 25000, 90000]),
            "timeline_months": rnd.choice([None, 1, 3, 6, 12, 24]), "country": rnd.choice(COUNTRIES)}


def random_event(rnd: random.Random) -> tuple[str, str | None, timedelta]:
    kind = rnd.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    url = SITE + rnd.choice(PAGES) if kind in ("page_view", "email_click", "form_submitted") else None
    return kind, url, timedelta(days=rnd.randint(0, 60), minutes=rnd.randint(0, 1439))


def setup(services, now) -> None:
    from app.db import upgrade
    from app.domain.campaigns.sync import sync_directory
    from app.domain.contacts.users import create_user

    upgrade(services.engine)
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        for i, territory in enumerate([{}, {}, {"regions": ["EMEA"]}, {"regions": ["APAC"]}, {}]):
            create_user(session, f"rep{i}@bench.example", "sales", now=now, password="bench-pass", territory=territory)
        create_user(session, "boss@bench.example", "sales_manager", now=now, password="bench-pass")
        session.commit()


def create_contacts(services, n: int, rnd: random.Random) -> list[int]:
    from app.domain.engagement.arrivals import upsert_contact

    ids = []
    started = time.perf_counter()
    with services.sessions() as session:
        for i in range(n):
            contact, _ = upsert_contact(session, profile(rnd, i), now=NOW, actor="bench")
            ids.append(contact.id)
            if i % 500 == 499:
                session.commit()
                session.expunge_all()
        session.commit()
    elapsed = time.perf_counter() - started
    print(f"setup: {n:,} contacts through upsert_contact (persona, segment, drip enrolment, score) "
          f"in {elapsed:.1f} s ({n / elapsed:,.0f}/s)")
    return ids


def _handoff_counts(session) -> tuple[int, int]:
    from sqlalchemy import func, select

    from app.models import Handoff

    return (session.scalar(select(func.count()).select_from(Handoff)),
            session.scalar(select(func.count()).select_from(Handoff).where(Handoff.status == "queued")))


def feed_batches(services, ids: list[int], n: int, batch: int, rnd: random.Random) -> None:
    from app.domain.engagement.batches import record_events

    plan = [(rnd.choice(ids), *random_event(rnd)) for _ in range(n)]
    latencies = []
    started = time.perf_counter()
    with services.sessions() as session:
        for first in range(0, n, batch):
            t0 = time.perf_counter()
            parsed = [{"contact_id": contact_id, "type": kind, "url": url, "properties": {},
                       "occurred_at": NOW - ago, "dedupe_key": None}
                      for contact_id, kind, url, ago in plan[first:first + batch]]
            record_events(session, parsed, now=NOW, source="bench")
            session.commit()
            session.expunge_all()
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        handoffs, queued = _handoff_counts(session)
    print(f"events through scoring and qualification, in batches: {n:,} events over {len(ids):,} contacts in "
          f"{elapsed:.1f} s = {n / elapsed:,.0f} events/s (one process, {batch:,} events per batch and "
          f"transaction; per batch median {statistics.median(latencies) * 1000:.0f} ms, slowest "
          f"{max(latencies) * 1000:.0f} ms); {handoffs:,} handoffs ({queued} queued)")


def feed_events(services, ids: list[int], n: int, rnd: random.Random, batch: int = 100) -> None:
    from app.domain.engagement import events as reactions  # where each event's re-score and qualification is called
    from app.domain.engagement.events import record_event
    from app.models import Contact

    plan = [(rnd.choice(ids), *random_event(rnd)) for _ in range(n)]
    latencies, in_refresh = [], [0.0]
    original = reactions.refresh_contact

    def timed_refresh(*args, **kwargs):  # the re-score and qualification part of each event
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            in_refresh[0] += time.perf_counter() - t0

    reactions.refresh_contact = timed_refresh
    started = time.perf_counter()
    with services.sessions() as session:
        for i, (contact_id, kind, url, ago) in enumerate(plan, 1):
            t0 = time.perf_counter()
            contact = session.get(Contact, contact_id)
            record_event(session, contact, kind, now=NOW, occurred_at=NOW - ago, url=url, source="bench")
            latencies.append(time.perf_counter() - t0)
            if i % batch == 0:
                session.commit()
                session.expunge_all()
        session.commit()
        elapsed = time.perf_counter() - started
        reactions.refresh_contact = original
        handoffs, queued = _handoff_counts(session)
    q = statistics.quantiles(latencies, n=100)
    print(f"events through scoring and qualification, one at a time: {n:,} events in {elapsed:.1f} s "
          f"= {n / elapsed:,.0f} events/s (one process, commit every {batch}); "
          f"per event p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, of which re-score and qualify "
          f"{in_refresh[0] / n * 1000:.2f} ms on average (the rest: storing the event, exit goals, "
          f"autoresponders, commits); {handoffs:,} handoffs in all ({queued} queued)")


def grow(services, total: int, rnd: random.Random) -> None:
    """Bulk-load contacts with a history up to `total` (not measured: it is the re-score's input)."""
    from sqlalchemy import func, insert, select

    from app.models import Contact, Event

    with services.sessions() as session:
        have = session.scalar(select(func.count()).select_from(Contact))
        started, added_events = time.perf_counter(), 0
        for start in range(have, total, 5000):
            rows = []
            for i in range(start, min(start + 5000, total)):
                p = profile(rnd, i + 1_000_000)
                p["email"] = f"grown{i}@firm{i % 9000}.example"
                rows.append({**p, "email_domain": p["email"].split("@")[1], "fields": {}, "score": 0, "grade": "D",
                             "score_reasons": [], "fit_reasons": {}, "stage": "nurturing", "created_at": NOW,
                             "updated_at": NOW})
            ids = session.scalars(insert(Contact).returning(Contact.id), rows).all()
            events = []
            for contact_id in ids:
                for _ in range(rnd.choice([0, 1, 2, 4, 6, 8, 12])):
                    kind, url, ago = random_event(rnd)
                    events.append({"contact_id": contact_id, "type": kind, "url": url, "occurred_at": NOW - ago,
                                   "properties": {}, "is_machine": rnd.random() < 0.08, "source": "bench",
                                   "created_at": NOW})
            session.execute(insert(Event), events)
            added_events += len(events)
            session.commit()
        print(f"setup: grew to {total:,} contacts (+{total - have:,} with {added_events:,} events, bulk-loaded) "
              f"in {time.perf_counter() - started:.1f} s")


def change_rule_and_rescore(services, chunk: int) -> None:
    from sqlalchemy import event, func, select

    from app.domain.qualification.agreement import agreement_data, apply_agreement
    from app.domain.handoff.hand_off import hand_off_by_id
    from app.domain.qualification.rescoring import rescore_all
    from app.models import Contact, Event

    with services.sessions() as session:
        data = copy.deepcopy(agreement_data(session))
        pricing = next(r for r in data["scoring"]["rules"] if r["name"] == "Pricing page visit")
        pricing["points"] = 30
        apply_agreement(session, data, NOW)
        session.commit()
        events = session.scalar(select(func.count()).select_from(Event))
        statements = [0]

        @event.listens_for(services.engine, "before_cursor_execute")
        def _count(*_):
            statements[0] += 1

        later = NOW + timedelta(hours=1)
        stats = rescore_all(session, now=later, chunk=chunk, hand_off=hand_off_by_id)
        event.remove(services.engine, "before_cursor_execute", _count)
        changed = session.scalar(select(func.count()).select_from(Contact).where(Contact.scored_at == later))
    print(f"re-score after a rule change (Pricing page visit 25 → 30 points): {stats.contacts:,} contacts, "
          f"{events:,} events, in {stats.seconds:.1f} s = {stats.contacts / stats.seconds:,.0f} contacts/s "
          f"(chunks of {chunk}; {statements[0]:,} SQL statements in all, "
          f"{statements[0] / max(1, stats.contacts / chunk):.1f} per chunk, most of them the handoffs'); "
          f"{stats.changed:,} changed score or grade; {len(stats.handed_off)} newly qualified and handed off "
          f"({stats.handoff_seconds:.1f} s of the total); {changed:,} rows written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rescore-contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per batch in phase 1")
    parser.add_argument("--single-events", type=int, default=5000, help="events one at a time in phase 1b")
    parser.add_argument("--chunk", type=int, default=1000, help="contacts per transaction when re-scoring")
    args = parser.parse_args()

    from app import create_app
    from app.clock import MovableClock
    from app.config import load_config

    try:
        admin, name, url = scratch_database()
    except Exception as exc:  # noqa: BLE001
        sys.exit(f"PostgreSQL at {PG_ADMIN_URL} is needed: {exc}")
    print(f"scratch database {name} on {PG_ADMIN_URL.rsplit('/', 1)[0]}")
    try:
        config = load_config({"NURTURE_DATABASE_URL": url, "NURTURE_INSTANCE_PATH": "/tmp/nurture-bench",
                              "NURTURE_SECRET_KEY": "bench-0123456789abcdef0123456789abcdef"})
        services = create_app(config, clock=MovableClock(NOW)).extensions["nurture"]
        rnd = random.Random(2026)
        setup(services, NOW)
        ids = create_contacts(services, args.contacts, rnd)
        feed_batches(services, ids, args.events, args.batch, rnd)
        if args.single_events:
            feed_events(services, ids, args.single_events, rnd)
        grow(services, args.rescore_contacts, rnd)
        change_rule_and_rescore(services, args.chunk)
        services.engine.dispose()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
