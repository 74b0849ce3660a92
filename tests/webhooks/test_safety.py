"""Where webhooks may go: public addresses only unless an admin allows a private one for the
endpoint, checked when configured and again at every delivery; no credentials in URLs; redirects
never followed; logs that show neither credentials, tokens nor secrets."""
from __future__ import annotations

import ipaddress
import logging
import socket

import pytest

from app.domain.contacts.webhook_endpoints import check_url, update_endpoint
from app.domain.contacts.webhooks import WebhookError, deliver, due_deliveries
from app.domain.errors import ValidationError
from app.infra.webhook_http import refusal

from .conftest import SECRET


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "a loopback address"), ("::1", "a loopback address"), ("::ffff:127.0.0.1", "a loopback address"),
    ("10.0.0.1", "a private address"), ("172.16.5.4", "a private address"), ("192.168.1.1", "a private address"),
    ("fc00::1", "a private address"), ("169.254.169.254", "a link-local address"), ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"), ("ff02::1", "a multicast address"), ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"), ("100.64.0.1", "not a public address"), ("93.184.216.34", None),
    ("2606:4700::1111", None),
])
def test_which_addresses_a_webhook_may_reach(address, why):
    assert refusal(ipaddress.ip_address(address), allow_private=False) == why


@pytest.mark.parametrize("address, why", [("127.0.0.1", None), ("10.0.0.1", None), ("fc00::1", None),
                                          ("169.254.169.254", "a link-local address"),
                                          ("224.0.0.1", "a multicast address"), ("0.0.0.0", "an unspecified address")])
def test_allowing_private_addresses_never_opens_link_local_multicast_or_unspecified(address, why):
    """Cloud metadata services answer on link-local: no endpoint may reach them."""
    assert refusal(ipaddress.ip_address(address), allow_private=True) == why


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest",
                                 "http://[::1]/hook", "http://[::ffff:10.0.0.1]/x", "https://localhost/hook",
                                 "http://0.0.0.0/x"])
