"""The operations page and test sends from the preview."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Step
from tests.loop_steps import PRIYA, parse
from workers.scheduler import tick

from .conftest import text_of


def test_operations_page_shows_counts_and_is_for_admins_only(synced, people, login, client, api, services, drain):
    """Admins see messages by status and per campaign; a marketer gets 403."""
    api.post("/api/v1/events", json={"email": "new@example.org", "type": "sign_up"})
    tick(services)
    drain()
    login(people["marketer"])
    assert client.get("/operations").status_code == 403
    login(people["admin"])
    page = client.get("/operations")
    assert page.status_code == 200
    text = text_of(page)
    assert "<dt>Sent</dt><dd>1</dd>" in text and "<dt>Queued jobs</dt><dd>0</dd>" in text
    assert "<td>Welcome</td>" in text


def test_a_marketer_sends_a_test_of_a_step_to_their_own_address(synced, people, login, client, session, api,
                                                                 drain, outbox):
    """The preview's test-send form queues a proof that arrives merged for the chosen contact."""
    contact_id = api.post("/api/v1/contacts", json=PRIYA).get_json()["id"]
    step = session.scalar(select(Step).where(Step.key == "01-repeatability"))
    login(people["marketer"])
    response = client.post(f"/campaigns/{step.campaign_id}/steps/{step.id}/test",
                           data={"email": "Me@Example.com", "contact": str(contact_id)}, follow_redirects=True)
    assert "Test email queued to me@example.com" in text_of(response)
    drain()
    proof = parse(outbox()[-1].raw)
    assert proof["To"] == "me@example.com" and proof["Subject"].startswith("[Test] Priya")
    bad = client.post(f"/campaigns/{step.campaign_id}/steps/{step.id}/test", data={"email": "nope"},
                      follow_redirects=True)
    assert "Test email not sent" in text_of(bad)
