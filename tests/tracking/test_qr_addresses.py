"""A QR code's address is checked like every address a visitor is sent to: a CR/LF in it would split
the scan's redirect (werkzeug) or fail every scan (gunicorn). Codes stored before the check are safe too."""
from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from app.models import Campaign
from app.models.event import QrCode
from tests.loop_steps import BROWSER_UA


@pytest.fixture
def campaign(synced):
    return synced.scalar(select(Campaign).where(Campaign.kind == "drip").order_by(Campaign.id))


@pytest.mark.parametrize("url", ["https://www.brightline.example/\r\nSet-Cookie: session=stolen",
                                 "https://www.brightline.example/\nLocation: https://evil.example/",
                                 "https://www.brightline.example/a b", "https://www.brightline.example/\x00",
                                 "https:///no-host", "https://[::1/broken"])
def test_a_qr_address_with_a_line_break_space_or_no_host_is_refused(api, campaign, url):
    response = api.post("/api/v1/qr", json={"campaign": campaign.slug, "url": url})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "url"


def _stored(session, campaign, url: str) -> QrCode:
    code = QrCode(public_id=secrets.token_hex(16), campaign_id=campaign.id, url=url, label="old", scans=0,
                  created_at=campaign.created_at)
    session.add(code)
    session.commit()
    return code


def _scan(client, services, code):
    path = services.tokens.qr_url(code.public_id).removeprefix(services.config.base_url)
    return client.get(path, headers={"User-Agent": BROWSER_UA})


def test_a_stored_code_with_a_line_break_lands_on_our_own_page_not_a_split_response(client, services, session,
                                                                                    campaign):
    code = _stored(session, campaign, "https://www.brightline.example/\r\nSet-Cookie: session=stolen")
    response = _scan(client, services, code)
    assert response.status_code == 404 and "Location" not in response.headers
    assert "Set-Cookie" not in response.headers or "stolen" not in response.headers["Set-Cookie"]


def test_a_stored_code_with_characters_beyond_ascii_redirects_percent_encoded(client, services, session, campaign):
    code = _stored(session, campaign, "https://www.brightline.example/café?q=ü")
    response = _scan(client, services, code)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://www.brightline.example/caf%C3%A9?q=%C3%BC"
