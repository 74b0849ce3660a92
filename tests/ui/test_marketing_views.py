"""Marketing's pages through the test client: personas, campaigns, previews and the outbox."""
from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from app.models import Contact, OutboxEmail, Step
from workers.scheduler import tick

from .conftest import ENGINEER, text_of


# Personas and campaigns -------------------------------------------------------------------------

def test_personas_show_rules_in_words_and_examples(client, people, login, synced):
    """Nested all/any/not rules read as words, and every documented example shows it holds."""
    login(people["marketer"])
    page = text_of(client.get("/personas"))
    assert "The engineer" in page and "All of" in page and "Any of" in page and "None of this" in page
    assert "title contains any engineer" in page
    assert "Purchasing Engineer" in page and "as documented" in page
    assert "is-problem" not in page


def test_campaign_detail_lists_steps_with_delays_and_counts(client, people, login, synced, api, services, drain,
                                                             session, clock):
    """Steps show in order with delay, condition, version and per-step sent counts."""
    api.post("/api/v1/contacts", json=ENGINEER)
    clock.set(session.scalar(select(Contact.created_at)).replace(hour=15))  # inside the send window
    tick(services)
    drain()
    login(people["marketer"])
    campaigns = text_of(client.get("/campaigns"))
    assert "Engineer nurture" in campaigns and "Welcome" in campaigns
    step = session.scalar(select(Step).where(Step.key == "01-repeatability"))
    page = text_of(client.get(f"/campaigns/{step.campaign_id}"))
    assert "08:00–17:00" in page and "America/New_York" in page and "demo_request" in page
    assert "3d after previous" in page and "v1" in page
    row = re.search(r"01-repeatability.*?</tr>", page, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)
    assert cells[:3] == ["v1", "1", "0"]  # version, sent, human opens


def _with_frame(client, response) -> str:
    """The page and the email in its sandboxed frame (served under its own policy), as a reader sees them."""
    src = re.search(r'<iframe class="email-frame" sandbox [^>]*src="([^"]*)"', response.get_data(as_text=True)).group(1)
    return text_of(response) + text_of(client.get(html_lib.unescape(src)))


def test_campaign_preview_renders_merge_fields_and_fallbacks(client, people, login, synced, api, session):
    """A blank sample shows every fallback; a real contact shows their own fields; the HTML is sandboxed."""
    contact_id = api.post("/api/v1/contacts", json=ENGINEER).get_json()["id"]
    step = session.scalar(select(Step).where(Step.key == "02-sizing"))
    login(people["marketer"])
    url = f"/campaigns/{step.campaign_id}/steps/{step.id}/preview"
    blank = client.get(url + "?contact=blank")
    assert blank.status_code == 200
    body = blank.get_data(as_text=True)
    assert "<iframe class=\"email-frame\" sandbox" in body
    shown = _with_frame(client, blank)
    assert "Hi there," in shown and "{{" not in shown
    assert "Sizing an actuator" in shown
    mine = _with_frame(client, client.get(url + f"?contact={contact_id}"))
    assert "Hi Priya," in mine
    assert "https://www.brightline.example/tools/sizing" in mine     # links untracked in a preview
    assert "/t/c/" not in mine
    assert client.get(url + "?contact=zzz").status_code == 400
    assert client.get(url + "?contact=999").status_code == 404
    assert client.get(f"/campaigns/{step.campaign_id}/steps/999/preview").status_code == 404


# Outbox -----------------------------------------------------------------------------------------

def test_outbox_shows_a_sent_email_with_headers_html_and_text(client, people, login, synced, api, services, drain,
                                                              outbox):
    """A sign-up sends the welcome email; the outbox lists it and shows it as the recipient would."""
    api.post("/api/v1/contacts", json=ENGINEER)
    api.post("/api/v1/events", json={"email": ENGINEER["email"], "type": "sign_up"})
    tick(services)
    drain()
    [sent] = outbox()
    login(people["marketer"])
    listing = text_of(client.get("/outbox"))
    assert ENGINEER["email"] in listing and sent.subject in listing
    response = client.get(f"/outbox/{sent.id}")
    page = text_of(response)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert f"<dt>{header}</dt>" in page
    assert "List-Unsubscribe=One-Click" in page and "https://nurture.test/u/" in page
    src = re.search(r'<iframe class="email-frame" sandbox [^>]*src="([^"]*)"', response.get_data(as_text=True)).group(1)
    frame = client.get(html_lib.unescape(src))
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN" and "script-src" not in frame.headers["Content-Security-Policy"]
    shown = frame.get_data(as_text=True)
    assert "Priya" in shown and '<base target="_blank">' in shown
    assert "/t/o/" not in shown           # viewing the email never records an open
    assert "/t/o/" in sent.raw
    assert '<pre class="plain-text">' in page and "Priya" in page


def test_outbox_paginates_newest_first(client, people, login, session, clock):
    """Fifty a page, newest first; a page past the end is simply empty."""
    for i in range(55):
        session.add(OutboxEmail(mail_from="a@b.example", to_email=f"p{i}@x.example", subject=f"S{i}", raw="",
                                created_at=clock.advance(1)))
    session.commit()
    login(people["admin"])
    first = text_of(client.get("/outbox"))
    assert "p54@x.example" in first and "p4@x.example" not in first and "1–50 of 55" in first
    second = text_of(client.get("/outbox?page=2"))
    assert "p4@x.example" in second and "p54@x.example" not in second
