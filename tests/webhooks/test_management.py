"""Managing endpoints through the API (scope admin) and the web UI (admins only): secrets shown once,
deactivation and deletion, the delivery log with answers and attempts, and redelivery that arrives once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models import WebhookDelivery
from tests.qualification.conftest import page, words
from workers.scheduler import tick

CONTACT = {"email": "priya@acme.example", "company": "Acme Automation"}


def test_endpoints_through_the_api(admin_api):
    """Create (the secret once), read, change, list with counts, delete."""
    made = admin_api.post("/api/v1/webhooks", json={"name": "salesforce", "url": "https://crm.example/hooks",
                                                    "events": ["handoff.created", "contact.created"]})
    assert made.status_code == 201
    body = made.get_json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["contact.created", "handoff.created"]
    assert body["active"] is True and body["allow_private"] is False
    endpoint_id = body["id"]
    shown = admin_api.get(f"/api/v1/webhooks/{endpoint_id}").get_json()
    assert "secret" not in shown and shown["url"] == "https://crm.example/hooks"
    changed = admin_api.patch(f"/api/v1/webhooks/{endpoint_id}", json={"active": False, "events": ["lead.qualified"]})
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    listing = admin_api.get("/api/v1/webhooks").get_json()
    assert [e["name"] for e in listing["webhooks"]] == ["salesforce"] and "secret" not in listing["webhooks"][0]
    assert listing["webhooks"][0]["deliveries"] == {"pending": 0, "sending": 0, "delivered": 0, "failed": 0}
    assert "outcome.recorded" in listing["event_types"]
    rotated = admin_api.post(f"/api/v1/webhooks/{endpoint_id}/secret").get_json()["secret"]
    assert rotated.startswith("whsec_") and rotated != body["secret"]
    assert admin_api.delete(f"/api/v1/webhooks/{endpoint_id}").status_code == 204
    assert admin_api.get(f"/api/v1/webhooks/{endpoint_id}").status_code == 404


def test_bad_endpoint_input_is_a_4xx_naming_the_field(admin_api):
    good = {"name": "crm", "url": "https://crm.example/hooks", "events": ["contact.created"]}
    for change, field in [({"events": []}, "events"), ({"events": ["contact.deleted"]}, "events[0]"),
                          ({"events": "contact.created"}, "events"), ({"url": 5}, "url"), ({"name": ""}, "name"),
                          ({"allow_private": "yes"}, "allow_private"), ({"secret": "short"}, "secret"),
                          ({"colour": "red"}, "colour")]:
        response = admin_api.post("/api/v1/webhooks", json={**good, **change})
        assert response.status_code == 422 and response.get_json()["error"]["field"] == field, change
    assert admin_api.post("/api/v1/webhooks", json=good).status_code == 201
    assert admin_api.post("/api/v1/webhooks", json=good).status_code == 409  # the name is taken
    assert admin_api.patch("/api/v1/webhooks/99", json={"active": False}).status_code == 404
    assert admin_api.get("/api/v1/webhooks/99999999999999999999/deliveries").status_code == 404
    assert admin_api.post("/api/v1/webhooks/1/deliveries/99999999999999999999/redeliver").status_code == 404


def test_only_an_admin_key_manages_webhooks(client, session, clock, admin_api):
    """A key with every scope but admin is refused, naming the scope."""
    from app.domain.contacts.api_keys import create_api_key

    key = create_api_key(session, "crm-sync", clock.now(), scopes=["read", "contacts:write", "campaigns:manage",
                                                                   "sales:act"])
    session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    response = client.get("/api/v1/webhooks", headers=headers)
    assert response.status_code == 403 and "admin" in response.get_json()["error"]["message"]
    assert client.post("/api/v1/webhooks", headers=headers, json={
        "name": "x", "url": "https://x.example", "events": ["contact.created"]}).status_code == 403
    assert client.get("/api/v1/webhooks/1/deliveries", headers=headers).status_code == 403
    assert admin_api.get("/api/v1/webhooks").status_code == 200


def test_the_delivery_log_and_a_redelivery_that_arrives_exactly_once(synced, api, admin_api, services, drain,
                                                                     receiver, endpoint):
    """First answer 503 then 200: the log shows both attempts. Redelivering sends it once more, with
    the same delivery id; asking again while it is owed is refused; the next ticks send nothing more."""
    crm = receiver([503])
    made = endpoint(crm.url, ["contact.created"])
    api.post("/api/v1/contacts", json=CONTACT)
    tick(services)
    drain()
    [failed] = admin_api.get(f"/api/v1/webhooks/{made.id}/deliveries").get_json()["deliveries"]
    assert (failed["status"], failed["attempts"], failed["response_code"]) == ("pending", 1, 503)
    services.clock.advance(timedelta(seconds=30))
    tick(services)
    drain()
    [done] = admin_api.get(f"/api/v1/webhooks/{made.id}/deliveries?status=delivered").get_json()["deliveries"]
    assert [h["code"] for h in done["history"]] == [503, 200] and done["attempts"] == 2
    path = f"/api/v1/webhooks/{made.id}/deliveries/{done['id']}/redeliver"
    assert admin_api.post(path).status_code == 202
    assert admin_api.post(path).status_code == 409  # already owed: one redelivery
    for _ in range(2):
        tick(services)
        drain()
    requests = crm.received()
    assert len(requests) == 3 and requests[1][0]["x-nurture-delivery"] == requests[2][0]["x-nurture-delivery"]
    assert admin_api.get(f"/api/v1/webhooks/{made.id}/deliveries").get_json()["deliveries"][0]["attempts"] == 3


def test_the_webhooks_pages_are_for_admins_only(people, client, login):
    for who in ("marketer", "manager", "rep"):
        login(people[who])
        assert client.get("/webhooks").status_code == 403
        assert client.post("/webhooks", data={"name": "x", "url": "https://x.example", "events": "contact.created"}
                           ).status_code == 403
    login(people["admin"])
    assert client.get("/webhooks").status_code == 200


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(people, client, login):
    login(people["admin"])
    refused = client.post("/webhooks", data={"name": "crm", "url": "https://bob:hunter2@crm.example/hooks",
                                             "events": ["contact.created"]})
    assert refused.status_code == 400 and "must not carry a user name or password" in words(refused)
    added = client.post("/webhooks", data={"name": "crm", "url": "https://crm.example/hooks",
                                           "events": ["contact.created", "lead.qualified"]})
    assert added.status_code == 200 and added.headers["Cache-Control"] == "no-store"
    secret = page(added).split('id="new-secret" class="plain-text">')[1].split("<")[0]
    assert secret.startswith("whsec_") and "it is not shown again" in words(added)
    listing = client.get("/webhooks")
    assert secret not in page(listing) and "https://crm.example/hooks" in words(listing)
    assert "contact.created, lead.qualified" in words(listing)


def test_an_admin_reads_the_log_redelivers_deactivates_and_deletes(people, client, login, synced, api, services,
                                                                   drain, receiver, endpoint):
    crm = receiver([500])
    made = endpoint(crm.url, ["contact.created"])
    api.post("/api/v1/contacts", json=CONTACT)
    tick(services)
    drain()
    login(people["admin"])
    shown = words(client.get(f"/webhooks/{made.id}"))
    assert "contact.created" in shown and "HTTP 500" in shown and "pending" in shown
    services.clock.advance(timedelta(seconds=30))
    tick(services)
    drain()
    detail = client.get(f"/webhooks/{made.id}")
    assert "HTTP 200" in words(detail) and "Redeliver" in words(detail)
    delivery_id = synced.scalar(select(WebhookDelivery.id))
    done = client.post(f"/webhooks/{made.id}/deliveries/{delivery_id}/redeliver", follow_redirects=True)
    assert "is queued to be sent again" in words(done)
    again = client.post(f"/webhooks/{made.id}/deliveries/{delivery_id}/redeliver", follow_redirects=True)
    assert "Not redelivered" in words(again)
    drain()
    tick(services)
    drain()
    assert len(crm.received()) == 3  # 500, 200, and the one redelivery
    off = client.post(f"/webhooks/{made.id}/active", follow_redirects=True)
    assert "deactivated" in words(off)
    api.post("/api/v1/contacts", json={"email": "sam@beta.example"})  # owes nothing to an inactive endpoint
    assert client.get(f"/webhooks/{made.id}").get_data(as_text=True).count('id="delivery-') == 1
    assert client.get(f"/webhooks/{made.id}/delete").status_code == 200
    gone = client.post(f"/webhooks/{made.id}/delete", follow_redirects=True)
    assert "deleted" in words(gone) and client.get(f"/webhooks/{made.id}").status_code == 404


def test_the_lead_follow_up_page_shows_each_endpoint_s_deliveries(people, client, login, lead, endpoint):
    endpoint("https://crm.example/hooks", ["handoff.created", "handoff.assigned"], allow_private=False,
             name="salesforce")
    handoff = lead("priya@acme.example")
    login(people["admin"])
    shown = words(client.get(f"/handoffs/{handoff.id}/follow-up"))
    assert "Webhooks Endpoint Event Status" in shown
    assert "salesforce handoff.created pending" in shown and "salesforce handoff.assigned pending" in shown
