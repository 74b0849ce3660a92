"""Sales' answers: decisions with configured reasons, ratings, outcomes, and recycling into nurture."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, ValidationError
from app.domain.handoff.feedback import add_feedback, record_outcome, recycle, respond
from app.domain.settings import put_setting
from app.models import Enrollment, Feedback, HandoffEvent, Message, MessageKind, StageTransition
from workers.scheduler import tick

from .conftest import SITE, reload


@pytest.fixture
def alex(rep):
    return rep("alex")


def stages(session, contact_id):
    return session.scalars(select(StageTransition.to_value).where(
        StageTransition.contact_id == contact_id, StageTransition.attribute == "stage")
        .order_by(StageTransition.id)).all()


def test_accepting_with_reasons_rating_and_comment(alex, lead, synced, clock):
    """Accept with an accept reason, 5 stars and a comment: the lead is SAL and everything is kept."""
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=True, rating=5, reasons=["budget confirmed"], comment=" Call set. ",
            now=clock.now())
    synced.commit()
    feedback = synced.scalar(select(Feedback))
    assert (feedback.decision, feedback.rating, feedback.reasons, feedback.comment) == (
        "accept", 5, ["budget confirmed"], "Call set.")
    assert reload(synced, handoff.contact).stage == "sal"
    assert synced.scalar(select(HandoffEvent.kind).order_by(HandoffEvent.id.desc())) == "accepted"


def test_reject_reasons_come_from_the_configured_list(alex, lead, synced, clock):
    """A reason not in feedback.reject_reasons is refused naming the field; the configured list decides."""
    handoff = lead("priya@acme.example")
    with pytest.raises(ValidationError) as refused:
        respond(synced, handoff, alex, accept=False, rating=2, reasons=["too tall"], comment="", now=clock.now())
    assert refused.value.field == "reasons" and "choose from not the decision maker" in refused.value.message
    with pytest.raises(ValidationError) as mixed:  # a reject reason does not explain an acceptance
        respond(synced, handoff, alex, accept=True, rating=4, reasons=["no budget"], comment="", now=clock.now())
    assert mixed.value.field == "reasons" and "choose from budget confirmed" in mixed.value.message
    put_setting(synced, "feedback", {"reject_reasons": ["too tall"]}, clock.now())
    respond(synced, handoff, alex, accept=False, rating=2, reasons=["too tall"], comment="", now=clock.now())
    assert handoff.status == "rejected"


@pytest.mark.parametrize("rating", [0, 6, "4", True])
def test_rating_is_a_number_from_one_to_five(alex, lead, synced, clock, rating):
    """Ratings outside 1–5 (or not numbers) are refused on the rating field."""
    with pytest.raises(ValidationError) as refused:
        respond(synced, lead("p@acme.example"), alex, accept=True, rating=rating, reasons=[], comment="",
                now=clock.now())
    assert refused.value.field == "rating"


def test_outcome_goes_opportunity_then_won_with_the_amount(alex, lead, synced, clock):
    """An accepted lead becomes an opportunity, then won with its amount; each stage recorded."""
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=True, rating=4, reasons=[], comment="", now=clock.now())
    record_outcome(synced, handoff, alex, outcome="opportunity", now=clock.now())
    with pytest.raises(ValidationError) as no_amount:
        record_outcome(synced, handoff, alex, outcome="won", now=clock.now())
    assert no_amount.value.field == "amount"
    record_outcome(synced, handoff, alex, outcome="won", amount=48000, now=clock.now())
    synced.commit()
    assert (handoff.outcome, handoff.outcome_amount, handoff.outcome_at) == ("won", 48000, clock.now())
    assert stages(synced, handoff.contact_id)[-3:] == ["sal", "opportunity", "won"]
    with pytest.raises(Conflict):
        record_outcome(synced, handoff, alex, outcome="lost", reason="price", now=clock.now())


def test_lost_needs_a_reason_from_the_list_and_only_accepted_leads_have_outcomes(alex, lead, synced, clock):
    """Lost without a listed reason is refused; a pending lead cannot have an outcome yet."""
    handoff = lead("priya@acme.example")
    with pytest.raises(Conflict):
        record_outcome(synced, handoff, alex, outcome="won", amount=1, now=clock.now())
    respond(synced, handoff, alex, accept=True, rating=3, reasons=[], comment="", now=clock.now())
    with pytest.raises(ValidationError) as refused:
        record_outcome(synced, handoff, alex, outcome="lost", reason="aliens", now=clock.now())
    assert refused.value.field == "reason" and "price" in refused.value.message
    with pytest.raises(ValidationError) as bad:
        record_outcome(synced, handoff, alex, outcome="maybe", now=clock.now())
    assert bad.value.field == "outcome"
    record_outcome(synced, handoff, alex, outcome="lost", reason="price", now=clock.now())
    assert reload(synced, handoff.contact).stage == "lost"


def test_later_feedback_adds_a_rating_after_the_decision(alex, lead, synced, clock):
    """The review asks for missing ratings: a rating can follow the decision, not precede it."""
    handoff = lead("priya@acme.example")
    with pytest.raises(Conflict):
        add_feedback(synced, handoff, alex, rating=3, reasons=[], comment="", now=clock.now())
    respond(synced, handoff, alex, accept=True, rating=None, reasons=[], comment="", now=clock.now())
    add_feedback(synced, handoff, alex, rating=3, reasons=[], comment="Slow to reply.", now=clock.now())
    assert [f.decision for f in synced.scalars(select(Feedback).order_by(Feedback.id))] == ["accept", "comment"]


def test_recycling_resets_the_score_and_enters_the_recycle_campaign(alex, lead, event, synced, clock):
    """A rejected lead goes back to nurture: earlier events stop counting and the recycle drip starts."""
    handoff = lead("priya@acme.example")
    contact = handoff.contact
    assert contact.score > 0
    respond(synced, handoff, alex, accept=False, rating=2, reasons=["no budget"], comment="", now=clock.now())
    assert handoff.recycled_at is None  # "no budget" is not a recycle-on reason in the shipped agreement
    clock.advance(timedelta(hours=1))
    recycle(synced, handoff, now=clock.now(), actor="user:marketer")
    synced.commit()
    contact = reload(synced, contact)
    assert (contact.stage, contact.score, contact.score_reset_at) == ("nurturing", 0, clock.now())
    assert stages(synced, contact.id)[-3:] == ["handed_off", "rejected", "nurturing"]
    [recycled] = synced.scalars(select(Enrollment).where(Enrollment.contact_id == contact.id,
                                                         Enrollment.source == "recycle")).all()
    assert recycled.campaign.slug == "recycle" and recycled.status == "active"
    with pytest.raises(Conflict):
        recycle(synced, reload(synced, handoff), now=clock.now(), actor="x")
    event(contact, "page_view", url=f"{SITE}/pricing")
    assert reload(synced, contact).score == 25  # only the new visit counts


def test_rejecting_for_recycle_reasons_recycles_at_once(alex, lead, synced, clock):
    """When every reason given is listed under recycle.on_reject, the lead goes back to nurture itself."""
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=False, rating=3, reasons=["bad timing"], comment="", now=clock.now())
    synced.commit()
    assert handoff.recycled_at == clock.now()
    assert reload(synced, handoff.contact).stage == "nurturing"


def test_lost_for_a_recycle_reason_recycles(alex, lead, synced, clock):
    """A deal lost for 'went dark' returns to nurture (recycle.on_lost)."""
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=True, rating=4, reasons=[], comment="", now=clock.now())
    record_outcome(synced, handoff, alex, outcome="lost", reason="went dark", now=clock.now())
    assert handoff.recycled_at == clock.now() and handoff.contact.stage == "nurturing"


def test_a_recycled_lead_gets_recycle_emails_and_can_qualify_again(alex, lead, event, synced, services, clock, drain,
                                                                    outbox):
    """After recycling only the recycle campaign writes; a new demo request hands it off again."""
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=False, rating=3, reasons=["bad timing"], comment="", now=clock.now())
    synced.commit()
    for _ in range(6):  # let weeks pass: only recycle steps may be sent
        clock.advance(timedelta(days=15))
        tick(services)
        drain()
    synced.expire_all()
    nurture = synced.scalars(select(Message).where(Message.contact_id == handoff.contact_id,
                                                   Message.kind == MessageKind.NURTURE,
                                                   Message.status == "sent")).all()
    assert nurture and {m.campaign.slug for m in nurture} == {"recycle"}
    event(reload(synced, handoff.contact), "demo_request")
    synced.expire_all()
    second = synced.scalars(select(Enrollment).where(Enrollment.contact_id == handoff.contact_id)).all()
    assert all(e.status != "active" for e in second)
    assert reload(synced, handoff.contact).stage == "handed_off"
