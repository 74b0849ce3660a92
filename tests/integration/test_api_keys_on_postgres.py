"""API keys on PostgreSQL: scopes read back from JSONB, last use to the minute, revocation at once, and a
key acting for a user recorded whole in the audit trail (PostgreSQL, unlike SQLite, enforces the width)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.campaigns.sync import sync_directory
from app.domain.contacts.api_keys import issue_api_key, revoke_api_key
from app.domain.contacts.users import create_user
from app.models import ApiKey, Handoff, StageTransition
from tests.conftest import ROOT
from tests.loop_steps import PRIYA

pytestmark = pytest.mark.integration


def test_scopes_last_use_revocation_and_the_actor_of_a_key(prod_app, prod_clock):
    services, client, now = prod_app.extensions["nurture"], prod_app.test_client(), prod_clock.now()
    long_email = f"{'r' * 60}@{'regional-sales.' * 4}example.com"
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=services.config.postal_address, now=now)
        create_user(session, long_email, "sales", now=now)
        feeder, feed_key = issue_api_key(session, "forms", now, ["contacts:write"])
        crm, crm_key = issue_api_key(session, "c" * 100, now, ["read", "sales:act"])
        session.commit()
    feed, act = ({"Authorization": f"Bearer {k}"} for k in (feed_key, crm_key))

    assert client.post("/api/v1/contacts", json=PRIYA, headers=feed).status_code == 201
    assert client.post("/api/v1/events", json={"email": PRIYA["email"], "type": "demo_request"},
                       headers=feed).status_code == 202
    assert client.get("/api/v1/handoffs", headers=feed).status_code == 403
    [handoff] = client.get("/api/v1/handoffs", headers=act).get_json()["handoffs"]
    assert handoff["rep"]["email"] == long_email

    prod_clock.advance(30)
    accepted = client.post(f"/api/v1/handoffs/{handoff['id']}/decision", headers=act,
                           json={"user": long_email, "decision": "accept", "reasons": ["active project"]})
    assert accepted.status_code == 200, accepted.get_json()
    actor = f"key {'c' * 100} ({crm.prefix}) for user {long_email}"
    assert accepted.get_json()["events"][-1]["actor"] == actor and accepted.get_json()["feedback"][0]["actor"] == actor
    with services.sessions() as session:
        assert session.scalars(select(StageTransition.actor).order_by(StageTransition.id.desc())).first() == actor
        key = session.get(ApiKey, crm.id)
        assert key.scopes == ["read", "sales:act"] and key.last_used_at == now  # not moved 30 s later
        revoke_api_key(session, crm.prefix, prod_clock.now())
        session.commit()
    assert client.get(f"/api/v1/handoffs/{handoff['id']}", headers=act).status_code == 401
    assert client.post("/api/v1/contacts", json=PRIYA, headers=feed).status_code == 200
    with services.sessions() as session:
        assert session.get(Handoff, handoff["id"]).status == "accepted"
        assert session.get(ApiKey, feeder.id).last_used_at == now
