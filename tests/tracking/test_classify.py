"""Human or machine: the rules of app/domain/tracking.classify on recorded real-world hits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.engagement.bots import classify
from app.domain.messages.links import HONEYPOT_LINK

from .fixtures.user_agents import MACHINES, PEOPLE

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
LATER = SENT + timedelta(hours=3)


@pytest.mark.parametrize("kind,user_agent,ip", PEOPLE)
def test_people_reading_and_clicking_are_human(kind, user_agent, ip):
    """Real mail clients and browsers, hours after delivery, count as people."""
    verdict = classify(kind=kind, method="GET", user_agent=user_agent, ip=ip, sent_at=SENT, at=LATER, link=0)
    assert not verdict.is_machine, verdict.reason


@pytest.mark.parametrize("kind,method,user_agent,ip,reason", MACHINES)
def test_proxies_scanners_and_bots_are_machines_with_their_reason(kind, method, user_agent, ip, reason):
    """Privacy proxies, security scanners (by agent or address range), bots and HEAD requests are machines."""
    verdict = classify(kind=kind, method=method, user_agent=user_agent, ip=ip, sent_at=SENT, at=LATER, link=0)
    assert verdict.is_machine and verdict.reason == reason


def test_a_click_seconds_after_delivery_is_a_scanner():
    """Nobody reads and clicks within ten seconds of delivery; a gateway scanning the email does."""
    ua = PEOPLE[4][1]
    assert classify(kind="click", method="GET", user_agent=ua, ip="81.2.69.142", sent_at=SENT,
                    at=SENT + timedelta(seconds=4), link=0).reason == "clicked within seconds of delivery"
    assert not classify(kind="click", method="GET", user_agent=ua, ip="81.2.69.142", sent_at=SENT,
                        at=SENT + timedelta(seconds=40), link=0).is_machine


def test_the_honeypot_link_and_its_address_mark_machines():
    """The hidden link is only followed by machines, and so is any click from the address that followed it."""
    ua = PEOPLE[4][1]
    assert classify(kind="click", method="GET", user_agent=ua, ip="192.0.2.9", sent_at=SENT, at=LATER,
                    link=HONEYPOT_LINK).reason == "followed the hidden honeypot link"
    same = classify(kind="click", method="GET", user_agent=ua, ip="192.0.2.9", sent_at=SENT, at=LATER, link=1,
                    honeypot_ips=frozenset({"192.0.2.9"}))
    assert same.reason == "same address followed the hidden honeypot link"
    other = classify(kind="click", method="GET", user_agent=ua, ip="192.0.2.10", sent_at=SENT, at=LATER, link=1,
                     honeypot_ips=frozenset({"192.0.2.9"}))
    assert not other.is_machine


def test_several_links_clicked_at_once_is_a_crawl():
    """Two different links of one email within two seconds is a scanner; the same link twice is a person."""
    ua = PEOPLE[4][1]
    crawl = classify(kind="click", method="GET", user_agent=ua, ip="81.2.69.142", sent_at=SENT, at=LATER, link=2,
                     other_clicks=((1, LATER - timedelta(seconds=1)),))
    assert crawl.reason == "clicked several links at once"
    again = classify(kind="click", method="GET", user_agent=ua, ip="81.2.69.142", sent_at=SENT, at=LATER, link=1,
                     other_clicks=((1, LATER - timedelta(seconds=1)),))
    assert not again.is_machine


@given(st.text(max_size=300), st.sampled_from(["GET", "HEAD", "get", "POST"]),
       st.one_of(st.none(), st.text(max_size=50), st.ip_addresses().map(str)))
def test_classify_never_fails_on_any_input(user_agent, method, ip):
    """Whatever a client sends, classification answers with a verdict (and a reason when it is a machine)."""
    verdict = classify(kind="click", method=method, user_agent=user_agent, ip=ip, sent_at=None, at=LATER, link=3)
    assert verdict.is_machine == (verdict.reason is not None)
