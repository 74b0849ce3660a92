"""One SMTP connection carrying a run of messages whose answers differ, in order: each message
gets its own outcome and the connection goes on. With a PIPELINING server the next envelope rides
behind the current message's content, so a refusal of one must not leak into its neighbours."""
from __future__ import annotations

import pytest

from app import create_app
from app.config import load_config
from app.domain.sending.delivery import send_batch
from app.models import Base, Message, SendLane

from .conftest import owe_notices


@pytest.fixture
def one_lane(tmp_path, clock, scripted_smtp, monkeypatch):
    from app.domain.handoff import notices
    from app.domain.messages.rendering import RenderedEmail

    monkeypatch.setattr(notices, "render_handoff_notice",
                        lambda services, message: RenderedEmail(subject="Hello", html="<p>Hi</p>", text="Hi"))
    config = load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_SECRET_KEY": "test-0123456789abcdef0123456789abcdef", "NURTURE_SMTP_CONNECTIONS": "1",
                          "NURTURE_SMTP_URL": f"smtp://127.0.0.1:{scripted_smtp.port}?timeout=1"})
    app = create_app(config.with_overrides(testing=True), clock=clock)
    services = app.extensions["nurture"]
    Base.metadata.create_all(services.engine)
    yield services
    services.engine.dispose()


def test_each_message_on_one_connection_gets_its_own_outcome(one_lane, clock, scripted_smtp):
    addresses = ["a@example.org", "bounce@example.org", "b@example.org", "reject@example.org",
                 "later@example.org", "c@example.org", "policy@strict.example", "d@example.org"]
    ids = owe_notices(one_lane, clock.now(), *addresses)

    counts = send_batch(one_lane, ids)

    with one_lane.sessions() as session:
        outcome = {m.to_email: m.status for m in session.query(Message).filter(Message.id.in_(ids))}
        assert outcome == {
            "a@example.org": "sent", "bounce@example.org": "bounced", "b@example.org": "sent",
            "reject@example.org": "failed", "later@example.org": "pending", "c@example.org": "sent",
            "policy@strict.example": "pending", "d@example.org": "sent"}
        sent = session.query(Message).filter(Message.status == "sent").all()
        assert all(m.smtp_response.startswith("250") and m.message_id_header for m in sent)
        assert session.query(SendLane).count() == 0  # the lane's journal is settled and gone
    assert scripted_smtp.recipients() == ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
    assert counts["sent"] == 4 and counts["bounced"] == 1 and counts["failed"] == 1 and counts["retry"] == 2
