"""In production the rate limits are counted in Redis, so every web process spends from one budget."""
from __future__ import annotations

import pytest
from redis import Redis

from app import create_app
from app.config import load_config
from app.db import upgrade
from app.domain.contacts.api_keys import issue_api_key

pytestmark = pytest.mark.integration


def test_two_web_processes_share_one_budget_in_redis(prod_env, prod_clock, redis_url):
    config = load_config(prod_env).with_overrides(testing=True, api_rate_limit="4/minute")
    first, second = (create_app(config, clock=prod_clock) for _ in range(2))
    services = first.extensions["nurture"]
    upgrade(services.engine)
    with services.sessions() as session:
        _, key = issue_api_key(session, "crm", prod_clock.now(), ["read"])
        session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    answers = [app.test_client().get("/api/v1/handoffs", headers=headers).status_code
               for app in (first, second, first, second, first)]
    assert answers == [200, 200, 200, 200, 429]
    assert any(k.startswith(b"LIMITS:nurture-api") or b"nurture-api" in k for k in Redis.from_url(redis_url).keys())
    for app in (first, second):
        app.extensions["nurture"].engine.dispose()
