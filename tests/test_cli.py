"""The `nurture` command: setup commands work twice, bad arguments get one clear line and exit non-zero."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from app.cli import main
from tests.conftest import ROOT


@pytest.fixture
def run(tmp_path):
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_REDIS_URL": "", "NURTURE_DATABASE_URL": "",
           "NURTURE_SMTP_URL": "", "NURTURE_SECRET_KEY": ""}

    def invoke(*args, **extra_env):
        return CliRunner().invoke(main, list(args), env={**env, **extra_env}, catch_exceptions=False)
    return invoke


def test_init_is_idempotent_and_creates_the_schema(run, tmp_path):
    """Running init twice succeeds both times and leaves every table in place."""
    assert run("init").exit_code == 0
    again = run("init")
    assert again.exit_code == 0 and "up to date" in again.output
    tables = inspect(create_engine(f"sqlite:///{tmp_path}/nurture.db")).get_table_names()
    assert {"contacts", "messages", "handoffs", "enrollments", "events", "alembic_version"} <= set(tables)


def test_sync_demo_export_user_and_apikey(run, tmp_path):
    """The setup commands a newcomer runs, in order."""
    assert run("init").exit_code == 0
    synced = run("campaigns", "sync", str(ROOT / "campaigns"))
    assert synced.exit_code == 0 and "3 personas changed" in synced.output
    assert run("demo").exit_code == 0
    exported = run("campaigns", "export", str(tmp_path / "out"))
    assert exported.exit_code == 0 and (tmp_path / "out" / "personas" / "engineer.yml").exists()
    created = run("user", "create", "Rep@Example.com", "--role", "sales", "--password", "long-enough")
    assert created.exit_code == 0 and "rep@example.com" in created.output
    key = run("apikey", "create", "--name", "crm")
    assert key.exit_code == 0 and key.output.strip().startswith("nk_")


def test_sync_of_a_missing_directory_fails_cleanly(run, tmp_path):
    """A wrong path is one line naming it and a non-zero exit."""
    run("init")
    result = run("campaigns", "sync", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "no such directory" in result.output
    assert "Traceback" not in result.output


def test_bad_user_arguments_are_refused(run):
    """Unknown role, bad email, duplicate user, short password: each a clear error."""
    run("init")
    assert run("user", "create", "a@b.co", "--role", "king").exit_code == 2
    bad_email = run("user", "create", "not-an-email", "--role", "sales")
    assert bad_email.exit_code == 1 and "not a valid email" in bad_email.output
    assert run("user", "create", "a@b.co", "--role", "sales").exit_code == 0
    duplicate = run("user", "create", "a@b.co", "--role", "sales")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = run("user", "create", "c@b.co", "--role", "sales", "--password", "short")
    assert short.exit_code == 1 and "at least 8" in short.output


def test_production_processes_refuse_to_start_without_their_configuration(run):
    """Workers and schedulers need Redis; production needs a secret key; bad URLs are named."""
    worker = run("worker")
    assert worker.exit_code == 1 and "NURTURE_REDIS_URL" in worker.output
    no_secret = run("init", NURTURE_REDIS_URL="redis://127.0.0.1:6379/0")
    assert no_secret.exit_code == 1 and "NURTURE_SECRET_KEY" in no_secret.output
    bad_smtp = run("init", NURTURE_SMTP_URL="http://mail.example.com")
    assert bad_smtp.exit_code == 1 and "NURTURE_SMTP_URL" in bad_smtp.output


def test_unreachable_database_is_a_message_not_a_traceback(run):
    """A database that cannot be reached is reported in one line."""
    result = run("init", NURTURE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert "cannot reach the database" in result.output


def test_limits_are_set_and_bad_values_refused(run):
    """Operators set per-domain rates and a warm-up; malformed values get a clear error."""
    run("init")
    result = run("limits", "set", "--per-domain", "gmail.com=600", "--warmup-start", "2026-11-01")
    assert result.exit_code == 0 and '"gmail.com": 600' in result.output
    assert '"start": "2026-11-01"' in run("limits", "show").output
    bad = run("limits", "set", "--per-domain", "gmail.com=lots")
    assert bad.exit_code == 2 and "DOMAIN=N" in bad.output
    assert run("limits", "set", "--warmup-start", "soon").exit_code == 2
