"""What each SMTP answer does to a message and its contact, against a real SMTP server on loopback."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.domain.sending.delivery import send_batch
from app.infra.mail import ConnectionLost
from app.models import Alert, Contact, DomainThrottle, Message

from .conftest import owe_notices

pytestmark = pytest.mark.integration


@pytest.fixture
def services(smtp_app):
    return smtp_app.extensions["nurture"]


@pytest.fixture
def owe(services, clock):
    """Create pending rep-notice-like messages to addresses (no campaign needed)."""
    return lambda *addresses: owe_notices(services, clock.now(), *addresses)


@pytest.fixture(autouse=True)
def _plain_notice(monkeypatch):
    """These tests exercise SMTP answers, not layouts: give notices a fixed body."""
    from app.domain.handoff import notices
    from app.domain.messages.rendering import RenderedEmail

    monkeypatch.setattr(notices, "render_handoff_notice",
                        lambda services, message: RenderedEmail(subject="Hello", html="<p>Hi</p>", text="Hi"))


def statuses(services, ids):
    with services.sessions() as session:
        return [session.get(Message, i) for i in ids]


def test_hard_bounce_suppresses_the_address(services, owe, scripted_smtp):
    """550 5.1.1 marks the message bounced and the contact bounced; other recipients still get theirs."""
    ids = owe("bounce@example.org", "ok@example.org")
    counts = send_batch(services, ids)
    assert counts["bounced"] == 1 and counts["sent"] == 1
    bounced, sent = statuses(services, ids)
    assert bounced.status == "bounced" and "5.1.1" in bounced.smtp_response
    assert sent.status == "sent"
    with services.sessions() as session:
        assert session.scalar(select(Contact.email_status).where(Contact.email == "bounce@example.org")) == "bounced"
    assert scripted_smtp.recipients() == ["ok@example.org"]


def test_temporary_failure_is_retried_later_with_backoff(services, owe, clock, scripted_smtp):
    """451 puts the message back with a backoff; after that time it is sent once."""
    [mid] = owe("later@example.org")
    assert send_batch(services, [mid])["retry"] == 1
    [message] = statuses(services, [mid])
    assert message.status == "pending" and message.attempts == 1
    wait = message.next_attempt_at - clock.now()
    assert timedelta(seconds=45) <= wait <= timedelta(seconds=75)
    assert send_batch(services, [mid])["skipped"] == 1  # not before its time
    clock.advance(wait)
    assert send_batch(services, [mid])["sent"] == 1
    assert scripted_smtp.recipients() == ["later@example.org"]


def test_provider_rate_limit_throttles_the_domain_instead_of_suppressing(services, owe, clock):
    """421 4.7.28 pauses that domain for a while, without counting an attempt or touching the contact."""
    ids = owe("rate@slow.example", "other@slow.example", "fine@fast.example")
    assert send_batch(services, ids[:1])["deferred"] == 1
    counts = send_batch(services, ids[1:])  # the pause holds every later message to that domain
    assert counts["sent"] == 1 and counts["deferred"] == 1
    with services.sessions() as session:
        pause = session.get(DomainThrottle, "slow.example")
        assert pause.paused_until > clock.now()
        assert session.scalar(select(Contact.email_status).where(Contact.email == "rate@slow.example")) == "active"
    rate, other, fine = statuses(services, ids)
    assert rate.attempts == 0 and rate.status == other.status == "pending"
    assert fine.status == "sent"


def test_policy_rejection_pauses_the_domain_and_alerts_an_admin(services, owe):
    """550 5.7.1 raises one alert and pauses the domain."""
    ids = owe("policy@strict.example", "policy2@strict.example")
    send_batch(services, ids)
    with services.sessions() as session:
        alerts = session.scalars(select(Alert)).all()
        assert [a.subject for a in alerts] == ["strict.example refused mail on policy"]
        assert session.get(DomainThrottle, "strict.example") is not None


def test_content_rejection_fails_only_that_message(services, owe):
    """554 5.6.0 at DATA fails the message; the connection carries the next one."""
    ids = owe("reject@example.org", "after@example.org")
    counts = send_batch(services, ids)
    failed, sent = statuses(services, ids)
    assert failed.status == "failed" and "5.6.0" in failed.error
    assert sent.status == "sent" and counts["sent"] == 1


def test_no_answer_after_the_data_leaves_the_message_unknown_not_resent(services, owe, clock, scripted_smtp):
    """A server silent after the final dot may have accepted the message: it becomes unknown."""
    from workers.scheduler import tick

    [mid] = owe("hang@example.org")
    with pytest.raises(ConnectionLost):
        send_batch(services, [mid])
    [message] = statuses(services, [mid])
    assert message.status == "unknown"
    clock.advance(timedelta(hours=1))
    tick(services)
    assert statuses(services, [mid])[0].status == "unknown"


def test_unreachable_server_fails_the_job_and_keeps_messages_owed(smtp_app, owe, scripted_smtp, clock):
    """Connection refused: the job raises for RQ, the messages go back to pending for a retry."""
    services = smtp_app.extensions["nurture"]
    ids = owe("a@example.org", "b@example.org")
    scripted_smtp.controller.stop()
    with pytest.raises(ConnectionLost):
        send_batch(services, ids)
    assert {m.status for m in statuses(services, ids)} == {"pending"}
    from aiosmtpd.controller import Controller

    scripted_smtp.controller = Controller(scripted_smtp, hostname="127.0.0.1", port=scripted_smtp.port)
    scripted_smtp.controller.start()
    clock.advance(timedelta(minutes=5))
    assert send_batch(services, ids)["sent"] == 2


def test_connections_to_the_relay_are_capped_across_workers(services, owe, clock):
    """With every slot held elsewhere, a job sends nothing and leaves its messages owed for later."""
    import time

    from app.infra.relay_slots import relay_slot

    ids = owe("x@example.org")
    smtp = services.config.smtp
    with relay_slot(services.redis, f"{smtp.host}:{smtp.port}", limit=1, lease_seconds=30) as held:
        assert held
        services.config = services.config.with_overrides(smtp_max_connections=1)
        started = time.monotonic()
        counts = send_batch(services, ids)
    assert counts["sent"] == 0 and counts["retry"] == 1
    assert statuses(services, ids)[0].status == "pending"
    clock.advance(timedelta(minutes=2))
    assert send_batch(services, ids)["sent"] == 1  # the slot is free again
    assert time.monotonic() - started < 30
