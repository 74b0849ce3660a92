"""SMTP answers are read by their enhanced status code, not the first digit."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.sending.smtp_replies import BLOCK, BOUNCE, FAIL, RETRY, THROTTLE, classify


@pytest.mark.parametrize("code, text, action", [
    (550, "5.1.1 The email account that you tried to reach does not exist", BOUNCE),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", BOUNCE),
    (553, "5.1.2 bad destination system address", BOUNCE),
    (550, "Requested action not taken: user unknown", BOUNCE),
    (421, "4.7.28 Our system has detected an unusual rate of unsolicited mail", THROTTLE),
    (421, "Too many concurrent SMTP connections; please try again later", THROTTLE),
    (550, "5.2.1 The email account is receiving mail at a rate that prevents additional messages", THROTTLE),
    (550, "5.2.1 The email account that you tried to reach is disabled", FAIL),
    (552, "5.2.2 Mailbox full", RETRY),
    (451, "4.3.0 Temporary lookup failure", RETRY),
    (450, "4.2.1 Mailbox busy", RETRY),
    (550, "5.7.1 Message rejected due to local policy", BLOCK),
    (554, "5.7.26 Unauthenticated email is not accepted from this domain", BLOCK),
    (554, "5.6.0 Message content rejected", FAIL),
    (550, "Mailbox unavailable or access denied", BOUNCE),
    (554, "Transaction failed", FAIL),
    (450, "5.1.1 mismatched class from a broken server", RETRY),
])
def test_each_answer_gets_the_agreed_action(code, text, action):
    """Real-world replies from large providers map to retry, bounce, throttle, block or fail."""
    assert classify(code, text).action == action


@given(code=st.integers(400, 499), text=st.one_of(st.text(max_size=200), st.from_regex(r"\A5\.[0-9]\.[0-9] .*", fullmatch=True)))
def test_no_4xx_answer_ever_suppresses_an_address(code, text):
    """A temporary answer never bounces or fails a message, whatever its text."""
    assert classify(code, text).action in (RETRY, THROTTLE)
