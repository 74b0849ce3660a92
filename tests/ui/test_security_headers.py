"""Every answer carries the security headers: the UI's pages run and style only the product's own
files, nothing is framed by another site (but the embeddable form, by the marketer's own), and
no answer is MIME-sniffed. The pages themselves hold no inline script, style or handler."""
from __future__ import annotations

import re

import pytest

from app.domain.engagement.site import set_site_domains
from tests.conftest import ROOT

TOKEN = "Zm9yZ2VkLXRva2VuLWZvci10aGUtbG9nLXRlc3QtMTIz"


def _policy(response) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in response.headers["Content-Security-Policy"].split("; ")}


def test_ui_pages_run_only_our_own_scripts_and_styles_and_are_never_framed(client, login, people):
    for response in (client.get("/login"), client.get("/no-such-page")):
        policy = _policy(response)
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    login(people["marketer"])
    dashboard = client.get("/", follow_redirects=True)
    assert dashboard.status_code == 200 and dashboard.headers["X-Frame-Options"] == "DENY"
    assert client.get("/static/nurture.css").headers["X-Content-Type-Options"] == "nosniff"


def test_api_answers_are_not_sniffed_framed_or_run(client, api):
    for response in (client.get("/api/v1/handoffs"), api.get("/api/v1/handoffs"), api.get("/api/v1/nothing")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_api_reference_page_is_styled_by_our_own_stylesheet(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and _policy(page)["style-src"] == "'self'"
    assert "<style" not in page.get_data(as_text=True) and "/static/api-reference.css" in page.get_data(as_text=True)


def test_public_pages_send_no_referrer_and_are_not_framed(client):
    for path in (f"/u/{TOKEN}", f"/u/{TOKEN}/preferences", f"/f/confirm/{TOKEN}", "/t/invalid"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert _policy(response)["frame-ancestors"] == "'none'" and _policy(response)["script-src"] == "'self'"


def test_the_embeddable_form_is_framed_only_by_the_marketers_sites(client, session, clock):
    alone = client.get("/f/demo")
    assert "X-Frame-Options" not in alone.headers and _policy(alone)["frame-ancestors"] == "'self'"
    set_site_domains(session, ["brightline.example"], now=clock.now())
    session.commit()
    for response in (client.get("/f/demo"), client.post("/f/demo", data={"email": "not-an-email"})):
        assert _policy(response)["frame-ancestors"] == "'self' brightline.example *.brightline.example"
        assert "form-action" not in _policy(response)  # a post may redirect to the marketer's own page
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_fast_path_answers_are_not_sniffed(client):
    assert client.get(f"/t/o/{TOKEN}.gif").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/t/s/nurture.js").headers["X-Content-Type-Options"] == "nosniff"
    invalid = client.get(f"/t/c/{TOKEN}")
    assert invalid.status_code == 404 and invalid.headers["X-Frame-Options"] == "DENY"


INLINE = re.compile(r"<style|\sstyle=|\son[a-z]+=|<script(?![^>]*\bsrc=)|javascript:", re.I)


@pytest.mark.parametrize("folder", ["app/ui/templates", "app/api/templates"])
def test_no_template_holds_an_inline_script_style_or_handler(folder):
    """What the policy would block: a page that relied on it would silently break."""
    found = [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for path in sorted((ROOT / folder).rglob("*.html"))
             for m in INLINE.finditer(path.read_text())]
    assert found == []
