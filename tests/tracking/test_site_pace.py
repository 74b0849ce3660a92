"""Page-view beacons at a human pace: a contact's site token cannot be used to pour page views into the
contact's score. Beacons per token are limited at the door; views beyond a person's pace are kept but
marked machine, so they never score."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest
from sqlalchemy import func, select

from app.domain.engagement.pace import BEACON_LIMITS, TOO_LONG, TOO_MANY, judge
from app.domain.engagement.site import set_site_domains
from app.infra import counters
from app.models import Contact, Event, Handoff
from tests.loop_steps import BROWSER_UA, parts, tracking_paths

SITE = "https://www.brightline.example"
PAGES = ["/pricing", "/quote", "/lead-times", "/tools/sizing", "/case-studies/a", "/products/bl-40"]


@pytest.fixture
def token(sent, client, session, clock):
    """Priya's site token, from a click on her email to the marketer's site."""
    set_site_domains(session, ["brightline.example"], now=clock.now())
    session.commit()
    _, clicks = tracking_paths(parts(sent[0])[0])
    location = client.get(clicks[0], headers={"User-Agent": BROWSER_UA}).headers["Location"]
    return parse_qs(urlsplit(location).query)["nt"][0]


def _beacon(client, token, views, prefix):
    body = json.dumps({"t": token, "v": "visitor0001", "views": [
        {"id": f"{prefix}{i:06d}", "u": SITE + url, "ti": "Page", "s": seconds, "n": 1}
        for i, (url, seconds) in enumerate(views)]})
    return client.post("/t/s/collect", data=body, content_type="text/plain;charset=UTF-8",
                       headers={"User-Agent": BROWSER_UA, "Origin": SITE})


def _views(session, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Event).where(Event.type == "page_view", *where))


def test_two_beacons_full_of_page_views_no_longer_hand_a_contact_to_sales(sent, token, client, session):
    """Two beacons of 50 views each used to take the contact past 100 points and to a handoff. The views
    are kept, but only a minute's worth of human reading scores; the rest are machine with a reason."""
    for prefix in ("beaconA", "beaconB"):
        assert _beacon(client, token, [(PAGES[i % len(PAGES)], 5) for i in range(50)], prefix).status_code == 204
    assert _views(session) == 100
    assert _views(session, Event.is_machine.is_(False)) == 10
    assert _views(session, Event.machine_reason == TOO_MANY) == 90
    contact = session.get(Contact, sent[1])
    assert contact.score < 100 and session.scalar(select(func.count()).select_from(Handoff)) == 0


def test_reading_at_a_persons_pace_still_scores(sent, token, client, session, clock):
    """One page a minute, each read for 40 seconds: every view is human and the pricing visits score."""
    before = session.get(Contact, sent[1]).score
    for minute in range(4):
        assert _beacon(client, token, [(PAGES[minute], 40)], f"slow{minute}x").status_code == 204
        clock.advance(timedelta(minutes=1))
    assert _views(session, Event.is_machine.is_(False)) == 4
    session.expire_all()
    assert session.get(Contact, sent[1]).score > before


def test_a_flood_of_beacons_from_one_token_is_refused_at_the_door(sent, token, client, session, clock):
    """The eleventh beacon within ten seconds is answered 429 with Retry-After (and CORS, so the page's
    console says why) and records nothing; once the burst window passes, beacons are taken again."""
    codes = [_beacon(client, token, [("/blog/a", 5)], f"burst{i:02d}").status_code for i in range(11)]
    assert codes == [204] * 10 + [429]
    refused = _beacon(client, token, [("/blog/b", 5)], "refused1")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert _views(session) == 10
    clock.advance(timedelta(seconds=11))
    assert _beacon(client, token, [("/blog/c", 5)], "later001").status_code == 204
    assert _views(session) == 11


def test_the_hourly_limit_per_token():
    """Past the burst, a token still gets at most 120 beacons an hour; the wait is to the hour's end."""
    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())

    def send(at):
        commands = counters.window_commands("beacon:t", BEACON_LIMITS, now=at)
        pipe = redis.pipeline(transaction=False)
        for name, *args in commands:
            pipe.execute_command(name, *args)
        return counters.retry_after(pipe.execute(), BEACON_LIMITS, now=at)

    start = 7200.0
    waits = [send(start + i * 11) for i in range(120)]  # 11 s apart: never a burst
    assert waits == [0] * 120
    assert send(start + 120 * 11) == 3600 - 1320
    assert send(start + 3600) == 0


def test_views_claiming_more_seconds_than_a_minute_holds_are_machine():
    """Four views arriving within a minute that claim a minute each: a person cannot have read them all."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert judge([], [(at, 60.0)] * 4) == [None, None, None, TOO_LONG]
    assert judge([], [(at + timedelta(seconds=70 * i), 60.0) for i in range(4)]) == [None] * 4
    earlier = [(at - timedelta(seconds=30 - i), 1.0) for i in range(10)]
    assert judge(earlier, [(at, 1.0), (at + timedelta(seconds=31), 1.0)]) == [TOO_MANY, None]


def test_the_marketers_server_reports_views_without_being_paced(sent, api, session):
    """Page views sent with the API key (perhaps a backfill) are trusted, not held to a reader's pace."""
    views = [{"contact_id": sent[1], "url": SITE + f"/docs/{i}", "seconds": 60, "id": f"srv{i:08d}"} for i in range(15)]
    assert api.post("/api/v1/pageviews", json={"views": views}).status_code == 202
    assert _views(session, Event.is_machine.is_(False)) == 15
