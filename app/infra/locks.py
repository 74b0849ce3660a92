"""Row locks. They are taken on PostgreSQL only: SQLite serialises writers, so there every function
here leaves the statement (or the object) as it is."""
from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.models import Contact, Handoff


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def contacts_for_scoring(session: Session, query: Select) -> Select:
    """A read of contact rows that are about to be re-scored, locked until the transaction ends, so
    an event recorded meanwhile waits and then re-scores on top (no lost update)."""
    if _postgresql(session):
        query = query.with_for_update(of=Contact, key_share=True)  # NO KEY UPDATE: event INSERTs go on
    return query


def lock_contacts(session: Session, contact_ids) -> None:
    """Lock these contacts' rows. Every contact first, in id order, so concurrent batches never
    deadlock. NO KEY UPDATE: it does not wait for the key-share locks that other transactions'
    event INSERTs hold."""
    if _postgresql(session):
        session.execute(select(Contact.id).where(Contact.id.in_(contact_ids))
                        .order_by(Contact.id).with_for_update(key_share=True))


def refresh_contact_locked(session: Session, contact: Contact) -> None:
    """Lock the contact's row and read it again: an event batch or another event committed
    meanwhile is then seen and scored on top, never overwritten by a score computed without it."""
    if _postgresql(session):
        session.flush()
        session.refresh(contact, with_for_update={"key_share": True, "of": Contact})


def handoffs_once(session: Session, query: Select) -> Select:
    """A read of handoffs to act on, skipping the rows another transaction holds: with several
    schedulers each lead is taken once."""
    if _postgresql(session):
        query = query.with_for_update(skip_locked=True, of=Handoff)  # several schedulers: each lead once
    return query
