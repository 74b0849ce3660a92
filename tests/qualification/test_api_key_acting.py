"""A key answers for a lead on behalf of a named user only with the sales:act scope, only for a user
the domain lets decide, never for an admin without the admin scope; the audit trail names key and user."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import StageTransition


@pytest.fixture
def handed(people, lead):
    return lead("priya@acme.example")


def decide(client, handed, headers, user, decision="accept"):
    return client.post(f"/api/v1/handoffs/{handed.id}/decision", headers=headers,
                       json={"user": user, "decision": decision, "rating": 4, "reasons": ["active project"]})


def test_a_key_without_sales_act_cannot_answer_for_anybody(client, handed, people, key_for):
    """A CRM key that syncs contacts (read, contacts:write) cannot accept a lead as the rep."""
    _, headers = key_for("read", "contacts:write")
    for path, body in [("decision", {"user": people["rep"].email, "decision": "accept"}),
                       ("feedback", {"user": people["rep"].email, "rating": 3}),
                       ("outcome", {"user": people["rep"].email, "outcome": "opportunity"}),
                       ("recycle", {"user": people["marketer"].email})]:
        refused = client.post(f"/api/v1/handoffs/{handed.id}/{path}", headers=headers, json=body)
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["code"] == "insufficient_scope" and "sales:act" in refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/handoffs/{handed.id}", headers=headers).get_json()["status"] == "pending"


def test_sales_act_cannot_impersonate_an_admin(client, handed, people, key_for):
    """An admin's name in the body is refused unless the key itself has the admin scope."""
    _, sales = key_for("sales:act")
    refused = decide(client, handed, sales, people["admin"].email)
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "user"
    assert "admin" in refused.get_json()["error"]["message"]
    _, admin = key_for("admin", name="ops")
    assert decide(client, handed, admin, people["admin"].email).get_json()["status"] == "accepted"


def test_sales_act_still_follows_who_may_decide(client, handed, people, key_for):
    """Marketing may not accept a lead, whatever the key: the domain's rule holds."""
    _, headers = key_for("sales:act")
    refused = decide(client, handed, headers, people["marketer"].email)
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "user"


def test_the_audit_trail_names_the_key_and_the_user(client, handed, people, key_for, session, login):
    """Decision, outcome, feedback and recycling through a key are recorded as that key for that user."""
    row, headers = key_for("read", "sales:act", name="Salesforce sync")
    rep, marketer = people["rep"].email, people["marketer"].email
    as_rep = f"key Salesforce sync ({row.prefix}) for user {rep}"
    assert decide(client, handed, headers, rep).status_code == 200
    base = f"/api/v1/handoffs/{handed.id}"
    assert client.post(f"{base}/outcome", headers=headers, json={"user": rep, "outcome": "lost", "reason": "price"}).status_code == 200
    assert client.post(f"{base}/feedback", headers=headers, json={"user": rep, "comment": "went cold"}).status_code == 200
    assert client.post(f"{base}/recycle", headers=headers, json={"user": marketer}).status_code == 200
    body = client.get(base, headers=headers).get_json()
    assert [(e["kind"], e["actor"]) for e in body["events"]] == [
        ("assigned", "system"), ("accepted", as_rep), ("outcome", as_rep),
        ("recycled", f"key Salesforce sync ({row.prefix}) for user {marketer}")]
    assert [f["actor"] for f in body["feedback"]] == [as_rep, as_rep, as_rep]
    session.expire_all()
    stages = session.scalars(select(StageTransition).where(StageTransition.contact_id == handed.contact_id)
                             .order_by(StageTransition.id)).all()
    assert [(t.to_value, t.actor) for t in stages][-3:] == [
        ("sal", as_rep), ("lost", as_rep), ("nurturing", f"key Salesforce sync ({row.prefix}) for user {marketer}")]
    login(people["marketer"])
    page = client.get(f"/handoffs/{handed.id}/follow-up").get_data(as_text=True)
    assert f"by key Salesforce sync ({row.prefix}) for user {rep}" in page
    assert f"through key Salesforce sync ({row.prefix})" in page


def test_a_long_key_name_and_address_are_recorded_whole(client, handed, people, key_for, session, make_user):
    """A 100-character key name acting for a manager with a long address: the actor is kept in full."""
    manager = make_user(f"{'m' * 60}@{'sales-division.' * 4}example.com", "sales_manager")
    row, headers = key_for("read", "sales:act", name="n" * 100)
    assert decide(client, handed, headers, manager.email).status_code == 200
    actor = client.get(f"/api/v1/handoffs/{handed.id}", headers=headers).get_json()["events"][-1]["actor"]
    assert actor == f"key {'n' * 100} ({row.prefix}) for user {manager.email}" and len(actor) > 200
