"""The resources a CRM builds on: personas, segments, campaigns with steps and versions, enrollments,
contacts by filter with cursor paging, and suppressions."""
from __future__ import annotations

import pytest


@pytest.fixture
def crm(client, api_key):
    class Crm:
        headers = {"Authorization": f"Bearer {api_key}"}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, json):
            return client.post(path, json=json, headers=self.headers)

        def delete(self, path):
            return client.delete(path, headers=self.headers)
    return Crm()


def test_personas_segments_campaigns_and_steps_read_as_synced(synced, crm):
    personas = crm.get("/api/v1/personas").get_json()["personas"]
    assert {"engineer"} <= {p["slug"] for p in personas}
    assert crm.get("/api/v1/personas/engineer").get_json()["slug"] == "engineer"
    assert crm.get("/api/v1/personas/nobody").status_code == 404
    assert isinstance(crm.get("/api/v1/segments").get_json()["segments"], list)
    drips = crm.get("/api/v1/campaigns?kind=drip").get_json()["campaigns"]
    assert drips and {c["kind"] for c in drips} == {"drip"}
    assert crm.get("/api/v1/campaigns?status=sleeping").get_json()["error"]["field"] == "status"
    campaign = crm.get("/api/v1/campaigns/engineer-nurture").get_json()
    assert campaign["status"] == "active" and campaign["persona"] == "engineer" and campaign["steps"]
    first = campaign["steps"][0]
    assert first["current_version"] == first["versions"][0]["version"] and first["versions"][0]["subject"]
    assert crm.get(f"/api/v1/campaigns/{campaign['id']}").get_json()["slug"] == "engineer-nurture"
    assert crm.get(f"/api/v1/steps/{first['id']}").get_json() == first
    assert crm.get("/api/v1/steps/999999").status_code == 404


def test_enroll_list_and_remove(synced, crm):
    contact = crm.post("/api/v1/contacts", json={"email": "ops@example.org", "title": "VP Operations"}).get_json()
    enrolled = crm.post("/api/v1/enrollments", json={"contact_id": contact["id"], "campaign": "buyer-nurture"})
    assert enrolled.status_code == 201, enrolled.get_json()
    body = enrolled.get_json()
    assert (body["campaign"], body["status"], body["source"]) == ("buyer-nurture", "active", "api")
    again = crm.post("/api/v1/enrollments", json={"contact_id": contact["id"], "campaign": "buyer-nurture"})
    assert again.status_code == 409 and "is in it" in again.get_json()["error"]["message"]
    listed = crm.get(f"/api/v1/contacts/{contact['id']}/enrollments").get_json()["enrollments"]
    assert body["id"] in [e["id"] for e in listed]
    removed = crm.delete(f"/api/v1/enrollments/{body['id']}")
    assert removed.status_code == 200 and removed.get_json()["status"] == "stopped"
    assert removed.get_json()["exit_reason"].startswith("removed by key tests")
    assert crm.delete(f"/api/v1/enrollments/{body['id']}").get_json()["status"] == "stopped"
    assert crm.delete("/api/v1/enrollments/999999").status_code == 404


@pytest.mark.parametrize("body, status, field", [
    ({"contact_id": 999999, "campaign": "buyer-nurture"}, 404, None),
    ({"contact_id": "1", "campaign": "buyer-nurture"}, 422, "contact_id"),
    ({"campaign": "buyer-nurture"}, 422, "contact_id"),
    ({"contact_id": 1, "campaign": ["x"]}, 422, "campaign"),
])
def test_bad_enrollments_are_refused(synced, crm, body, status, field):
    crm.post("/api/v1/contacts", json={"email": "ops@example.org"})
    answer = crm.post("/api/v1/enrollments", json=body)
    assert answer.status_code == status and answer.get_json()["error"].get("field") == field


def test_contacts_filter_and_page_with_a_cursor(synced, crm, clock):
    for n in range(5):
        crm.post("/api/v1/contacts", json={"email": f"eng{n}@example.org", "title": "Controls Engineer",
                                           "company": "Acme" if n % 2 else "Globex"})
    clock.advance(3600)
    since = clock.now().isoformat()
    crm.post("/api/v1/contacts", json={"email": "eng1@example.org", "first_name": "Late"})
    seen, cursor = [], None
    while True:
        page = crm.get("/api/v1/contacts", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).get_json()
        seen += [c["email"] for c in page["contacts"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"eng{n}@example.org" for n in range(5)]
    assert [c["email"] for c in crm.get("/api/v1/contacts?q=acme").get_json()["contacts"]] == [
        "eng1@example.org", "eng3@example.org"]
    assert [c["email"] for c in crm.get("/api/v1/contacts", query_string={"updated_since": since})
            .get_json()["contacts"]] == ["eng1@example.org"]
    assert len(crm.get("/api/v1/contacts?persona=engineer&stage=nurturing&email_status=active")
               .get_json()["contacts"]) == 5
    assert crm.get("/api/v1/contacts?persona=nobody").get_json()["contacts"] == []


@pytest.mark.parametrize("query, field", [
    ("limit=201", "limit"), ("limit=0", "limit"), ("cursor=bm9wZQ", "cursor"), ("stage=asleep", "stage"),
    ("grade=E", "grade"), ("updated_since=yesterday", "updated_since"), ("q=" + "x" * 201, "q"),
])
def test_bad_list_filters_name_the_field(crm, query, field):
    answer = crm.get(f"/api/v1/contacts?{query}")
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == field


def test_suppressions_list_erased_addresses_as_hashes(synced, crm):
    contact = crm.post("/api/v1/contacts", json={"email": "gone@example.org"}).get_json()
    crm.delete(f"/api/v1/contacts/{contact['id']}")
    page = crm.get("/api/v1/suppressions").get_json()
    assert [s["reason"] for s in page["suppressions"]] == ["erased"] and page["next"] is None
    assert "gone@example.org" not in str(page)


def test_reads_need_the_read_scope_and_enrolling_contacts_write(synced, client, session, clock):
    from app.domain.contacts.api_keys import issue_api_key

    _, writer = issue_api_key(session, "forms", clock.now(), ["contacts:write"])
    _, reader = issue_api_key(session, "bi", clock.now(), ["read"])
    session.commit()
    as_writer, as_reader = ({"Authorization": f"Bearer {k}"} for k in (writer, reader))
    assert client.get("/api/v1/campaigns", headers=as_writer).status_code == 403
    assert client.get("/api/v1/contacts", headers=as_reader).status_code == 200
    assert client.post("/api/v1/enrollments", json={"contact_id": 1, "campaign": "buyer-nurture"},
                       headers=as_reader).status_code == 403
