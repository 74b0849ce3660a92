"""schemathesis against the served OpenAPI document: generated requests for every operation, through the
Flask app's WSGI interface, on the embedded default with an admin key. No answer may be a 5xx, and every
answer must match the documented status codes, media types and schemas."""
from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app import create_app
from app.clock import MovableClock
from app.config import load_config
from app.models import Base

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app and database for the whole run: the starter library, a rep, an admin key, some contacts."""
    from app.domain.campaigns.sync import sync_directory
    from app.domain.contacts.api_keys import issue_api_key
    from app.domain.contacts.users import create_user

    folder = tmp_path_factory.mktemp("schemathesis")
    config = load_config({"NURTURE_INSTANCE_PATH": str(folder), "NURTURE_BASE_URL": "https://nurture.test",
                          "NURTURE_SECRET_KEY": "test-secret-0123456789abcdef0123456789abcdef"}).with_overrides(
        testing=True, api_rate_limit="100000/minute", api_batch_rate_limit="100000/minute")  # limits have their own test
    clock = MovableClock()
    app = create_app(config, clock=clock)
    services = app.extensions["nurture"]
    Base.metadata.create_all(services.engine)
    with services.sessions() as session:
        sync_directory(session, ROOT / "campaigns", templates_dir=ROOT / "templates",
                       postal_address=config.postal_address, now=clock.now())
        create_user(session, "rep@nurture.test", "sales", now=clock.now(), password="correct-horse")
        _, key = issue_api_key(session, "schemathesis", clock.now(), scopes=["admin"])
        session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    for n, title in enumerate(("Controls Engineer", "VP Operations", "Plant Manager")):
        client.post("/api/v1/contacts", json={"email": f"seed{n}@example.org", "title": title,
                                              "industry": "Manufacturing"}, headers=headers)
    yield app, headers
    services.engine.dispose()


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        yield result.ok()


def test_every_operation_answers_as_documented(world):
    """Each operation gets EXAMPLES generated requests (positive data; the run is derandomised, so it is
    the same every time); every failure is collected, so one run names them all."""
    app, headers = world
    failures = []
    for operation in _operations(app):
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001  (collected and reported together below)
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_linked_operations_answer_as_documented(world):
    """The stateful run follows the document's links: a contact created by POST is then read, exported,
    given consent and erased by the id in its answer."""
    app, headers = world
    machine = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).as_state_machine()

    class Workflow(machine):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(settings=settings(max_examples=15, stateful_step_count=6, deadline=None, derandomize=True,
                                   database=None, suppress_health_check=list(HealthCheck)))
