"""Re-scoring everyone after a rule change: deterministic, batched, equal to the per-event refresh."""
from __future__ import annotations

import copy
import random
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.domain.qualification.agreement import agreement_data, apply_agreement
from app.domain.qualification.qualify import rescore
from app.domain.handoff.hand_off import hand_off_by_id
from app.domain.qualification.rescoring import fingerprint, rescore_all, rescore_due
from app.models import Contact, Handoff
from tests.conftest import ROOT

from .conftest import SITE

PAGES = ["/pricing", "/quote", "/blog/a", "/case-studies/x", "/careers", "/tools/sizing", "/lead-times"]


@pytest.fixture
def crowd(contact, event, synced, clock):
    """Thirty contacts with a random but fixed history of page views, clicks and opens."""
    rnd = random.Random(7)
    people = []
    for i in range(30):
        found = contact(f"p{i}@firm{i % 9}.example", title=rnd.choice(["Controls Engineer", "Buyer", "CFO", "Intern"]),
                        country=rnd.choice(["US", "DE", "JP"]), budget=rnd.choice([None, 5000, 50000]))
        for _ in range(rnd.randint(0, 6)):
            event(found, rnd.choice(["page_view", "content_download", "qr_scan"]), url=SITE + rnd.choice(PAGES),
                  ago=timedelta(days=rnd.randint(0, 60), minutes=rnd.randint(0, 600)))
        people.append(found)
    return people


def change_rules(session, now, *, pricing=40, min_score=None):
    data = copy.deepcopy(agreement_data(session))
    for rule in data["scoring"]["rules"]:
        if rule["name"] == "Pricing page visit":
            rule["points"] = pricing
    if min_score is not None:
        data["qualification"]["min_score"] = min_score
    assert apply_agreement(session, data, now) == 1
    session.commit()


def snapshot(session):
    session.expire_all()
    return {c.id: (c.score, c.grade, c.score_reasons, c.fit_reasons) for c in session.scalars(select(Contact))}


def test_batch_rescore_equals_rescoring_each_contact_alone(crowd, synced, clock):
    """After a rule change, rescore_all gives every contact exactly what the per-contact path gives."""
    clock.advance(timedelta(days=3))
    change_rules(synced, clock.now())
    stats = rescore_all(synced, hand_off=hand_off_by_id, now=clock.now(), chunk=7)
    assert stats.contacts == 30
    batch = snapshot(synced)
    for found in synced.scalars(select(Contact)):
        rescore(synced, found, now=clock.now())
    synced.commit()
    assert snapshot(synced) == batch


def test_rescoring_twice_changes_nothing(crowd, synced, clock):
    """Same events, same rules, same moment: the same scores and reasons."""
    rescore_all(synced, hand_off=hand_off_by_id, now=clock.now())
    first = snapshot(synced)
    stats = rescore_all(synced, hand_off=hand_off_by_id, now=clock.now(), chunk=4)
    assert snapshot(synced) == first and stats.changed == 0


def test_a_lower_threshold_hands_off_contacts_that_now_qualify(crowd, rep, synced, clock):
    """Re-scoring under min_score 20 hands off the nurtured A/B contacts that reach it, once."""
    rep("alex")
    change_rules(synced, clock.now(), min_score=20)
    stats = rescore_all(synced, hand_off=hand_off_by_id, now=clock.now())
    expected = sorted(c.id for c in synced.scalars(select(Contact)) if c.score >= 20 and c.grade in "AB")
    handed = synced.scalars(select(Handoff).where(Handoff.id.in_(stats.handed_off))).all()
    assert sorted(h.contact_id for h in handed) == expected and expected
    assert {h.reason.split(" ≥ ")[1][:2] for h in handed} == {"20"}
    assert rescore_all(synced, hand_off=hand_off_by_id, now=clock.now()).handed_off == []


def test_the_scheduler_rescores_when_the_agreement_changes_and_daily(crowd, synced, services, clock, drain):
    """A changed fingerprint (or a day of decay) fans out re-score jobs; otherwise nothing is scheduled."""
    from workers.scheduler import tick

    assert tick(services)["qualification"]["rescore"] == "first re-score"
    drain()
    assert tick(services)["qualification"]["rescore"] is None
    before = fingerprint(synced)
    change_rules(synced, clock.now(), pricing=5)
    assert fingerprint(synced) != before and rescore_due(synced, now=clock.now()) == "the agreement changed"
    assert tick(services)["qualification"]["rescore"] == "the agreement changed"
    drain()
    synced.expire_all()
    pricing = [r for c in synced.scalars(select(Contact)) for r in c.score_reasons if r["rule"] == "Pricing page visit"]
    assert pricing and {r["points"] for r in pricing} == {5}
    clock.advance(timedelta(hours=25))
    assert tick(services)["qualification"]["rescore"] == "daily re-score (points decay)"


def test_nurture_rescore_command(tmp_path):
    """`nurture rescore` re-scores every contact and prints the figures; bad options are one line."""
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_REDIS_URL": "", "NURTURE_DATABASE_URL": "",
           "NURTURE_SMTP_URL": "", "NURTURE_SECRET_KEY": ""}
    run = lambda *args: CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)  # noqa: E731
    assert run("init").exit_code == 0
    assert run("campaigns", "sync", str(ROOT / "campaigns")).exit_code == 0
    assert run("demo").exit_code == 0
    done = run("rescore")
    assert done.exit_code == 0 and done.output.startswith("re-scored 5 contacts in ")
    bad = run("rescore", "--chunk", "1")
    assert bad.exit_code == 2 and "Invalid value for '--chunk'" in bad.output
    queued = run("rescore", "--queue")
    assert queued.exit_code == 1 and "--queue needs NURTURE_REDIS_URL" in queued.output


def test_nurture_rescore_hands_off_unless_told_not_to(crowd, rep, synced, services, clock):
    """`--no-handoff` only re-scores; without it, contacts that now qualify are handed to a rep."""
    rep("alex")
    change_rules(synced, clock.now(), min_score=20)
    handoffs = lambda: synced.scalar(select(func.count()).select_from(Handoff))  # noqa: E731
    before = handoffs()
    run = lambda *args: CliRunner().invoke(main, list(args), obj=services, catch_exceptions=False)  # noqa: E731
    held = run("rescore", "--no-handoff")
    assert held.exit_code == 0 and ", 0 newly qualified and handed off" in held.output
    assert handoffs() == before
    done = run("rescore")
    assert done.exit_code == 0 and handoffs() > before
    assert f", {handoffs() - before} newly qualified and handed off" in done.output
