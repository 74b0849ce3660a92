"""`nurture user deactivate|activate|password` and `nurture demo` outside the embedded default."""
from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.cli.demo import DEMO_PASSWORD
from app.models import User

PASSWORD = "correct-horse"


@pytest.fixture
def nurture(services):
    return lambda *args, obj=services: CliRunner().invoke(main, list(args), obj=obj, catch_exceptions=False)


def sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password}).status_code == 302


def signed_in(client) -> bool:
    return client.get("/contacts").status_code == 200


@pytest.fixture
def rep(make_user, app):
    app.config["WTF_CSRF_ENABLED"] = False
    return make_user("alex.rep@nurture.test", "sales")


def test_deactivate_signs_the_user_out_and_activate_lets_them_back(nurture, rep, client):
    assert sign_in(client, rep.email) and signed_in(client)
    off = nurture("user", "deactivate", "Alex.Rep@nurture.test")
    assert off.exit_code == 0 and "alex.rep@nurture.test is deactivated" in off.output
    assert not signed_in(client)
    assert not sign_in(client, rep.email)
    on = nurture("user", "activate", rep.email)
    assert on.exit_code == 0 and "is active" in on.output
    assert not signed_in(client)  # the old session stays ended
    assert sign_in(client, rep.email) and signed_in(client)


def test_password_reset_ends_the_users_sessions(nurture, rep, client):
    assert sign_in(client, rep.email)
    reset = nurture("user", "password", rep.email, "--password", "a-new-long-one")
    assert reset.exit_code == 0 and "a-new-long-one" in reset.output
    assert not signed_in(client)
    assert not sign_in(client, rep.email) and sign_in(client, rep.email, "a-new-long-one")
    generated = nurture("user", "password", rep.email)
    assert generated.exit_code == 0 and sign_in(client, rep.email, generated.output.rsplit(": ", 1)[1].strip())


def test_user_commands_name_what_is_wrong(nurture, rep):
    missing = nurture("user", "deactivate", "nobody@nurture.test")
    assert missing.exit_code == 1 and "user nobody@nurture.test not found" in missing.output
    short = nurture("user", "password", rep.email, "--password", "short")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_demo_is_refused_in_production_mode_unless_told(nurture, services, session):
    """The demo's admin signs in with a published password: production mode loads it only with --i-know."""
    production = replace(services, config=services.config.with_overrides(redis_url="redis://127.0.0.1:6379/15"))
    refused = nurture("demo", obj=production)
    assert refused.exit_code == 1 and "--i-know" in refused.output and "Traceback" not in refused.output
    assert session.scalar(select(func.count()).select_from(User)) == 0
    loaded = nurture("demo", "--i-know", obj=production)
    assert loaded.exit_code == 0
    admin = session.scalar(select(User).where(User.email == "admin@nurture.example"))
    assert admin is not None and admin.check_password(DEMO_PASSWORD)


def test_demo_is_refused_when_the_environment_says_production(tmp_path):
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_REDIS_URL": "redis://127.0.0.1:6379/15",
           "NURTURE_DATABASE_URL": f"sqlite:///{tmp_path}/prod.db", "NURTURE_SMTP_URL": "",
           "NURTURE_SECRET_KEY": "a-production-secret-0123456789abcdef0123456789abcdef"}
    result = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 1 and "production mode" in result.output
