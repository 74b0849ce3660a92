"""The follow-up page's numbers (a won deal's amount, a rating) are ASCII digits: '²' passes
str.isdigit() but not int(), and is a form error like any other word, never a 500."""
from __future__ import annotations

import pytest

from app.domain.handoff.feedback import respond

from .conftest import page


@pytest.mark.parametrize("path, form", [("outcome", {"outcome": "won", "amount": "²"}),
                                        ("outcome", {"outcome": "won", "amount": "١٢"}),
                                        ("feedback", {"rating": "²", "comment": "ok"})])
def test_digits_beyond_ascii_are_a_form_error(client, login, people, lead, synced, clock, path, form):
    handed = lead("priya@acme.example")
    respond(synced, handed, people["rep"], accept=True, rating=4, reasons=[], comment="", now=clock.now())
    synced.commit()
    login(people["rep"])
    response = client.post(f"/handoffs/{handed.id}/{path}", data=form)
    assert response.status_code == 400 and "must be a whole number" in page(response)
