"""The buffered path on the embedded default: hits answered at once, written in idempotent batches."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from app.domain.engagement import hits as hit_codec
from app.domain.engagement.drain import drain
from app.infra import hit_buffer
from app.domain.engagement.recording import record_hits
from app.models import Contact, Event
from tests.loop_steps import BROWSER_UA, parts, tracking_paths


@pytest.fixture
def config(config):
    """Hits wait in the queue for a drainer, as in production (not drained inside the request)."""
    return config.with_overrides(extra={"tracking_drain": "queue"})


def _count(session, kind=None):
    session.expire_all()
    query = select(func.count()).select_from(Event)
    return session.scalar(query.where(Event.type == kind) if kind else query)


def test_a_hit_is_answered_at_once_and_written_when_drained(sent, client, services, session, api):
    """The pixel answers before anything reaches the database; the drain writes the open and scores it."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    assert client.get(pixel, headers={"User-Agent": BROWSER_UA}).status_code == 200
    assert _count(session, "email_open") == 0
    assert hit_buffer.backlog(services.redis) == 1
    result = drain(services)
    assert (result.hits, result.written) == (1, 1)
    assert _count(session, "email_open") == 1
    assert api.get(f"/api/v1/contacts/{sent[1]}").get_json()["score"] == 5


def test_a_retried_batch_writes_nothing_twice(sent, services, session, clock):
    """Writing the same batch again (a drainer retried after a crash) adds no row and no points."""
    public_id = sent[0]["Message-ID"].strip("<>").split("@")[0]
    hits = [hit_codec.encode(hit_codec.OPEN, public_id, at=clock.now().timestamp(), user_agent=BROWSER_UA, ip="81.2.69.142")
            for _ in range(3)]
    assert record_hits(services, hits)["written"] == 3
    assert record_hits(services, hits) == {"written": 0, "duplicates": 3, "skipped": 0}
    assert _count(session, "email_open") == 3
    session.expire_all()
    assert session.get(Contact, sent[1]).score == 15  # three opens of 5 points, not six


def test_a_drainer_that_dies_after_claiming_loses_nothing(sent, services, session, clock):
    """A batch claimed by a drainer that never committed goes back to the queue after its lease."""
    public_id = sent[0]["Message-ID"].strip("<>").split("@")[0]
    hit_buffer.push(services.redis, [hit_codec.encode(hit_codec.OPEN, public_id, at=clock.now().timestamp(),
                                               user_agent=BROWSER_UA) for _ in range(4)])
    key, items = hit_buffer.claim(services.redis, 10, time.time())  # …and then the process is killed
    assert len(items) == 4 and services.redis.llen(hit_buffer.QUEUE) == 0
    assert hit_buffer.backlog(services.redis) == 4  # still counted as waiting
    assert hit_buffer.recover_stale(services.redis, now=time.time()) == 0  # within its lease: left alone
    assert hit_buffer.recover_stale(services.redis, now=time.time() + hit_buffer.LEASE_SECONDS + 1) == 4
    assert drain(services).written == 4
    assert hit_buffer.backlog(services.redis) == 0


def test_database_down_hits_are_answered_and_drain_when_it_returns(sent, client, services, session, tmp_path):
    """With the database unreachable, pixels and cached clicks still answer; the backlog drains on return."""
    pixel, clicks = tracking_paths(parts(sent[0])[0])
    assert client.get(clicks[0], headers={"User-Agent": BROWSER_UA}).status_code == 302  # warms the link cache
    working = services.sessions
    services.sessions = sessionmaker(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    try:
        for _ in range(5):
            assert client.get(pixel, headers={"User-Agent": BROWSER_UA}).status_code == 200
            assert client.get(clicks[0], headers={"User-Agent": BROWSER_UA}).status_code == 302
        result = drain(services)
        assert result.error and result.written == 0
        assert hit_buffer.backlog(services.redis) == 11
    finally:
        services.sessions = working
    assert drain(services).written == 11
    assert (_count(session, "email_open"), _count(session, "email_click")) == (5, 6)


def test_a_cold_click_while_the_database_is_down_gets_a_retry_page_and_is_kept(sent, client, services, session,
                                                                              tmp_path):
    """Without a cached destination the visitor is asked to retry (503, never a wrong redirect); the hit is kept."""
    _, clicks = tracking_paths(parts(sent[0])[0])
    working = services.sessions
    services.sessions = sessionmaker(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    try:
        response = client.get(clicks[0], headers={"User-Agent": BROWSER_UA})
        assert response.status_code == 503 and "Location" not in response.headers
        assert response.headers["Retry-After"] == "30"
    finally:
        services.sessions = working
    drain(services)
    [click] = session.scalars(select(Event).where(Event.type == "email_click")).all()
    assert click.properties == {"link": 0} and click.url.endswith("/resources/repeatability-test-report")


def test_a_hit_that_fails_on_its_own_is_kept_aside_and_the_rest_written(sent, services, session, clock,
                                                                        monkeypatch):
    """One poisoned hit goes to the dead-letter list with its error; the others of its batch are written."""
    public_id = sent[0]["Message-ID"].strip("<>").split("@")[0]
    good = [hit_codec.encode(hit_codec.OPEN, public_id, at=clock.now().timestamp(), user_agent=BROWSER_UA) for _ in range(2)]
    bad = hit_codec.encode(hit_codec.OPEN, public_id, at=clock.now().timestamp(), user_agent="poison")
    from app.domain.engagement import recording as hits_module

    real = hits_module._rows

    def rows(services_, session_, hits, now):
        if any(h.user_agent == "poison" for h in hits):
            raise RuntimeError("a bug met this hit")
        return real(services_, session_, hits, now)
    monkeypatch.setattr(hits_module, "_rows", rows)
    hit_buffer.push(services.redis, [good[0], bad, good[1]])
    result = drain(services)
    assert (result.written, result.dead) == (2, 1)
    assert services.redis.llen(hit_buffer.DEAD) == 1 and hit_buffer.backlog(services.redis) == 0


def test_malformed_hits_are_skipped(services):
    """Garbage on the queue (not written by Nurture) is dropped with a warning, not retried forever."""
    hit_buffer.push(services.redis, ["not json", '["x"]'])
    result = drain(services)
    assert (result.hits, result.skipped, result.written) == (2, 2, 0)


def test_the_scheduler_tick_drains_what_is_left(sent, client, services, session):
    """If no drain job ran, the scheduler's tick writes the queued hits."""
    from workers.scheduler import tick

    pixel, _ = tracking_paths(parts(sent[0])[0])
    client.get(pixel, headers={"User-Agent": BROWSER_UA})
    assert tick(services)["tracking"]["written"] == 1
    assert _count(session, "email_open") == 1


def test_hits_from_contacts_who_withdrew_tracking_consent_are_dropped(sent, client, services, session):
    """Consent is checked when the hit is written: a withdrawal after sending means nothing is recorded."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    session.get(Contact, sent[1]).tracking_consent = False
    session.commit()
    client.get(pixel, headers={"User-Agent": BROWSER_UA})
    assert drain(services).skipped == 1
    assert _count(session, "email_open") == 0
