"""Contacts a page at a time on PostgreSQL: the text search is case-insensitive there too (ILIKE) and
takes % and _ literally, and the cursor walks every row once."""
from __future__ import annotations

import pytest

from app.domain.contacts.api_keys import issue_api_key

pytestmark = pytest.mark.integration


def test_search_and_cursor_paging_on_postgres(prod_app, prod_clock):
    services = prod_app.extensions["nurture"]
    with services.sessions() as session:
        _, key = issue_api_key(session, "crm", prod_clock.now(), ["read", "contacts:write"])
        session.commit()
    client, headers = prod_app.test_client(), {"Authorization": f"Bearer {key}"}
    for n, company in enumerate(("ACME Corp", "Acme_Labs", "Globex", "100% Acme")):
        assert client.post("/api/v1/contacts", json={"email": f"c{n}@example.org", "company": company},
                           headers=headers).status_code == 201
    found = client.get("/api/v1/contacts?q=acme", headers=headers).get_json()["contacts"]
    assert [c["company"] for c in found] == ["ACME Corp", "Acme_Labs", "100% Acme"]
    assert [c["company"] for c in client.get("/api/v1/contacts", query_string={"q": "0% a"},
                                             headers=headers).get_json()["contacts"]] == ["100% Acme"]
    assert client.get("/api/v1/contacts?q=e_l", headers=headers).get_json()["contacts"][0]["company"] == "Acme_Labs"
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/contacts", query_string={"limit": 3, **({"cursor": cursor} if cursor else {})},
                          headers=headers).get_json()
        seen += [c["email"] for c in page["contacts"]]
        if (cursor := page["next"]) is None:
            break
    assert seen == [f"c{n}@example.org" for n in range(4)]
