"""Tracking links and unsubscribe: signed, never an open redirect, human vs machine, RFC 8058."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import Contact, Event, Message
from tests.loop_steps import BROWSER_UA, PRIYA, parse, parts, tracking_paths
from workers.scheduler import tick


def _events(session, kind):
    session.expire_all()
    return session.scalars(select(Event).where(Event.type == kind)).all()


def test_tampered_click_token_never_redirects(sent, client, session):
    """Changing one character of a click token gives our own page, no Location header, no event."""
    pixel, clicks = tracking_paths(parts(sent[0])[0])
    token = clicks[0].rsplit("/", 1)[1]
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    response = client.get(f"/t/c/{forged}", headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 404
    assert "Location" not in response.headers
    assert client.get("/t/c/https%3A%2F%2Fevil.example").status_code == 404
    assert _events(session, "email_click") == []


def test_a_signed_token_for_a_link_the_email_does_not_have_is_refused(sent, services, client):
    """Even a validly signed token only leads to links of its own message."""
    public_id = sent[0]["Message-ID"].strip("<>").split("@")[0]
    token = services.tokens.sign("click", public_id, 999)
    assert client.get(f"/t/c/{token}").status_code == 404
    open_token = services.tokens.sign("open", public_id)
    assert client.get(f"/t/c/{open_token}").status_code == 404  # purposes do not mix


def test_tokens_carry_no_personal_data(sent):
    """Tracking URLs hold a random message id, not the address or any contact field."""
    html = parts(sent[0])[0]
    pixel, clicks = tracking_paths(html)
    public_id = sent[0]["Message-ID"].strip("<>").split("@")[0]
    for path in [pixel.removesuffix(".gif"), *clicks]:
        token = path.rsplit("/", 1)[1]
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert raw[:16] == bytes.fromhex(public_id)  # 128 random bits name the message…
        assert len(raw) in (32, 34)                  # …plus a link number and a 128-bit tag, nothing else
        assert "priya" not in path.lower()


def test_privacy_proxy_open_is_kept_but_not_scored(sent, client, api, session):
    """Gmail's image proxy fetch is stored as a machine open and adds no points."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    client.get(pixel, headers={"User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"})
    [event] = _events(session, "email_open")
    assert event.is_machine and event.machine_reason == "Gmail image proxy"
    assert api.get(f"/api/v1/contacts/{sent[1]}").get_json()["score"] == 0
    client.get(pixel, headers={"User-Agent": BROWSER_UA})
    assert api.get(f"/api/v1/contacts/{sent[1]}").get_json()["score"] == 5


def test_scanner_click_right_after_delivery_is_not_scored(synced, services, session, clock, api, client, drain, outbox):
    """A click seconds after sending is a security scanner: recorded, redirected, never scored."""
    from app.models import Enrollment

    contact = api.post("/api/v1/contacts", json=PRIYA).get_json()
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    _, clicks = tracking_paths(parts(parse(outbox()[-1].raw))[0])
    clock.advance(timedelta(seconds=2))
    assert client.get(clicks[0], headers={"User-Agent": BROWSER_UA}).status_code == 302
    [event] = _events(session, "email_click")
    assert event.is_machine
    assert api.get(f"/api/v1/contacts/{contact['id']}").get_json()["score"] == 0


def _unsubscribe_path(message) -> str:
    return message["List-Unsubscribe"].split(",")[0].strip("<> ").removeprefix("https://nurture.test")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_or_head_on_unsubscribe_never_unsubscribes(sent, client, session, method):
    """Link scanners prefetch: GET and HEAD only show the confirmation page."""
    response = client.open(_unsubscribe_path(sent[0]), method=method)
    assert response.status_code == 200
    session.expire_all()
    assert session.get(Contact, sent[1]).email_status == "active"


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_without_login_or_csrf(sent, client, session, encoding):
    """RFC 8058: a bare POST with List-Unsubscribe=One-Click unsubscribes; repeating it is harmless."""
    path = _unsubscribe_path(sent[0])
    data = {"List-Unsubscribe": "One-Click"}
    kwargs = {"content_type": "multipart/form-data"} if encoding == "multipart" else {}
    for _ in range(2):
        response = client.post(path, data=data, **kwargs)
        assert response.status_code == 200
        assert "Location" not in response.headers
    session.expire_all()
    contact = session.get(Contact, sent[1])
    assert contact.email_status == "unsubscribed"
    assert len(_events(session, "unsubscribe")) == 1


