"""Notes on a contact: conversation history and personal notes a rep reads before calling."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.errors import ValidationError
from app.models import Contact, Note, User

NOTE_KINDS = ("note", "conversation", "personal")
NOTE_MAX = 10_000


def add_note(session: Session, contact: Contact, user: User, *, kind: str, body: str, now: datetime) -> Note:
    """A note written by `user`; the caller commits."""
    body = (body or "").strip()
    if kind not in NOTE_KINDS:
        raise ValidationError("kind", f"choose a kind of note: {', '.join(NOTE_KINDS)}")
    if not body:
        raise ValidationError("body", "write something before saving the note")
    if len(body) > NOTE_MAX:
        raise ValidationError("body", f"a note holds at most {NOTE_MAX:,} characters")
    note = Note(contact_id=contact.id, user_id=user.id, kind=kind, body=body, created_at=now)
    session.add(note)
    return note
