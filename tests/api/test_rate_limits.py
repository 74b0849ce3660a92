"""Rate limits: per API key (per address without a valid one), 429 in the error shape with Retry-After,
batch endpoints lower; and the JSON error shape for 404 and 405 under /api/v1."""
from __future__ import annotations

import pytest

from app import create_app
from app.config import ConfigError, load_config
from app.models import Base


@pytest.fixture
def limited(config, clock, session):
    app = create_app(config.with_overrides(api_rate_limit="5/minute", api_batch_rate_limit="2/minute"), clock=clock)
    Base.metadata.create_all(app.extensions["nurture"].engine)
    yield app
    app.extensions["nurture"].engine.dispose()


def _key(app, clock, name):
    from app.domain.contacts.api_keys import issue_api_key

    with app.extensions["nurture"].sessions() as session:
        _, key = issue_api_key(session, name, clock.now(), ["admin"])
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_past_the_limit_a_key_gets_429_with_retry_after(limited, clock):
    client, crm, other = limited.test_client(), _key(limited, clock, "crm"), _key(limited, clock, "other")
    answers = [client.get("/api/v1/handoffs", headers=crm).status_code for _ in range(5)]
    assert answers == [200] * 5
    refused = client.post("/api/v1/contacts", json={"email": "a@example.org"}, headers=crm)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/handoffs", headers=other).status_code == 200  # each key has its own budget


def test_requests_without_a_valid_key_are_limited_by_address(limited, clock):
    client = limited.test_client()
    made_up = [client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer nk_guess{n}"}).status_code
               for n in range(6)]
    assert made_up == [401] * 5 + [429]  # a new made-up key does not buy a new budget
    assert client.get("/api/v1/handoffs", headers=_key(limited, clock, "crm")).status_code == 200


def test_batch_endpoints_have_a_lower_limit(limited, clock):
    client, crm = limited.test_client(), _key(limited, clock, "crm")
    batch = {"events": [{"email": "a@example.org", "type": "page_view"}]}
    answers = [client.post("/api/v1/events/batch", json=batch, headers=crm).status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    assert client.get("/api/v1/handoffs", headers=crm).status_code == 200


def test_the_limits_are_set_by_environment_variables(tmp_path):
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path)}
    assert load_config(env).api_rate_limit == "600/minute"
    assert load_config({**env, "NURTURE_API_RATE_LIMIT": "100 per 10 seconds"}).api_rate_limit == "100 per 10 seconds"
    with pytest.raises(ConfigError, match="NURTURE_API_BATCH_RATE_LIMIT"):
        load_config({**env, "NURTURE_API_BATCH_RATE_LIMIT": "lots"})


def test_unknown_paths_and_methods_answer_in_the_error_shape(api, client):
    missing = api.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.put("/api/v1/events", json={})
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"