def test_unsubscribe_is_effective_before_the_next_send(synced, services, session, clock, api, client, drain, outbox):
    """Once unsubscribed, an email already owed and queued is suppressed, and the drip stops."""
    from app.models import Enrollment

    api.post("/api/v1/contacts", json=PRIYA)
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    first = parse(outbox()[-1].raw)
    client.post(_unsubscribe_path(first), data={"List-Unsubscribe": "One-Click"})
    clock.advance(timedelta(days=30))
    tick(services)
    drain()
    assert len(outbox()) == 1
    session.expire_all()
    assert session.scalar(select(Enrollment.status)) == "stopped"


def test_without_tracking_consent_the_email_has_no_pixel_and_plain_links(synced, services, session, clock, api,
                                                                         drain, outbox):
    """Consent to track is separate from consent to email: no pixel, original links."""
    from app.models import Enrollment

    contact_id = api.post("/api/v1/contacts", json=PRIYA).get_json()["id"]
    session.get(Contact, contact_id).tracking_consent = False
    session.commit()
    clock.set(session.scalar(select(Enrollment.next_due_at)))
    tick(services)
    drain()
    html, text = parts(parse(outbox()[-1].raw))
    assert "/t/o/" not in html and "/t/c/" not in html
    assert "https://www.brightline.example/resources/repeatability-test-report" in html
    assert "/u/" in html  # unsubscribe is always there


def test_bad_unsubscribe_token_is_a_friendly_404(client):
    """A truncated link shows a page that says so."""
    response = client.post("/u/garbage", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert b"not valid" in response.data


def test_pixel_answers_even_for_a_forged_token(client, session):
    """The pixel is always a GIF; forged tokens record nothing."""
    response = client.get("/t/o/forged.gif")
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert session.scalars(select(Message)).all() == []


def test_tokens_round_trip_and_reject_any_single_change():
    """A token verifies only for its own purpose and fails after any one-character change."""
    from app.domain.messages.links import Tokens

    tokens = Tokens("secret", "https://n.test")
    public_id = "0f" * 16
    token = tokens.sign("click", public_id, 7)
    assert tokens.verify("click", token) == (public_id, 7)
    assert tokens.verify("open", token) is None
    assert Tokens("other secret", "https://n.test").verify("click", token) is None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(token) - 1):  # the last character also holds unused padding bits
        changed = token[:i] + alphabet[(alphabet.index(token[i]) + 1) % 64] + token[i + 1:]
        assert tokens.verify("click", changed) is None
    for junk in ("", "%%%", "A" * 200, token + "A"):
        assert tokens.verify("click", junk) is None


def test_without_a_proxy_setting_x_forwarded_for_is_ignored(sent, client, events):
    """Nobody can pass for an Apple proxy (or dodge the form limit) by sending the header themselves."""
    pixel, _ = tracking_paths(parts(sent[0])[0])
    client.get(pixel, headers={"User-Agent": BROWSER_UA, "X-Forwarded-For": "17.58.101.2"},
               environ_base={"REMOTE_ADDR": "81.2.69.142"})
    [event] = events("email_open")
    assert (event.ip, event.is_machine) == ("81.2.69.142", False)


def test_the_mailto_unsubscribe_of_the_header_unsubscribes_when_the_mail_arrives(sent, client, api_key, session):
    """The header lists HTTPS first and a mailto: second; the mail a client sends there, handed to
    /api/v1/bounces by the mailbox reader, unsubscribes like the one-click POST."""
    https, mailto = [part.strip(" <>") for part in sent[0]["List-Unsubscribe"].split(",")]
    assert https.startswith("https://nurture.test/u/") and mailto.startswith("mailto:")
    address, subject = mailto.removeprefix("mailto:").split("?subject=")
    request = (f"From: priya.shah@acme-automation.example\r\nTo: {address}\r\nSubject: {subject}\r\n\r\n"
               "This message will unsubscribe you.\r\n").encode()
    for _ in range(2):  # a client that retries changes nothing
        response = client.post("/api/v1/bounces", data=request, content_type="message/rfc822",
                               headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 200 and response.get_json()["unsubscribed"] == [subject]
    session.expire_all()
    assert session.get(Contact, sent[1]).email_status == "unsubscribed"
    assert len(_events(session, "unsubscribe")) == 1
    forged = request.replace(subject.encode(), b"unsubscribe-" + b"0" * 32)
    response = client.post("/api/v1/bounces", data=forged, content_type="message/rfc822",
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200 and "unsubscribed" not in response.get_json()
