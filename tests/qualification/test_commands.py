"""`nurture rep set` and `nurture webhook`: settings from the shell, one clear line when wrong."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import main


@pytest.fixture
def run(tmp_path):
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_REDIS_URL": "", "NURTURE_DATABASE_URL": "",
           "NURTURE_SMTP_URL": "", "NURTURE_SECRET_KEY": ""}

    def invoke(*args):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert invoke("init").exit_code == 0
    assert invoke("user", "create", "alex@example.com", "--role", "sales", "--password", "long-enough").exit_code == 0
    assert invoke("user", "create", "boss@example.com", "--role", "sales_manager", "--password", "long-enough").exit_code == 0
    return invoke


def test_rep_set_changes_territory_cap_and_manager(run):
    """Territory as JSON, a weekly cap, the manager by email; the result is printed."""
    done = run("rep", "set", "alex@example.com", "--territory", '{"regions": ["emea"], "company_size": [50, 500]}',
               "--weekly-cap", "5", "--manager", "boss@example.com")
    assert done.exit_code == 0
    shown = json.loads(done.output)
    assert shown["territory"] == {"regions": ["EMEA"], "company_size": [50, 500]} and shown["weekly_cap"] == 5
    cleared = json.loads(run("rep", "set", "alex@example.com", "--weekly-cap", "none", "--territory", "{}").output)
    assert cleared["weekly_cap"] is None and cleared["territory"] == {}


@pytest.mark.parametrize("args, message", [
    (("--territory", "{regions"), "territory: is not valid JSON"),
    (("--territory", '{"regions": ["Moon"]}'), "territory.regions: 'Moon' is not one of NA, LATAM, EMEA, APAC"),
    (("--weekly-cap", "lots"), "weekly_cap: must be a whole number from 1 to 10000, or none"),
    (("--manager", "nobody@example.com"), "user nobody@example.com not found"),
    (("--manager", "alex@example.com"), "manager: alex@example.com is not a sales manager"),
])
def test_rep_set_refuses_bad_values_in_one_line(run, args, message):
    """Each mistake exits non-zero with one line naming it."""
    done = run("rep", "set", "alex@example.com", *args)
    assert done.exit_code == 1 and message in done.output and len(done.output.strip().splitlines()) == 1


def test_webhook_set_and_off(run):
    """Setting prints the generated secret once; a bad URL is refused; off switches it off."""
    done = run("webhook", "set", "https://crm.example/hooks")
    assert done.exit_code == 0 and "signing secret: whsec_" in done.output
    refused = run("webhook", "set", "crm.example")
    assert refused.exit_code == 1 and "url: must be an http:// or https:// address" in refused.output
    assert run("webhook", "off").output.strip() == "webhook off"
