"""The pages under their Content-Security-Policy in a real Chromium: nothing they need is refused
(the funnel's bars, an email in its frame with its own styles, the preview's contact picker, the
form's hidden honeypot, the API reference's styles), and another site cannot frame them."""
from __future__ import annotations

import pytest

from tests.ui.test_browser import SHOTS, live, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _violations(page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def test_the_pages_work_under_their_policy(live, page):  # noqa: F811
    from playwright.sync_api import expect

    refused = _violations(page)
    base = live["url"]
    page.goto(f"{base}/login")
    sign_in(page, "marketer@nurture.example")
    expect(page.locator("h1")).to_have_text("Dashboard")
    bars = page.locator("svg.funnel-svg rect")
    assert bars.count() >= 5 and max(bars.nth(i).bounding_box()["width"] for i in range(bars.count())) > 50
    page.screenshot(path=str(SHOTS / "ui-dashboard-under-csp.png"), full_page=True)

    page.click("nav.mainnav >> text=Outbox")
    page.locator("table.table tbody tr").first.locator("a").click()
    email = page.frame_locator("iframe.email-frame")
    expect(email.locator("body")).to_contain_text("Unsubscribe")
    page.screenshot(path=str(SHOTS / "ui-outbox-under-csp.png"), full_page=True)

    page.click("nav.mainnav >> text=Campaigns")
    page.locator("a[href*='/campaigns/']").first.click()
    page.locator("a[href$='/preview']").first.click()
    picker = page.locator("select[name=contact]")
    if picker.locator("option").count() > 1:
        value = picker.locator("option").nth(1).get_attribute("value")
        with page.expect_navigation():
            picker.select_option(value)  # ui.js submits the form: no inline handler
        assert f"contact={value}" in page.url
    expect(page.frame_locator("iframe.email-frame").locator("body")).not_to_be_empty()

    page.goto(f"{base}/f/demo")
    box = page.locator(".honeypot").bounding_box()
    assert box is not None and box["x"] < -1000  # off-screen by our stylesheet, not an inline style
    page.goto(f"{base}/api/v1/docs")
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"
    assert refused == []


def test_another_site_cannot_frame_the_pages(live, page):  # noqa: F811
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15_000):
        page.set_content(f'<iframe src="{live["url"]}/login"></iframe>')
