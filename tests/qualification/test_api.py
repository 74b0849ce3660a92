"""The JSON API for sales tools and marketers: decisions, outcomes, recycling, reports; one error shape."""
from __future__ import annotations

import pytest

from .conftest import reload


@pytest.fixture
def handed(people, lead):
    return lead("priya@acme.example")


def test_a_handoff_reads_with_report_feedback_and_audit_trail(api, handed, people):
    """GET /handoffs/<id> answers the lead report, the rep, the SLA time and what happened so far."""
    body = api.get(f"/api/v1/handoffs/{handed.id}").get_json()
    assert body["rep"]["email"] == people["rep"].email and body["status"] == "pending"
    assert body["report"]["fit"]["grade"] == "A" and body["report"]["assignment"]["strategy"] == "round robin"
    assert [e["kind"] for e in body["events"]] == ["assigned"] and body["feedback"] == []
    listed = api.get(f"/api/v1/handoffs?rep={people['rep'].email}&status=pending").get_json()["handoffs"]
    assert [h["id"] for h in listed] == [handed.id]
    assert api.get("/api/v1/handoffs?status=lost-in-space").status_code == 422
    assert api.get("/api/v1/handoffs/999").get_json() == {"error": {"code": "not_found", "message": "handoff 999 not found"}}


def test_decision_outcome_and_recycle_through_the_api(api, handed, people, synced):
    """Accept with a rating, then lost for a reason, then recycle: each answered with the new state."""
    rep = people["rep"].email
    accepted = api.post(f"/api/v1/handoffs/{handed.id}/decision",
                        json={"user": rep, "decision": "accept", "rating": 4, "reasons": ["active project"]})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    lost = api.post(f"/api/v1/handoffs/{handed.id}/outcome", json={"user": rep, "outcome": "lost", "reason": "price"})
    assert lost.get_json()["outcome"] == "lost"
    recycled = api.post(f"/api/v1/handoffs/{handed.id}/recycle", json={"user": "marketer@nurture.test"})
    assert recycled.status_code == 200 and recycled.get_json()["recycled_at"]
    assert reload(synced, handed.contact).stage == "nurturing"
    assert [e["kind"] for e in recycled.get_json()["events"]] == ["assigned", "accepted", "outcome", "recycled"]


@pytest.mark.parametrize("path, body, status, field", [
    ("decision", {"user": "alex@nurture.test", "decision": "maybe"}, 422, "decision"),
    ("decision", {"user": "alex@nurture.test", "decision": "reject"}, 422, "reasons"),
    ("decision", {"user": "alex@nurture.test", "decision": "accept", "rating": 11}, 422, "rating"),
    ("decision", {"user": "alex@nurture.test", "decision": "accept", "colour": "red"}, 422, "colour"),
    ("decision", {"user": "ghost@nurture.test", "decision": "accept"}, 422, "user"),
    ("decision", {"decision": "accept"}, 422, "user"),
    ("decision", {"user": "marketer@nurture.test", "decision": "accept"}, 403, "user"),
    ("outcome", {"user": "alex@nurture.test", "outcome": "won", "amount": 5}, 409, None),
    ("feedback", {"user": "alex@nurture.test", "rating": 3}, 409, None),
    ("recycle", {"user": "alex@nurture.test"}, 409, None),
])
def test_bad_requests_answer_4xx_naming_the_field(api, handed, people, path, body, status, field):
    """Every refusal uses the API's one error shape with the field at fault; never a 500."""
    response = api.post(f"/api/v1/handoffs/{handed.id}/{path}", json=body)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert set(error) <= {"code", "message", "field"} and error["message"]
    assert error.get("field") == field


def test_the_api_needs_a_key(client, handed):
    """Without a bearer key the new endpoints answer 401 like the rest."""
    assert client.post(f"/api/v1/handoffs/{handed.id}/decision", json={}).status_code == 401
    assert client.get("/api/v1/reports/criteria").status_code == 401
    assert client.put("/api/v1/agreement", json={}).status_code == 401


def test_agreement_reads_and_saves_only_when_valid(api, client, api_key, synced):
    """PUT /agreement refuses a bad document listing every problem, and saves a good one."""
    api.put = lambda path, json: client.put(path, json=json, headers={"Authorization": f"Bearer {api_key}"})
    data = api.get("/api/v1/agreement").get_json()
    assert data["qualification"]["min_score"] == 100
    data["qualification"]["min_score"] = -1
    data["handoff"]["sla_action"] = "shrug"
    refused = api.put("/api/v1/agreement", json=data)
    error = refused.get_json()["error"]
    assert refused.status_code == 422 and error["field"] == "qualification.min_score" and len(error["problems"]) == 2
    data["qualification"]["min_score"], data["handoff"]["sla_action"] = 90, "reassign"
    saved = api.put("/api/v1/agreement", json=data)
    assert saved.get_json()["changed"] and api.get("/api/v1/agreement").get_json()["qualification"]["min_score"] == 90


def test_reports_whatif_suggestions_and_reviews(api, handed, people):
    """The reports answer JSON; a what-if is validated and saves nothing; reviews need a YYYY-MM month."""
    evidence = api.get("/api/v1/reports/criteria").get_json()
    assert evidence["overall"]["handoffs"] == 1 and evidence["criteria"][0]["name"] == "Target industry"
    assert api.get("/api/v1/reports/criteria?since=soon").get_json()["error"]["field"] == "since"
    replayed = api.post("/api/v1/reports/whatif", json={"agreement": {"qualification": {"fast_track": []}}})
    assert replayed.get_json()["summary"]["dropped"] == 1
    bad = api.post("/api/v1/reports/whatif", json={"agreement": {"fit": {"criteria": [{"name": "x"}]}}})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"].startswith("fit.criteria[0]")
    assert api.post("/api/v1/reports/whatif", json={"agreement": [], "x": 1}).get_json()["error"]["field"] == "x"
    assert "threshold" in api.get("/api/v1/reports/suggestions").get_json()
    month = f"{handed.assigned_at:%Y-%m}"
    review = api.get(f"/api/v1/reviews/{people['rep'].id}/{month}").get_json()
    assert review["leads"][0]["missing"] == ["accept or reject", "rating"]
    assert api.get(f"/api/v1/reviews/{people['rep'].id}/2026-1").get_json()["error"]["field"] == "month"
