"""Production pieces as real processes: migrations on PostgreSQL, `nurture web` under gunicorn."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.models import Base

from .conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.integration


def test_migrations_match_the_models_on_postgres(prod_app):
    """The schema created by Alembic on PostgreSQL is the one the models describe."""
    engine = prod_app.extensions["nurture"].engine
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_nurture_web_serves_the_app_with_gunicorn(prod_app, prod_env):
    """`nurture web` starts gunicorn workers that answer the login page and the API."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "web", "--host", "127.0.0.1", "--port", str(port),
                                "--workers", "2", "--server", "gunicorn"], cwd=ROOT, env={**os.environ, **prod_env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def login_page():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False
        wait_for(login_page, timeout=30, what="gunicorn to answer")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/handoffs")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
    finally:
        process.terminate()
        process.wait(timeout=15)
