"""The whole loop on the embedded default: SQLite, the in-process queue and the outbox."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Enrollment, Event, Handoff, Message, MessageKind
from workers.scheduler import tick

from .loop_steps import PRIYA, parse, run_whole_loop


def test_contact_to_handoff_on_the_embedded_default(synced, services, session, clock, api, client, make_user,
                                                     drain, outbox):
    """A contact from the API is nurtured, engages, qualifies, is handed to a rep, and nurture stops."""
    run_whole_loop(services=services, session=session, clock=clock, api=api, client=client, make_user=make_user,
                   deliver=drain, delivered=lambda: [m.raw.encode() for m in outbox()])


def test_email_queued_before_handoff_is_suppressed_at_send_time(synced, services, session, clock, api, drain,
                                                                outbox, make_user):
    """A step planned just before the handoff is not sent: suppression is re-checked at the last moment."""
    make_user("alex.rep@nurture.example")
    contact = api.post("/api/v1/contacts", json=PRIYA).get_json()
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    assert tick(services)["planned"] == 1  # owed and queued, not yet sent
    assert api.post("/api/v1/events", json={"email": PRIYA["email"], "type": "demo_request"}).status_code == 202
    assert session.scalar(select(Handoff.reason).where(Handoff.contact_id == contact["id"])).startswith("fast track")
    drain()
    session.expire_all()
    nurture = session.scalar(select(Message).where(Message.kind == MessageKind.NURTURE))
    assert nurture.status == "suppressed"
    assert [parse(m.raw)["To"] for m in outbox()] == ["alex.rep@nurture.example"]


def test_sign_up_sends_the_welcome_autoresponder_at_once(synced, services, api, drain, outbox, session):
    """An autoresponder event sends its email without waiting for a send window."""
    api.post("/api/v1/events", json={"email": "new.person@example.org", "type": "sign_up"})
    tick(services)
    drain()
    [sent] = outbox()
    assert parse(sent.raw)["To"] == "new.person@example.org"
    assert session.scalar(select(Event.type).where(Event.type == "sign_up")) == "sign_up"
