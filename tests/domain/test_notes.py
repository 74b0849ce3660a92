"""Notes on a contact: what add_note refuses and what it stores."""
from __future__ import annotations

import pytest

from app.domain.contacts.notes import NOTE_MAX, add_note
from app.domain.errors import ValidationError
from app.models import Contact, Note


@pytest.fixture
def contact(session, clock):
    found = Contact(email="ada@acme.example", created_at=clock.now(), updated_at=clock.now())
    session.add(found)
    session.commit()
    return found


@pytest.mark.parametrize("kind, body, field", [
    ("gossip", "x", "kind"), ("note", "   ", "body"), ("note", "x" * (NOTE_MAX + 1), "body"),
])
def test_a_note_without_a_known_kind_or_a_body_of_sensible_length_is_refused(session, clock, make_user, contact,
                                                                               kind, body, field):
    with pytest.raises(ValidationError) as err:
        add_note(session, contact, make_user("rep@example.com"), kind=kind, body=body, now=clock.now())
    assert err.value.field == field
    assert session.query(Note).count() == 0


def test_a_note_is_stored_trimmed_with_its_author_and_time(session, clock, make_user, contact):
    rep = make_user("rep@example.com")
    note = add_note(session, contact, rep, kind="conversation", body="  Called: wants a quote. ", now=clock.now())
    session.commit()
    assert (note.contact_id, note.user_id, note.kind, note.body) == (contact.id, rep.id, "conversation",
                                                                      "Called: wants a quote.")
    assert note.created_at is not None
