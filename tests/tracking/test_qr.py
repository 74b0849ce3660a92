"""QR codes for printed campaign links: SVG and PNG, scans recorded as qr_scan of the campaign."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import Campaign
from app.models.event import QrCode


@pytest.fixture
def campaign(synced):
    return synced.scalar(select(Campaign).where(Campaign.kind == "drip").order_by(Campaign.id))


def test_the_api_creates_a_code_and_draws_it_as_svg_and_png(api, campaign):
    """POST /api/v1/qr returns the short scan URL; the images are a real SVG and a real PNG."""
    created = api.post("/api/v1/qr", json={"campaign": campaign.slug, "url": "https://www.brightline.example/booth",
                                           "label": "Booth banner"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["scan_url"].startswith("https://nurture.test/t/q/") and len(body["scan_url"]) < 80
    svg = api.get(f"/api/v1/qr/{body['id']}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = api.get(f"/api/v1/qr/{body['id']}.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert api.get(f"/api/v1/qr/{body['id']}.gif").status_code == 404


@pytest.mark.parametrize("body,field", [({"campaign": "nope", "url": "https://a.example"}, "campaign"),
                                        ({"url": "https://a.example"}, "campaign"),
                                        ({"campaign": 10**30, "url": "https://a.example"}, "campaign"),
                                        ({"campaign": "__slug__", "url": "javascript:alert(1)"}, "url"),
                                        ({"campaign": "__slug__", "url": "https://a.example/{{ contact.email }}"}, "url")])
def test_bad_qr_requests_name_the_field(api, campaign, body, field):
    """Unknown campaigns and non-http or personalised URLs are refused with the field named."""
    body = {k: (campaign.slug if v == "__slug__" else v) for k, v in body.items()}
    response = api.post("/api/v1/qr", json=body)
    assert response.status_code == 422 and response.get_json()["error"]["field"] == field


def test_a_scan_redirects_and_is_recorded_as_a_qr_scan_of_the_campaign(api, client, campaign, session, events):
    """Scanning leads to the link and records an anonymous qr_scan with the campaign as source; the count rises."""
    body = api.post("/api/v1/qr", json={"campaign": campaign.slug, "url": "https://www.brightline.example/booth"}).get_json()
    path = body["scan_url"].removeprefix("https://nurture.test")
    phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"}
    for _ in range(2):
        response = client.get(path, headers=phone)
        assert response.status_code == 302 and response.headers["Location"] == "https://www.brightline.example/booth"
    scans = events("qr_scan")
    assert len(scans) == 2 and all(s.campaign_id == campaign.id and s.contact_id is None for s in scans)
    session.expire_all()
    assert session.scalar(select(QrCode.scans)) == 2
    assert client.get(path[:-3] + "AAA").status_code == 404


def test_the_marketer_page_lists_codes_and_downloads_them(client, make_user, campaign, session):
    """A signed-in marketer creates a code on the campaign's QR page and downloads it; sales may not."""
    make_user("mo@nurture.example", role="marketer")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/login").data).group(1).decode()
    assert client.post("/login", data={"email": "mo@nurture.example", "password": "correct-horse",
                                       "csrf_token": token}).status_code == 302
    page = client.get(f"/campaigns/{campaign.id}/qr")
    assert page.status_code == 200 and b"New code" in page.data
    created = client.post(f"/campaigns/{campaign.id}/qr", data={"csrf_token": token, "url": "https://www.brightline.example/x",
                                                                  "label": "Flyer"})
    assert created.status_code == 303
    code = session.scalar(select(QrCode))
    assert b"Flyer" in client.get(f"/campaigns/{campaign.id}/qr").data
    svg = client.get(f"/qr/{code.public_id}.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data
    missing = client.get("/qr/" + "0" * 32 + ".svg")
    assert missing.status_code == 404 and b"No such QR code." in missing.data
    wrong = client.get(f"/qr/{code.public_id}.gif")
    assert wrong.status_code == 404 and b"Use .svg or .png." in wrong.data
    gone = client.get(f"/campaigns/{campaign.id + 1000}/qr")
    assert gone.status_code == 404 and b"That campaign does not exist." in gone.data
    assert client.post(f"/campaigns/{campaign.id}/qr", data={"csrf_token": token, "url": "nope"}).status_code == 400
    assert client.post(f"/campaigns/{campaign.id}/qr", data={"url": "https://x.example"}).status_code == 400  # no CSRF
    client.post("/logout", data={"csrf_token": token})
    make_user("rep@nurture.example", role="sales")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/login").data).group(1).decode()
    client.post("/login", data={"email": "rep@nurture.example", "password": "correct-horse", "csrf_token": token})
    assert client.get(f"/campaigns/{campaign.id}/qr").status_code == 403


def test_the_cli_writes_a_code_to_a_file(services, campaign, tmp_path):
    """`nurture qr create` writes an SVG or PNG for a campaign link."""
    from click.testing import CliRunner

    from app.cli import main

    out = tmp_path / "code.png"
    result = CliRunner().invoke(main, ["qr", "create", "--campaign", campaign.slug, "--url",
                                       "https://www.brightline.example/print", "--format", "png", "--out", str(out)],
                                obj=services)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
