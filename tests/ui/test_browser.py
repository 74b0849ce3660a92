"""The UI in a real Chromium: a marketer reads the outbox, a rep accepts a lead from its report."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.clock import MovableClock
from app.config import load_config
from app.domain.campaigns.sync import sync_directory
from app.cli.demo import DEMO_PASSWORD, load_demo
from app.domain.engagement.events import record_event
from app.models import Base, Contact, Handoff
from tests.conftest import ROOT, chromium
from workers.embedded import drain
from workers.scheduler import tick

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp")


@pytest.fixture
def live(tmp_path):
    """The app with the demo data and one handed-off lead, served over HTTP from a thread."""
    from werkzeug.serving import make_server

    config = load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_SECRET_KEY": "browser-test-secret-0123456789abcdef0123456789abcdef"})
    app = create_app(config, clock=MovableClock())
    services = app.extensions["nurture"]
    Base.metadata.create_all(services.engine)
    with services.sessions() as session:
        now = services.now()
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=config.postal_address, now=now)
        load_demo(session, now=now)
        session.commit()
        # Lena (grade A, already on the pricing page) asks for a demo: fast-tracked to a rep.
        lena = session.scalar(select(Contact).where(Contact.email.like("lena.ortiz@%")))
        record_event(session, lena, "demo_request", now=now, url="https://www.brightline.example/demo")
        session.commit()
        handoff = session.scalar(select(Handoff).where(Handoff.contact_id == lena.id))
        lead = {"id": handoff.id, "rep": handoff.rep.email}
    tick(services)
    drain(services)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ui-live-server", daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "lead": lead}
    server.shutdown()
    thread.join(timeout=10)
    services.engine.dispose()


@pytest.fixture
def page():
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()


def sign_in(page, email: str) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


def test_marketer_reads_the_outbox_and_rep_accepts_a_lead(live, page):
    """Marketer: outbox → email with its HTML frame and List-Unsubscribe. Rep: email link → report → accept (4)."""
    from playwright.sync_api import expect

    base = live["url"]
    page.goto(f"{base}/login")
    sign_in(page, "marketer@nurture.example")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.screenshot(path=str(SHOTS / "ui-dashboard.png"), full_page=True)

    page.click("nav.mainnav >> text=Outbox")
    expect(page.locator("h1")).to_have_text("Outbox")
    first = page.locator("table.table tbody tr").first
    subject = first.locator("a").inner_text()
    first.locator("a").click()
    expect(page.locator("h1")).to_have_text(subject)
    headers = page.locator("#headers")
    expect(headers).to_contain_text("List-Unsubscribe")
    expect(headers).to_contain_text("List-Unsubscribe=One-Click")
    frame = page.locator("iframe.email-frame")
    expect(frame).to_be_visible()
    assert frame.get_attribute("sandbox") == ""
    expect(page.frame_locator("iframe.email-frame").locator("body")).to_contain_text("Unsubscribe")
    page.screenshot(path=str(SHOTS / "ui-outbox.png"), full_page=True)

    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")

    # The rep follows the link from the notification email and signs in on the way.
    page.goto(f"{base}/handoffs/{live['lead']['id']}")
    sign_in(page, live["lead"]["rep"])
    expect(page.locator("h1")).to_contain_text("Lena Ortiz")
    expect(page.locator(".lead-reason")).to_contain_text("fast track: demo request")
    expect(page.locator("body")).to_contain_text("Pricing page visit")
    expect(page.locator("#handoff-status")).to_contain_text("Pending")
    page.screenshot(path=str(SHOTS / "ui-lead-report.png"), full_page=True)

    page.get_by_role("radio", name="4").check()
    page.fill("textarea[name=comment]", "Strong fit, calling Thursday.")
    page.click("button[value=accept]")
    expect(page.locator(".alert-success")).to_contain_text("Lead accepted")
    expect(page.locator("#handoff-status")).to_contain_text("Accepted")
    expect(page.locator(".feedback")).to_contain_text("Accepted")
    expect(page.locator(".feedback .stars")).to_have_attribute("title", "rated 4 of 5")
    expect(page.locator("button[value=accept]")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "ui-lead-accepted.png"), full_page=True)


def test_rep_answers_from_the_lead_review_and_records_the_outcome(live, page):
    """Rep: menu → lead review → Decide → accept with an agreed reason → follow-up → won with the
    amount → the review shows nothing missing. Manager: reads the agreement and its evidence, no editing."""
    from playwright.sync_api import expect

    base, lead = live["url"], live["lead"]
    page.goto(f"{base}/login")
    sign_in(page, lead["rep"])
    page.click("nav.mainnav >> text=Lead reviews")
    expect(page.locator("h1")).to_contain_text("Lead review")
    page.locator("nav.tabs[aria-label=Month] a").first.click()  # the month in progress
    row = page.locator("#review-leads tbody tr", has_text="Lena Ortiz")
    expect(row).to_contain_text("accept or reject")
    row.locator("text=Decide").click()

    expect(page.locator("h1")).to_contain_text("Lena Ortiz")
    page.locator("#accept-reasons").get_by_label("Budget confirmed").check()
    page.locator("#reject-reasons").get_by_label("No budget").check()
    page.get_by_role("radio", name="5").check()
    page.click("button[value=accept]")
    expect(page.locator("#form-error")).to_contain_text("You ticked reasons to reject but chose Accept")
    expect(page.locator("#handoff-status")).to_contain_text("Pending")
    page.locator("#reject-reasons").get_by_label("No budget").uncheck()
    page.click("button[value=accept]")
    expect(page.locator(".alert-success")).to_contain_text("Lead accepted")
    expect(page.locator(".feedback")).to_contain_text("budget confirmed")

    page.click("#follow-up")
    expect(page.locator("h1")).to_contain_text("Follow-up: Lena Ortiz")
    page.locator("#outcome").get_by_label("Won", exact=True).check()
    page.fill("#outcome input[name=amount]", "48,000")
    page.click("#outcome button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("Outcome recorded: won")
    expect(page.locator("dl.facts")).to_contain_text("won ($48,000)")
    expect(page.locator("#handoff-events")).to_contain_text("won according to")
    page.screenshot(path=str(SHOTS / "ui-follow-up.png"), full_page=True)

    page.click("nav.mainnav >> text=Lead reviews")
    page.locator("nav.tabs[aria-label=Month] a").first.click()
    row = page.locator("#review-leads tbody tr", has_text="Lena Ortiz")
    expect(row).to_contain_text("Accepted · won")
    expect(row).to_contain_text("5/5")
    expect(row).to_contain_text("nothing")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Agreement")

    page.click("text=Sign out")
    sign_in(page, "manager@nurture.example")
    page.click("nav.mainnav >> text=Agreement")
    expect(page.locator("h1")).to_have_text("The agreement")
    expect(page.locator("button[value=save]")).to_have_count(0)
    page.click("nav.tabs >> text=Criteria evidence")
    row = page.locator("tr", has_text="Target industry").first
    expect(row).to_contain_text("1 of 1")
    page.screenshot(path=str(SHOTS / "ui-evidence.png"), full_page=True)
