"""The site snippet in a real Chromium: a reader clicks an email link, lands on the marketer's site, and
the page views reach PostgreSQL through Nurture's beacon endpoint and the Redis buffer."""
from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.domain.engagement.drain import drain
from app.infra import hit_buffer
from app.domain.engagement.site import set_site_domains
from app.models import Contact, Event
from tests.conftest import chromium

from .conftest import wait_for
from .test_tracking_no_loss import _sent_emails

pytestmark = [pytest.mark.integration, pytest.mark.browser]

READER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
SITE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<script async src="{nurture}/t/s/nurture.js"></script></head>
<body><h1>{title}</h1><form data-nurture-form method="post" action="/signup"><input name="email"></form></body></html>"""


def _serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def nurture(queued_app):
    """Nurture on PostgreSQL and Redis over real HTTP; hits stay queued until the test drains them."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, queued_app, threaded=True)
    thread = _serve(server)
    yield queued_app.extensions["nurture"], f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _title(url: str) -> str:
    name = urlsplit(url).path.strip("/").split("/")[-1] or "home"
    return f"{name.replace('-', ' ').title()} | Brightline"


@pytest.fixture
def marketer_site(nurture):
    """The marketer's own site on another origin (localhost): every page carries the snippet."""
    base = nurture[1]

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = SITE_PAGE.format(title=_title(self.path), nurture=base).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = _serve(server)
    yield f"http://localhost:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    # Headless Chromium names itself in its user agent and would count as a bot; a reader's browser does not.
    with chromium(f"--user-agent={READER_UA}") as launched:
        yield launched


def _new_page(browser, marketer_site: str, *, init_script: str | None = None):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    start = time.time()
    page.clock.install(time=start)
    page.clock.pause_at(start + 1)  # page time moves only when the test says so: seconds on a page are exact
    return context, page


def _clicked(base: str, path: str, marketer_site: str) -> str:
    """Where the email's click redirect leads, with the marketer's site (www.brightline.example in the
    campaign) served here from localhost."""
    connection = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=10)
    connection.request("GET", path, headers={"User-Agent": READER_UA})
    response = connection.getresponse()
    location = response.getheader("Location")
    connection.close()
    assert response.status == 302 and location.startswith("https://www.brightline.example/")
    return marketer_site + location.removeprefix("https://www.brightline.example")


def _stored(page) -> dict | None:
    return json.loads(page.evaluate("localStorage.getItem('nurture')") or "null")


def test_a_reader_from_an_email_is_followed_across_the_site_and_the_views_are_recorded(nurture, marketer_site,
                                                                                      browser):
    """Click in the email → the marketer's landing page with ?nt= → the snippet keeps the token first-party and removes it
    from the address bar → page views with title, seconds on page and visit number arrive as events,
    a return visit half an hour later is visit 2, and the site's form gets the hidden nt field."""
    services, base = nurture
    [message] = _sent_emails(services, 1)
    with services.sessions() as session:
        set_site_domains(session, ["brightline.example"], now=services.now())
        session.commit()
        contact = session.get(Contact, message.contact_id)
        token = services.tokens.contact_token(contact.public_id)
    context, page = _new_page(browser, marketer_site)

    page.goto(_clicked(base, f"/t/c/{services.tokens.sign('click', message.public_id, 0)}", marketer_site))
    page.wait_for_function("window.__nurture === true && localStorage.getItem('nurture') !== null")
    landing = page.url
    assert landing.startswith(marketer_site) and "nt=" not in landing  # the token left the address bar…
    assert _stored(page)["t"] == token                                  # …and is kept on the site itself
    assert any(c["name"] == "_nurture" and token in c["value"].replace("%22", '"')
               for c in context.cookies(marketer_site))
    page.clock.fast_forward(42_000)

    page.goto(f"{marketer_site}/pricing")
    page.wait_for_function("window.__nurture === true")
    page.clock.fast_forward(12_000)
    page.goto("about:blank")
    page.clock.fast_forward("31:00")  # the reader comes back after half an hour: a new visit

    page.goto(f"{marketer_site}/docs?section=drives")
    page.wait_for_function("window.__nurture === true")
    assert page.eval_on_selector("form[data-nurture-form] input[name=nt]", "input => input.value") == token
    page.clock.fast_forward(5_000)
    page.goto("about:blank")
    context.close()

    wait_for(lambda: hit_buffer.backlog(services.redis) >= 4, timeout=30, what="the click and three page views")
    assert drain(services).written == 4
    with services.sessions() as session:
        views = session.scalars(select(Event).where(Event.type == "page_view").order_by(Event.id)).all()
        got = sorted((v.url, v.properties["title"], v.properties["seconds"], v.properties["visit"],
                      v.properties["return_visit"], v.contact_id, v.is_machine) for v in views)
    assert got == sorted([
        (landing, _title(landing), 42.0, 1, False, contact.id, False),
        (f"{marketer_site}/pricing", "Pricing | Brightline", 12.0, 1, False, contact.id, False),
        (f"{marketer_site}/docs?section=drives", "Docs | Brightline", 5.0, 2, True, contact.id, False),
    ])


def test_visitors_not_from_an_email_or_asking_not_to_be_tracked_leave_nothing(nurture, marketer_site, browser):
    """Someone who never clicked an email, or whose browser sends Global Privacy Control, gets no token
    stored and no beacon: the snippet stops before doing anything."""
    services, _ = nurture
    [message] = _sent_emails(services, 1)
    with services.sessions() as session:
        token = services.tokens.contact_token(session.get(Contact, message.contact_id).public_id)

    context, page = _new_page(browser, marketer_site)
    page.goto(f"{marketer_site}/pricing")
    page.wait_for_function("window.__nurture === true")
    assert _stored(page) is None and context.cookies(marketer_site) == []
    assert page.eval_on_selector_all("input[name=nt]", "inputs => inputs.length") == 0
    context.close()

    gpc = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
    context, page = _new_page(browser, marketer_site, init_script=gpc)
    page.goto(f"{marketer_site}/pricing?nt={token}")
    page.wait_for_function("window.__nurture === true")
    assert _stored(page) is None and context.cookies(marketer_site) == []
    context.close()
