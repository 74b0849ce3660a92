"""Links that act for whoever holds them (unsubscribe, preferences, forward, confirmation, tracking)
never leave their token in an access log: the embedded server (`nurture up`), gunicorn and granian
(`nurture web`) print <token> in its place, in the request line and in the referrer alike."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from app.access_log import HIDE_TOKENS, redact
from tests.conftest import ROOT

TOKEN = "Zm9yZ2VkLXRva2VuLWZvci10aGUtbG9nLXRlc3QtMTIz"  # shaped like a signed token; forged is enough here
PATHS = [f"/u/{TOKEN}", f"/u/{TOKEN}/preferences", f"/u/{TOKEN}/forward", f"/f/confirm/{TOKEN}", f"/t/c/{TOKEN}",
         f"/t/o/{TOKEN}.gif"]


def test_redact_keeps_the_shape_of_the_path():
    assert redact(f'"GET /u/{TOKEN}/preferences?x=1 HTTP/1.1" 200') == '"GET /u/<token>/preferences?x=1 HTTP/1.1" 200'
    assert redact(f"https://nurture.example/t/o/{TOKEN}.gif") == "https://nurture.example/t/o/<token>.gif"
    assert redact("/f/demo /t/s/collect /campaigns/7") == "/f/demo /t/s/collect /campaigns/7"


def test_the_filter_sits_on_every_access_logger(app):
    for name in ("werkzeug", "gunicorn.access", "granian.access"):
        assert HIDE_TOKENS in logging.getLogger(name).filters
    assert HIDE_TOKENS in app.logger.filters


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _log_of(command: list[str], tmp_path, extra_env: dict[str, str]) -> str:
    """Start the server, wait until it answers, request every token path (with a token in the referrer
    too), stop it, and return what it wrote."""
    port = _free_port()
    env = {**os.environ, "NURTURE_INSTANCE_PATH": str(tmp_path), "NURTURE_BASE_URL": f"http://127.0.0.1:{port}",
           "PYTHONUNBUFFERED": "1", **extra_env}
    for name in ("NURTURE_REDIS_URL", "NURTURE_DATABASE_URL", "NURTURE_SMTP_URL", "NURTURE_SECRET_KEY"):
        env.pop(name, None)
    output = tmp_path / "server.log"
    with open(output, "wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", *command, "--host", "127.0.0.1", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while not _answers(port):
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "the server did not answer within 90 s:\n" + output.read_text()
                time.sleep(0.2)
            for path in PATHS:
                request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                                 headers={"Referer": f"http://127.0.0.1:{port}/u/{TOKEN}/preferences"})
                try:
                    urllib.request.urlopen(request, timeout=10).close()
                except urllib.error.HTTPError:
                    pass  # a forged token gets our own 404 page; the log line is what matters
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    return output.read_text(errors="replace")


def _assert_hidden(log: str) -> None:
    assert TOKEN not in log, log[-3000:]
    for path in PATHS:
        assert path.replace(TOKEN, "<token>") in log, (path, log[-3000:])


def test_nurture_up_logs_no_token(tmp_path):
    """The embedded server (werkzeug) that `nurture up` runs."""
    _assert_hidden(_log_of(["up"], tmp_path, {}))


def test_gunicorn_logs_no_token_in_the_request_or_the_referrer(tmp_path):
    log = _log_of(["web", "--server", "gunicorn", "--workers", "1"], tmp_path, {})
    _assert_hidden(log)
    assert f'"http://127.0.0.1:' in log and '/u/<token>/preferences"' in log  # the referrer, hidden too


def test_granian_logs_no_token_when_its_access_log_is_on(tmp_path):
    pytest.importorskip("granian")
    _assert_hidden(_log_of(["web", "--server", "granian", "--workers", "1"], tmp_path,
                           {"GRANIAN_LOG_ACCESS_ENABLED": "true"}))
