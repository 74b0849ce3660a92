"""NURTURE_SECRET_KEY signs sessions and every link in every email: a key given must be at least 32
bytes, and a short one stops `nurture` (and the WSGI entry point) with one line naming the variable."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app.cli import main
from app.config import ConfigError, load_config
from tests.conftest import ROOT

SHORT = "s3cret-but-only-24-bytes"
GOOD = "k" * 32


def test_a_short_secret_key_is_refused_naming_the_variable(tmp_path):
    for env in ({"NURTURE_SECRET_KEY": SHORT}, {"NURTURE_SECRET_KEY": SHORT, "NURTURE_REDIS_URL": "redis://r:6379/0"}):
        with pytest.raises(ConfigError) as refused:
            load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), **env})
        assert "NURTURE_SECRET_KEY" in str(refused.value) and "32 bytes" in str(refused.value)
        assert SHORT not in str(refused.value)


def test_a_key_of_32_bytes_and_the_embedded_default_are_accepted(tmp_path):
    assert load_config({"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_SECRET_KEY": GOOD}).secret_key == GOOD
    embedded = load_config({"NURTURE_INSTANCE_PATH": str(tmp_path)})
    assert len(embedded.secret_key.encode()) >= 32 and (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("command, redis", [(["init"], ""), (["up", "--port", "5999"], "redis://127.0.0.1:1/0"),
                                            (["web"], "")])
def test_the_commands_say_so_in_one_line(tmp_path, monkeypatch, command, redis):
    """(`up` is given Redis and `web` cannot exec a server, so neither could start serving if the check slipped.)"""
    monkeypatch.setattr(os, "execvp", lambda *a: pytest.fail("web started a server with a short key"))
    env = {"NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_REDIS_URL": redis, "NURTURE_DATABASE_URL": "",
           "NURTURE_SMTP_URL": "", "NURTURE_SECRET_KEY": SHORT}
    result = CliRunner().invoke(main, command, env=env, catch_exceptions=False)
    assert result.exit_code == 1 and "NURTURE_SECRET_KEY must be at least 32 bytes" in result.output
    assert "Traceback" not in result.output


def test_the_wsgi_entry_point_says_so_in_one_line(tmp_path):
    """What gunicorn or granian would print when started on app.wsgi:app directly."""
    env = {**os.environ, "NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_SECRET_KEY": SHORT}
    env.pop("NURTURE_REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", "import app.wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 3
    assert "NURTURE_SECRET_KEY must be at least 32 bytes" in result.stderr and "Traceback" not in result.stderr
