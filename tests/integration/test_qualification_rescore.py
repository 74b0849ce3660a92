"""Re-scoring after a rule change on PostgreSQL through RQ: jobs fanned out per id range, run by a real
worker process, give every contact exactly the score the per-contact path gives."""
from __future__ import annotations

import copy
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.qualification.agreement import agreement_data, apply_agreement
from app.domain.campaigns.sync import sync_directory
from app.domain.contacts.records import rule_fields
from app.domain.handoff.periodic import enqueue_rescore
from app.domain.qualification.qualify import contact_events, load_agreement, score_values
from app.models import Contact, Event
from tests.conftest import ROOT

from .conftest import wait_for

pytestmark = pytest.mark.integration
PAGES = ["/pricing", "/quote", "/blog/a", "/case-studies/x", "/careers", "/tools/sizing"]


def test_rescore_jobs_on_postgres_match_the_per_contact_path(prod_app, prod_clock, worker_processes):
    """6,000 contacts in two ranges re-scored by two workers; each equals a fresh per-contact score."""
    services = prod_app.extensions["nurture"]
    now = prod_clock.now()
    rnd = random.Random(3)
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        contacts = [Contact(email=f"c{i}@firm{i % 500}.example", email_domain=f"firm{i % 500}.example",
                            title=rnd.choice(["Engineer", "CFO", None]), industry="manufacturing", country="US",
                            company_size=rnd.choice([20, 800]), fields={}, score=0, grade="D", score_reasons=[],
                            fit_reasons={}, stage="nurturing", created_at=now, updated_at=now) for i in range(6_000)]
        session.add_all(contacts)
        session.flush()
        session.add_all(Event(contact_id=c.id, type="page_view", url="https://x.example" + rnd.choice(PAGES),
                              occurred_at=now - timedelta(days=rnd.randint(0, 40), minutes=rnd.randint(0, 900)),
                              properties={}, created_at=now)
                        for c in contacts for _ in range(rnd.randint(0, 4)))
        data = copy.deepcopy(agreement_data(session))
        data["scoring"]["half_life_days"] = 0  # no decay: the worker's clock and ours give the same scores
        data["scoring"]["rules"][0]["points"] = 40
        data["qualification"]["min_score"] = 10_000  # nobody is handed off; this test is about scores
        apply_agreement(session, data, now)
        session.commit()
        assert enqueue_rescore(services, session) == 2
    worker_processes(2)

    def finished():
        with services.sessions() as s:
            return s.scalar(select(func.count()).select_from(Contact).where(Contact.scored_at.is_(None))) == 0
    wait_for(finished, timeout=120, what="the workers to re-score every contact")
    with services.sessions() as session:
        agreement = load_agreement(session)
        mismatches = 0
        for contact in session.scalars(select(Contact).order_by(Contact.id)):
            expected = score_values(agreement, rule_fields(contact), contact_events(session, contact),
                                    now=contact.scored_at, reset_at=None)
            got = {k: getattr(contact, k) for k in ("score", "grade", "score_reasons", "fit_reasons")}
            mismatches += got != {k: expected[k] for k in got}
        pricing = session.scalar(select(func.count()).select_from(Contact).where(Contact.score >= 40))
    assert mismatches == 0 and pricing > 500