def test_a_private_target_is_refused_when_configured_unless_allowed(admin_api, url):
    """422 naming the url and why; the admin is told private addresses can be allowed (not link-local)."""
    response = admin_api.post("/api/v1/webhooks", json={"name": "lan", "url": url, "events": ["contact.created"]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "url" and "webhooks go to public addresses only" in error["message"]
    allowed = admin_api.post("/api/v1/webhooks", json={"name": "lan", "url": url, "events": ["contact.created"],
                                                       "allow_private": True})
    link_local = "169.254" in url or "0.0.0.0" in url
    assert allowed.status_code == (422 if link_local else 201)


@pytest.mark.parametrize("url", ["https://alice:s3cr3t@crm.example/hooks", "https://alice@crm.example/hooks",
                                 "https://:s3cr3t@crm.example/hooks"])
def test_urls_with_credentials_are_refused_with_a_clear_error(admin_api, url):
    response = admin_api.post("/api/v1/webhooks", json={"name": "crm", "url": url, "events": ["contact.created"]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "url" and "must not carry a user name or password" in error["message"]
    assert "alice" not in error["message"] and "s3cr3t" not in error["message"]  # the credentials are not echoed


def test_the_command_refuses_credentials_and_private_targets(synced, services):
    """`nurture webhook set` says why in one line; --allow-private opens the LAN to it."""
    from click.testing import CliRunner

    from app.cli import main

    run = lambda *args: CliRunner().invoke(main, ["webhook", "set", *args], obj=services)  # noqa: E731
    refused = run("https://user:secret@crm.example/hooks")
    assert refused.exit_code == 1 and "must not carry a user name or password" in refused.output
    assert "secret@" not in refused.output
    assert run("http://10.1.2.3/hooks").exit_code == 1
    assert run("http://10.1.2.3/hooks", "--allow-private").exit_code == 0


def test_other_urls_are_refused_too():
    for url, part in [("ftp://crm.example/x", "http:// or https://"), ("https:///x", "http:// or https://"),
                      ("https://crm.example:99999/x", "port"), ("https://crm.example/a b", "without spaces")]:
        with pytest.raises(ValidationError, match=part):
            check_url(url, allow_private=False)
    assert check_url(" https://crm.example/hooks?x=1 ", allow_private=False) == "https://crm.example/hooks?x=1"


@pytest.fixture
def crm_example_is(monkeypatch):
    """crm_example_is("127.0.0.1"): DNS answers that address for crm.example (as a rebinding attacker could)."""
    real = socket.getaddrinfo

    def answer(address):
        def getaddrinfo(host, port, *args, **kwargs):
            return real(address if host == "crm.example" else host, port, *args, **kwargs)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answer


def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery_and_recorded(
        synced, services, clock, api, receiver, endpoint, owed, crm_example_is):
    """Configured as a public name, crm.example later resolves to loopback: the attempt is refused and
    recorded, nothing reaches the receiver; once an admin allows private addresses it is delivered."""
    crm = receiver()
    port = crm.url.split(":")[2].split("/")[0]
    made = endpoint(f"http://crm.example:{port}/hooks/nurture", ["contact.created"], allow_private=False)
    crm_example_is("127.0.0.1")
    api.post("/api/v1/contacts", json={"email": "priya@acme.example"})
    [delivery_id] = due_deliveries(synced, now=clock.now())
    synced.commit()
    with pytest.raises(WebhookError, match="refused"):
        deliver(services, delivery_id)
    [row] = owed()
    assert row.history[0]["error"] == ("refused: crm.example (127.0.0.1) is a loopback address; only public "
                                       "addresses are allowed unless the endpoint allows private ones")
    assert row.history[0]["code"] is None and row.status == "pending" and crm.received() == []
    update_endpoint(synced, made.id, {"allow_private": True}, now=clock.now())
    synced.commit()
    clock.advance(row.next_attempt_at - clock.now())
    assert deliver(services, delivery_id) == "delivered"
    [(headers, _)] = crm.received()
    assert headers["host"] == f"crm.example:{port}"  # sent to the checked address, under its own name


def test_a_redirect_is_never_followed(synced, services, clock, api, receiver, endpoint, owed):
    """The receiver answers 302 to another loopback URL: the attempt fails with its code, the other
    URL is never hit, and the retry goes to the endpoint's own URL again."""
    elsewhere = receiver()
    crm = receiver([(302, {"Location": elsewhere.url})])
    endpoint(crm.url, ["contact.created"])
    api.post("/api/v1/contacts", json={"email": "priya@acme.example"})
    [delivery_id] = due_deliveries(synced, now=clock.now())
    synced.commit()
    with pytest.raises(WebhookError, match="HTTP 302"):
        deliver(services, delivery_id)
    [row] = owed()
    assert (row.status, row.response_code, row.history[0]["code"]) == ("pending", 302, 302)
    assert "not followed" in row.last_error
    clock.advance(row.next_attempt_at - clock.now())
    assert deliver(services, delivery_id) == "delivered"
    assert len(crm.received()) == 2 and elsewhere.received() == []


def test_a_failed_delivery_is_logged_without_path_query_or_secret(synced, services, clock, api, receiver, endpoint,
                                                                  caplog):
    """The log names the delivery, the event and scheme://host:port; a token in the URL and the
    signing secret stay out of it."""
    crm = receiver([500])
    endpoint(crm.url + "?token=tok_0123456789", ["contact.created"])
    api.post("/api/v1/contacts", json={"email": "priya@acme.example"})
    [delivery_id] = due_deliveries(synced, now=clock.now())
    synced.commit()
    with caplog.at_level(logging.DEBUG), pytest.raises(WebhookError):
        deliver(services, delivery_id)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"webhook delivery {delivery_id} (contact.created) to http://127.0.0.1:" in logged
    assert "tok_0123456789" not in logged and "/hooks" not in logged and SECRET not in logged
