"""In a real Chromium: a marketer changes their password from the Account page; the session on their
other browser ends, this one stays, and the new password is the one that signs in."""
from __future__ import annotations

import pytest

from app.cli.demo import DEMO_PASSWORD
from tests.conftest import chromium
from tests.ui.test_browser import SHOTS, live, sign_in  # noqa: F401 - the live server fixture

pytestmark = pytest.mark.browser

NEW_PASSWORD = "spring-campaign-2026"


@pytest.fixture
def browsers():
    """Two separate browsers (no shared cookies), as on a laptop and a phone."""
    with chromium() as browser:
        contexts = [browser.new_context(viewport={"width": 1360, "height": 900}) for _ in range(2)]
        for context in contexts:
            context.set_default_timeout(15_000)
        yield [context.new_page() for context in contexts]
        for context in contexts:
            context.close()


def test_marketer_changes_the_password_and_the_other_browser_is_signed_out(live, browsers):
    from playwright.sync_api import expect

    base, (laptop, phone) = live["url"], browsers
    for page in (laptop, phone):
        page.goto(f"{base}/login")
        sign_in(page, "marketer@nurture.example")
        expect(page.locator("h1")).to_have_text("Dashboard")

    laptop.click(".topbar a.user-link")  # the name in the header
    expect(laptop.locator("h1")).to_have_text("Account")
    laptop.fill("input[name=current_password]", "not-the-password")
    laptop.fill("input[name=new_password]", NEW_PASSWORD)
    laptop.fill("input[name=new_password_again]", NEW_PASSWORD)
    laptop.click("#password button[type=submit]")
    expect(laptop.locator("#form-error")).to_have_text("Current password is wrong.")

    laptop.fill("input[name=current_password]", DEMO_PASSWORD)
    laptop.fill("input[name=new_password]", NEW_PASSWORD)
    laptop.fill("input[name=new_password_again]", NEW_PASSWORD)
    laptop.click("#password button[type=submit]")
    expect(laptop.locator(".alert-success")).to_contain_text("Your password is changed.")
    laptop.screenshot(path=str(SHOTS / "ui-account-password-changed.png"), full_page=True)

    laptop.click("nav.mainnav >> text=Contacts")
    expect(laptop.locator("h1")).to_have_text("Contacts")
    phone.reload()
    expect(phone.locator("h1")).to_have_text("Sign in")

    sign_in(phone, "marketer@nurture.example")
    expect(phone.locator(".alert-error")).to_have_text("Wrong email or password.")
    phone.fill("input[name=email]", "marketer@nurture.example")
    phone.fill("input[name=password]", NEW_PASSWORD)
    phone.click("button[type=submit]")
    expect(phone.locator("h1")).to_have_text("Dashboard")
