"""message.bounced is owed from both places a bounce is learnt: the relay's 5xx while sending, and a
bounce report (DSN) arriving later."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.contacts.webhook_endpoints import create_endpoint
from app.domain.sending.delivery import send_batch
from app.models import Enrollment, WebhookDelivery
from tests.delivery.conftest import owe_notices, scripted_smtp, smtp_app  # noqa: F401  (fixtures)
from tests.delivery.test_bounce_reports import DSN
from tests.loop_steps import PRIYA, parse
from workers.scheduler import tick


def test_a_bounce_report_owes_message_bounced(synced, services, session, clock, api, client, drain, outbox, api_key,
                                              endpoint, owed):
    """A DSN with 5.1.1 for our message: message.bounced naming the message, the contact and a hard bounce."""
    made = endpoint("https://crm.example/hooks", ["message.bounced"], allow_private=False)
    api.post("/api/v1/contacts", json=PRIYA)
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    message_id = parse(outbox()[-1].raw)["Message-ID"]
    body = DSN.format(address=PRIYA["email"], message_id=message_id).replace("\n", "\r\n").encode()
    response = client.post("/api/v1/bounces", data=body, content_type="message/rfc822",
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    [row] = owed(made.id)
    assert row.payload["bounce"]["kind"] == "hard" and row.payload["contact"]["email_status"] == "bounced"
    assert row.payload["message"]["id"] == message_id.strip("<>").split("@")[0]


@pytest.mark.integration
def test_a_hard_bounce_while_sending_owes_message_bounced(smtp_app, clock, monkeypatch):
    """The relay answers 550 5.1.1: the send settles as bounced and the webhook is owed with the reply."""
    from app.domain.handoff import notices
    from app.domain.messages.rendering import RenderedEmail

    # Notice-like messages without a handoff: what they say does not matter here, only the relay's answer.
    monkeypatch.setattr(notices, "render_handoff_notice",
                        lambda services, message: RenderedEmail(subject="Hello", html="<p>Hi</p>", text="Hi"))
    services = smtp_app.extensions["nurture"]
    with services.sessions() as session:
        create_endpoint(session, {"name": "crm", "url": "https://crm.example/hooks", "events": ["message.bounced"]},
                        actor="test", now=clock.now())
        session.commit()
    ids = owe_notices(services, clock.now(), "bounce@example.org", "ok@example.org")
    assert send_batch(services, ids)["bounced"] == 1
    with services.sessions() as session:
        [row] = session.scalars(select(WebhookDelivery)).all()
    assert row.event == "message.bounced" and row.payload["contact"]["email"] == "bounce@example.org"
    assert "5.1.1" in row.payload["bounce"]["detail"] and row.payload["message"]["kind"] == "notification"
