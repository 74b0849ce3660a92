"""The fuzz of tests/api/test_fuzz_no_server_errors.py against PostgreSQL and Redis, where a NUL, a
lone surrogate or a number past a 32-bit column is the database's error unless the edge refuses it."""
from __future__ import annotations

import pytest

from tests.api.test_fuzz_no_server_errors import (  # noqa: F401  (the tests and their fixture, run here again)
    ids, test_the_api_answers_random_json_without_a_server_error,
    test_the_public_form_and_the_beacon_answer_without_a_server_error,
    test_the_put_agreement_and_the_query_strings_answer_without_a_server_error)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(prod_app):
    return prod_app


@pytest.fixture
def clock(prod_clock):
    return prod_clock
