"""Who gets a lead: owner, account owner, territory (region, industry, size), round-robin, weekly caps."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from app.domain.handoff.assignment import in_territory, territory_problems, week_start
from app.domain.handoff.hand_off import release_queued
from app.models import Contact, Handoff, HandoffEvent

from .conftest import reload


def test_round_robin_gives_each_rep_the_same_number_of_leads(rep, lead):
    """Nine leads over three reps without territories: three each, in turn."""
    reps = [rep("alex"), rep("jordan"), rep("casey")]
    handoffs = [lead(f"lead{i}@company{i}.example") for i in range(9)]
    assert [h.assignment for h in handoffs] == ["round robin"] * 9
    assert [h.rep_id for h in handoffs[:3]] == [r.id for r in reps]
    assert Counter(h.rep_id for h in handoffs) == {r.id: 3 for r in reps}


def test_account_owner_gets_the_next_contact_from_the_same_company(rep, lead):
    """A second person at acme.example goes to the rep who has the account, not the next in turn."""
    alex, jordan = rep("alex"), rep("jordan")
    first = lead("priya@acme.example")
    second = lead("omar@acme.example")
    assert first.rep_id == alex.id
    assert (second.rep_id, second.assignment) == (alex.id, "account owner")
    assert lead("sam@other.example").rep_id == jordan.id


def test_free_mail_domains_are_not_accounts(rep, lead):
    """Two gmail.com contacts are not one company: round-robin applies."""
    alex, jordan = rep("alex"), rep("jordan")
    assert lead("one@gmail.com", budget=90000).rep_id == alex.id
    second = lead("two@gmail.com", budget=90000)
    assert (second.rep_id, second.assignment) == (jordan.id, "round robin")


def test_existing_owner_keeps_the_contact(rep, contact, event, synced, clock):
    """A contact whose owner is set goes to that owner, whoever is next in turn."""
    rep("alex")
    jordan = rep("jordan")
    found = contact("kim@kimco.example")
    found.owner_id = jordan.id
    synced.commit()
    event(found, "demo_request")
    handoff = synced.scalar(select(Handoff))
    assert (handoff.rep_id, handoff.assignment) == (jordan.id, "owner")


def test_territory_by_region_industry_and_company_size(rep, lead):
    """EMEA automotive mid-size goes to its territory rep; other leads go to the generalist."""
    generalist = rep("alex")
    emea = rep("greta", territory={"regions": ["EMEA"], "industries": ["automotive"], "company_size": [200, 5000]})
    apac = rep("hiro", territory={"regions": ["APAC"]})
    de = lead("tom@fahrwerk.example", country="DE", industry="automotive", company_size=2400)
    assert (de.rep_id, de.assignment) == (emea.id, "territory")
    small = lead("ute@kleinbau.example", country="DE", industry="automotive", company_size=60)
    assert (small.rep_id, small.assignment) == (generalist.id, "round robin")
    jp = lead("kenji@packright.example", country="JP", industry="packaging", company_size=90, budget=20000)
    assert (jp.rep_id, jp.assignment) == (apac.id, "territory")


def test_territory_matching_needs_every_key_and_known_fields():
    """A territory matches only when every key it sets matches; an unknown field does not match."""
    contact = Contact(country="FR", industry="packaging", company_size=None, segment="small")
    assert in_territory({"regions": ["emea"]}, contact)
    assert in_territory({"countries": ["fr"], "segments": ["small"]}, contact)
    assert not in_territory({"regions": ["EMEA"], "company_size": [1, 100]}, contact)
    assert not in_territory({}, contact)


def test_territory_problems_name_the_key():
    """Bad territories are refused with the key and what is expected."""
    assert territory_problems({"regions": ["EMEA"], "company_size": [10, 500]}) == []
    assert territory_problems({"region": ["EMEA"]}) == ["territory.region: unknown key (use countries, regions, industries, company_size, segments)"]
    assert "not one of NA, LATAM, EMEA, APAC" in territory_problems({"regions": ["Mars"]})[0]
    assert "low ≤ high" in territory_problems({"company_size": [500, 10]})[0]
    assert "non-empty list" in territory_problems({"industries": "automotive"})[0]


def test_weekly_cap_queues_the_overflow_and_releases_it_by_score_next_week(rep, lead, synced, clock):
    """With a cap of 2, the third and fourth leads wait; on Monday the higher-scoring one goes first."""
    alex = rep("alex", weekly_cap=2)
    clock.set(week_start(clock.now()) + timedelta(days=2))
    a, b = lead("a@one.example"), lead("b@two.example")
    low = lead("c@three.example", budget=20000)
    high = lead("d@four.example", budget=20000)
    assert [h.status for h in (a, b, low, high)] == ["pending", "pending", "queued", "queued"]
    assert reload(synced, low.contact).stage == "mql"  # qualified, nurture stopped, waiting for a rep
    assert reload(synced, low).rep_id is None and low.respond_by is None
    high.contact.score, low.contact.score = 300, 120
    synced.commit()
    assert release_queued(synced, now=clock.now()) == 0   # still this week
    clock.set(week_start(clock.now()) + timedelta(days=7, hours=9))
    assert release_queued(synced, now=clock.now()) == 2
    synced.commit()
    high, low = reload(synced, high), reload(synced, low)
    assert (high.status, high.rep_id, low.rep_id) == ("pending", alex.id, alex.id)
    assert high.assigned_at == low.assigned_at == clock.now()
    kinds = synced.scalars(select(HandoffEvent.kind).where(HandoffEvent.handoff_id == high.id)
                           .order_by(HandoffEvent.id)).all()
    assert kinds == ["queued", "released"]
    assert reload(synced, high.contact).stage == "handed_off"
    assert synced.scalar(select(Handoff.id).where(Handoff.status == "queued")) is None


def test_release_order_follows_the_score(rep, lead, synced, clock):
    """With room for one, the queued lead with the higher score is released, the other keeps waiting."""
    alex = rep("alex", weekly_cap=1)
    clock.set(week_start(clock.now()) + timedelta(days=1))
    lead("first@one.example")
    low, high = lead("low@two.example"), lead("high@three.example")
    low.contact.score, high.contact.score = 110, 400
    synced.commit()
    clock.advance(timedelta(days=7))
    assert release_queued(synced, now=clock.now()) == 1
    assert (reload(synced, high).rep_id, reload(synced, low).status) == (alex.id, "queued")


def test_a_rep_without_cap_is_used_when_the_capped_one_is_full(rep, lead):
    """Caps are per rep: the pool's other rep takes the lead instead of queueing it."""
    alex, jordan = rep("alex", weekly_cap=1), rep("jordan")
    handoffs = [lead(f"x{i}@c{i}.example") for i in range(4)]
    assert [h.rep_id for h in handoffs] == [alex.id, jordan.id, jordan.id, jordan.id]


def test_default_weekly_cap_from_the_agreement(rep, lead, synced, clock):
    """handoff.weekly_cap applies to reps without their own cap."""
    from app.domain.settings import put_setting

    put_setting(synced, "handoff", {"weekly_cap": 1}, clock.now())
    synced.commit()
    rep("alex")
    assert [lead(f"y{i}@d{i}.example").status for i in range(2)] == ["pending", "queued"]


def test_without_any_rep_the_lead_waits_and_goes_to_the_first_rep_who_joins(rep, lead, synced, clock):
    """No active rep: the lead is queued, nurture stops; a new rep gets it at the next release."""
    handoff = lead("early@bird.example")
    assert (handoff.status, handoff.assignment) == ("queued", "queued: unassigned")
    alex = rep("alex")
    assert release_queued(synced, now=clock.now()) == 1
    assert reload(synced, handoff).rep_id == alex.id
