"""Unsubscribe that outlives its campaign, the preference page, and forward to a colleague."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, text

from app.models import Campaign, Contact, Enrollment, Message
from tests.loop_steps import BROWSER_UA, parts
from workers.scheduler import tick

from .conftest import unsubscribe_path


def _footer_link(message, label: str) -> str:
    html = parts(message)[0]
    return re.search(rf'href="https://nurture\.test(/u/[^"]+)"[^>]*>{label}<', html).group(1)


def test_unsubscribe_link_keeps_working_after_the_campaign_is_deleted(sent, client, session):
    """The campaign row is gone; the email's one-click unsubscribe still unsubscribes."""
    session.execute(text("DELETE FROM campaigns"))
    session.commit()
    assert session.scalar(select(Campaign)) is None
    path = unsubscribe_path(sent[0])
    assert client.get(path).status_code == 200
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    session.expire_all()
    assert session.get(Contact, sent[1]).email_status == "unsubscribed"


def test_the_email_footer_links_to_preferences_and_forward(sent):
    """Every nurture email carries a forward link and a preference link beside unsubscribe, in HTML and text."""
    html, plain = parts(sent[0])
    unsubscribe = unsubscribe_path(sent[0])
    assert f'href="https://nurture.test{unsubscribe}/forward"' in html
    assert f'href="https://nurture.test{unsubscribe}/preferences"' in html
    assert f"https://nurture.test{unsubscribe}/preferences" in plain


def test_pause_for_30_days_holds_every_email_until_then(sent, client, session, clock, services, drain, outbox):
    """After a pause nothing is sent for 30 days; then the drip resumes where it stopped."""
    page = _footer_link(sent[0], "Email preferences")
    assert b"Pause for 30 days" in client.get(page).data
    response = client.post(page, data={"action": "pause"})
    assert response.status_code == 200 and b"Paused until" in response.data
    session.expire_all()
    paused_until = session.get(Contact, sent[1]).paused_until
    assert paused_until == clock.now() + timedelta(days=30)
    for _ in range(4):  # a week at a time: the drip's next steps are due, but held
        clock.advance(timedelta(days=7))
        tick(services)
        drain()
    assert len(outbox()) == 1
    clock.set(paused_until + timedelta(days=2))
    session.expire_all()
    clock.set(max(clock.now(), session.scalar(select(Enrollment.next_due_at))))
    tick(services)
    drain()
    assert len(outbox()) == 2


def test_leaving_a_campaign_on_the_preference_page_stops_it_and_rejoining_resumes(sent, client, session):
    """Unticking a campaign stops that drip; ticking it again picks it up; the contact stays subscribed."""
    page = _footer_link(sent[0], "Email preferences")
    enrollment = session.scalar(select(Enrollment))
    assert f'value="{enrollment.campaign_id}"'.encode() in client.get(page).data
    client.post(page, data={"action": "topics"})  # nothing ticked: leave the one campaign
    session.expire_all()
    assert session.get(Enrollment, enrollment.id).status == "stopped"
    assert session.get(Contact, sent[1]).email_status == "active"
    client.post(page, data={"action": "topics", "keep": [str(enrollment.campaign_id)]})
    session.expire_all()
    assert session.get(Enrollment, enrollment.id).status == "active"


def test_leave_all_on_the_preference_page_unsubscribes(sent, client, session):
    """The page's last button is a full unsubscribe."""
    page = _footer_link(sent[0], "Email preferences")
    assert b"unsubscribed" in client.post(page, data={"action": "leave"}).data
    session.expire_all()
    assert session.get(Contact, sent[1]).email_status == "unsubscribed"


def test_preference_page_with_a_bad_token_or_action_is_a_safe_page(sent, client):
    """A forged token gets a 404 page; an unknown action a 400, never a 500."""
    assert client.get("/u/forged/preferences").status_code == 404
    page = _footer_link(sent[0], "Email preferences")
    assert client.post(page, data={"action": "explode"}).status_code == 400


def test_forward_to_a_colleague_is_recorded_and_opens_the_mail_app(sent, client, session, events):
    """GET only shows the page; the POST records one forward and hands a mailto link with the web version."""
    page = _footer_link(sent[0], "Forward to a colleague")
    assert b"Forward by email" in client.get(page, headers={"User-Agent": BROWSER_UA}).data
    assert events("forward") == []
    done = client.post(page, headers={"User-Agent": BROWSER_UA})
    assert done.status_code == 200 and b"mailto:?subject=Fwd%3A" in done.data
    [forward] = events("forward")
    assert forward.contact_id == sent[1] and forward.message_id is not None
    view = client.get(page.replace("/forward", "/view"))
    assert view.status_code == 200 and b"Priya" in view.data
    assert b"/t/o/" not in view.data and b"/t/c/" not in view.data  # the colleague is not tracked


def test_the_honeypot_link_is_hidden_and_marks_what_follows_it(sent, client, session, events, clock):
    """Emails carry one invisible link; a hit on it is a machine, and so are clicks from that address."""
    html = parts(sent[0])[0]
    clicks = re.findall(r'<a href="https://nurture\.test(/t/c/[^"]+)"([^>]*)>', html)
    hidden = [path for path, attrs in clicks if "display:none" in attrs]
    visible = [path for path, attrs in clicks if "display:none" not in attrs]
    assert len(hidden) == 1 and visible
    scanner = {"User-Agent": BROWSER_UA}
    assert client.get(visible[0], headers=scanner, environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code == 302
    assert not events("email_click")[0].is_machine  # looked human at first…
    response = client.get(hidden[0], headers=scanner, environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert response.status_code == 200 and "Location" not in response.headers
    first, honeypot = events("email_click")
    assert honeypot.is_machine and honeypot.machine_reason == "followed the hidden honeypot link"
    assert first.is_machine  # …and is reclassified with hindsight, and unscored
    session.expire_all()
    assert session.get(Contact, sent[1]).score == 0


def test_test_sends_and_unknown_messages_record_nothing(client, session, services, events):
    """A validly signed token for a message that does not exist records nothing and redirects nowhere."""
    token = services.tokens.sign("click", "ab" * 16, 0)
    assert client.get(f"/t/c/{token}").status_code == 404
    assert client.get(f"/t/o/{services.tokens.sign('open', 'ab' * 16)}.gif").status_code == 200
    assert events() == [] and session.scalar(select(Message)) is None
