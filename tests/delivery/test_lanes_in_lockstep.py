"""A send job with several SMTP connections drives them in rounds: one journal write records where
every connection stands, then each hands its message over. A connection that fails stops alone;
the others finish their share, and a broken connection is never handed to the next job."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.sending import journal as send_journal
from app.domain.sending.delivery import send_batch
from app.infra.mail import ConnectionLost
from app.models import Message

from .conftest import owe_notices

pytestmark = pytest.mark.integration


@pytest.fixture
def services(smtp_app, monkeypatch):  # two connections per job (see smtp_app)
    from app.domain.handoff import notices
    from app.domain.messages.rendering import RenderedEmail

    monkeypatch.setattr(notices, "render_handoff_notice",
                        lambda services, message: RenderedEmail(subject="Hello", html="<p>Hi</p>", text="Hi"))
    return smtp_app.extensions["nurture"]


@pytest.fixture
def journal_writes(monkeypatch):
    """Every journal write's positions, as the job asked for them (the real write still happens)."""
    writes: list[dict[int, int]] = []
    real = send_journal.Journal.start_hand_over

    def recording(journal, positions, now):
        writes.append(dict(positions))
        return real(journal, positions, now)

    monkeypatch.setattr(send_journal.Journal, "start_hand_over", recording)
    return writes


def outcomes(services, ids):
    with services.sessions() as session:
        return [session.get(Message, i).status for i in ids]


def test_both_connections_share_one_journal_write_per_round(services, clock, scripted_smtp, journal_writes):
    ids = owe_notices(services, clock.now(), *(f"r{i}@example.org" for i in range(8)))

    counts = send_batch(services, ids)

    assert counts["sent"] == 8 and outcomes(services, ids) == ["sent"] * 8
    assert sorted(scripted_smtp.recipients()) == sorted(f"r{i}@example.org" for i in range(8))
    # Four rounds of two messages: each write moves both connections one message on.
    assert len(journal_writes) == 4
    assert [sorted(write.values()) for write in journal_writes] == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert all(len(write) == 2 for write in journal_writes)


def test_a_lost_connection_stops_only_its_own_share(services, clock, scripted_smtp):
    """The batch alternates between the connections: the first gets r0, hang, r4, r6; the second
    r1, r3, r5, r7. The server never answers the hang message's data (the 1 s timeout runs out)."""
    addresses = ["r0@example.org", "r1@example.org", "hang@example.org", "r3@example.org",
                 "r4@example.org", "r5@example.org", "r6@example.org", "r7@example.org"]
    ids = owe_notices(services, clock.now(), *addresses)

    with pytest.raises(ConnectionLost):  # the job fails visibly, after the other connection finished
        send_batch(services, ids)

    assert outcomes(services, ids) == ["sent", "sent", "unknown", "sent", "pending", "sent", "pending", "sent"]
    accepted = scripted_smtp.recipients()
    for address in ("r0", "r1", "r3", "r5", "r7"):
        assert accepted.count(f"{address}@example.org") == 1
    assert "r4@example.org" not in accepted and "r6@example.org" not in accepted

    # The next job gets a fresh connection: the broken one, whose late answer may still be on its
    # way, must not be reused, or every reply after it would belong to the wrong command.
    clock.advance(timedelta(minutes=5))
    counts = send_batch(services, [ids[4], ids[6]])
    assert counts["sent"] == 2
    assert outcomes(services, ids) == ["sent", "sent", "unknown", "sent", "sent", "sent", "sent", "sent"]
    accepted = scripted_smtp.recipients()
    assert accepted.count("r4@example.org") == 1 and accepted.count("r6@example.org") == 1
