"""The response SLA: unanswered leads are escalated to the manager or reassigned, and it is recorded."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.domain.settings import put_setting
from app.domain.handoff.sla import enforce_sla
from app.models import HandoffEvent, Message, StageTransition
from workers.scheduler import tick

from .conftest import reload


def events_of(session, handoff):
    return session.scalars(select(HandoffEvent).where(HandoffEvent.handoff_id == handoff.id)
                           .order_by(HandoffEvent.id)).all()


def test_an_unanswered_lead_is_escalated_to_the_reps_manager(rep, lead, synced, services, clock, drain, outbox):
    """48 hours without an answer: the scheduler escalates to the rep's manager, who is emailed."""
    boss = rep("morgan", role="sales_manager")
    rep("other-boss", role="sales_manager")
    alex = rep("alex", manager=boss)
    handoff = lead("priya@acme.example")
    assert handoff.respond_by == clock.now() + timedelta(hours=48)
    clock.advance(timedelta(hours=47))
    tick(services)
    assert reload(synced, handoff).status == "pending"
    clock.advance(timedelta(hours=2))
    result = tick(services)
    assert result["qualification"]["sla"] == {"reassigned": 0, "escalated": 1}
    handoff = reload(synced, handoff)
    assert (handoff.status, handoff.escalated_to_id, handoff.escalated_at) == ("escalated", boss.id, clock.now())
    assert handoff.rep_id == alex.id  # still the rep's lead; the manager now decides or reassigns
    [*_, escalated] = events_of(synced, handoff)
    assert escalated.kind == "escalated" and escalated.to_rep_id == boss.id
    assert "no answer within the SLA; 1 hours overdue; escalated to morgan@nurture.test" == escalated.detail
    sla = synced.scalar(select(StageTransition).where(StageTransition.attribute == "sla"))
    assert (sla.from_value, sla.to_value, sla.actor) == ("pending", "escalated", "sla")
    drain()
    [notice] = [m for m in outbox() if m.to_email == boss.email]
    assert notice.subject == "Lead not answered in time: Priya Shah at Acme Automation"
    assert "was asked to accept or reject it by" in notice.raw
    tick(services)
    assert len(synced.scalars(select(Message).where(Message.dedupe_key.like("%escalated"))).all()) == 1


def test_without_a_manager_of_their_own_the_first_sales_manager_is_used(rep, lead, synced, clock):
    """A rep with no manager set escalates to the first active sales manager."""
    boss = rep("morgan", role="sales_manager")
    rep("alex")
    handoff = lead("priya@acme.example")
    clock.advance(timedelta(hours=49))
    enforce_sla(synced, now=clock.now())
    assert handoff.escalated_to_id == boss.id


def test_reassign_gives_the_lead_to_another_rep_with_a_new_clock(rep, lead, synced, clock, services, drain, outbox):
    """With sla_action reassign, the lead moves to the next rep, who gets the notice and 48 new hours."""
    put_setting(synced, "handoff", {"sla_action": "reassign", "max_reassignments": 1}, clock.now())
    synced.commit()
    alex, jordan = rep("alex"), rep("jordan")
    boss = rep("morgan", role="sales_manager")
    handoff = lead("priya@acme.example")
    assert handoff.rep_id == alex.id
    clock.advance(timedelta(hours=50))
    assert enforce_sla(synced, now=clock.now()) == {"reassigned": 1, "escalated": 0}
    synced.commit()
    handoff = reload(synced, handoff)
    assert (handoff.rep_id, handoff.status, handoff.reassignments) == (jordan.id, "pending", 1)
    assert handoff.respond_by == clock.now() + timedelta(hours=48)
    assert reload(synced, handoff.contact).owner_id == jordan.id
    kinds = [(e.kind, e.from_rep_id, e.to_rep_id) for e in events_of(synced, handoff)]
    assert kinds == [("assigned", None, alex.id), ("reassigned", alex.id, jordan.id)]
    owner = synced.scalar(select(StageTransition).where(StageTransition.attribute == "owner"))
    assert (owner.from_value, owner.to_value) == (str(alex.id), str(jordan.id))
    drain()
    assert [m.to_email for m in outbox()].count(jordan.email) == 1
    clock.advance(timedelta(hours=49))  # the second rep lets it pass too: now it is escalated
    assert enforce_sla(synced, now=clock.now()) == {"reassigned": 0, "escalated": 1}
    assert handoff.escalated_to_id == boss.id


def test_reassign_falls_back_to_escalation_when_nobody_else_can_take_it(rep, lead, synced, clock):
    """The only rep cannot be given the lead again: it is escalated instead."""
    put_setting(synced, "handoff", {"sla_action": "reassign"}, clock.now())
    rep("alex")
    handoff = lead("priya@acme.example")
    clock.advance(timedelta(hours=49))
    assert enforce_sla(synced, now=clock.now()) == {"reassigned": 0, "escalated": 1}
    assert handoff.status == "escalated" and handoff.escalated_to_id is None
    assert "nobody (no active sales manager)" in events_of(synced, handoff)[-1].detail


def test_answered_leads_are_never_escalated(rep, lead, synced, clock):
    """A lead accepted in time stays accepted after its respond-by moment."""
    from app.domain.handoff.feedback import respond

    alex = rep("alex")
    handoff = lead("priya@acme.example")
    respond(synced, handoff, alex, accept=True, rating=4, reasons=[], comment="", now=clock.now())
    clock.advance(timedelta(days=5))
    assert enforce_sla(synced, now=clock.now()) == {"reassigned": 0, "escalated": 0}


def test_sla_hours_come_from_the_agreement(rep, lead, synced, clock):
    """qualification.sla_hours sets the respond-by time."""
    put_setting(synced, "qualification", {"sla_hours": 4}, clock.now())
    synced.commit()
    rep("alex")
    assert lead("priya@acme.example").respond_by == clock.now() + timedelta(hours=4)
