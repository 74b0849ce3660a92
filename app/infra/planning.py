"""The scheduler's planning statements: reading the due enrollments, writing the messages they owe
and advancing them. On PostgreSQL each is one set-based statement for the whole tick, whatever the
number of due steps; elsewhere the same work goes through Core.

The planned rows are (enrollment id, contact id, email, outcome number) tuples; the outcome number
counts from 1 into the tick's outcomes, which carry the columns a due step's outcome decides."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from app.models import Contact, Enrollment, EnrollmentStatus, Message


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The due enrollments are locked first (SKIP LOCKED: several schedulers never take the same one),
# then each looks up its contact by primary key. Left to itself the planner hash-joins against
# every contact, which makes a tick cost grow with the contact base instead of with what is due;
# OFFSET 0 keeps the per-row lookup from being flattened into such a join.
DUE_PG = text("""
WITH due AS MATERIALIZED (
    SELECT id, contact_id, campaign_id, next_position, next_due_at FROM enrollments
    WHERE status = 'active' AND next_due_at <= :now
    ORDER BY next_due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
SELECT due.id, due.contact_id, due.campaign_id, due.next_position, c.email, c.timezone, c.email_status,
       c.email_consent, c.stage
FROM due CROSS JOIN LATERAL (
    SELECT email, timezone, email_status, email_consent, stage FROM contacts WHERE contacts.id = due.contact_id
    OFFSET 0) AS c
ORDER BY due.next_due_at, due.id""")


def due_enrollments(session: Session, *, now: datetime, limit: int) -> Sequence[Any]:
    """Up to `limit` active enrollments due by `now`, earliest first, with what planning needs of
    their contacts: (id, contact_id, campaign_id, next_position, email, timezone, email_status,
    email_consent, stage) rows. Locked with SKIP LOCKED on PostgreSQL."""
    if _postgresql(session):
        return session.execute(DUE_PG, {"now": now, "limit": limit}).all()
    return session.execute(
        select(Enrollment.id, Enrollment.contact_id, Enrollment.campaign_id, Enrollment.next_position,
               Contact.email, Contact.timezone, Contact.email_status, Contact.email_consent, Contact.stage)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.status == EnrollmentStatus.ACTIVE, Enrollment.next_due_at <= now)
        .order_by(Enrollment.next_due_at).limit(limit)).all()


# Each due row sends only its own ids; the columns its outcome decides travel once per outcome
# and are joined back by number. Arrays go as PostgreSQL array literals: one string per column is
# far cheaper for the driver than adapting thousands of list items.
INSERT_MESSAGES_PG = text("""
INSERT INTO messages (public_id, kind, contact_id, enrollment_id, campaign_id, step_id, step_version_id, to_email,
                      status, created_at, subject, attempts, error, queued_at)
SELECT d.public_id, o.kind, d.contact_id, d.enrollment_id, o.campaign_id, o.step_id, o.step_version_id, d.to_email,
       o.status, :now, '', 0, o.error, o.queued_at
FROM unnest(CAST(:public_ids AS varchar[]), CAST(:contact_ids AS integer[]), CAST(:enrollment_ids AS integer[]),
            CAST(:emails AS varchar[]), CAST(:outcomes AS integer[]))
     WITH ORDINALITY AS d(public_id, contact_id, enrollment_id, to_email, outcome, position)
JOIN unnest(CAST(:campaign_ids AS integer[]), CAST(:step_ids AS integer[]), CAST(:step_version_ids AS integer[]),
            CAST(:kinds AS varchar[]), CAST(:statuses AS varchar[]), CAST(:errors AS text[]),
            CAST(:queued AS timestamptz[]))
     WITH ORDINALITY AS o(campaign_id, step_id, step_version_id, kind, status, error, queued_at, number)
  ON o.number = d.outcome
ORDER BY d.position
RETURNING id, status
""")


def insert_messages(session: Session, public_ids: list[str], planned: Sequence[tuple], outcomes: Sequence[Any],
                    now: datetime) -> list[tuple[int, str]]:
    """One message row per planned row (with the public id at the same place), in one multi-row
    insert; returns (id, status) in the planned order. An outcome has campaign_id, step_id,
    step_version_id, kind, message_status, error and queued_at."""
    if _postgresql(session):
        enrollment_ids, contact_ids, emails, numbers = zip(*planned)
        return session.execute(INSERT_MESSAGES_PG, {
            "now": now, "public_ids": _text_array(public_ids), "contact_ids": _int_array(contact_ids),
            "enrollment_ids": _int_array(enrollment_ids), "emails": _text_array(emails),
            "outcomes": _int_array(numbers),
            "campaign_ids": [o.campaign_id for o in outcomes], "step_ids": [o.step_id for o in outcomes],
            "step_version_ids": [o.step_version_id for o in outcomes], "kinds": [o.kind for o in outcomes],
            "statuses": [o.message_status for o in outcomes], "errors": [o.error for o in outcomes],
            "queued": [o.queued_at for o in outcomes]}).all()
    rows = []
    for public_id, (enrollment_id, contact_id, email, number) in zip(public_ids, planned):
        o = outcomes[number - 1]
        rows.append({
            "public_id": public_id, "contact_id": contact_id, "enrollment_id": enrollment_id,
            "campaign_id": o.campaign_id, "step_id": o.step_id, "step_version_id": o.step_version_id,
            "to_email": email, "kind": o.kind, "status": o.message_status, "created_at": now, "subject": "",
            "attempts": 0, "error": o.error, "queued_at": o.queued_at})
    return session.execute(insert(Message).returning(Message.id, Message.status, sort_by_parameter_order=True),
                           rows).all()


ADVANCE_ENROLLMENTS_PG = text("""
UPDATE enrollments AS e
SET next_position = o.next_position, status = o.status, next_due_at = o.next_due_at, ended_at = o.ended_at
FROM unnest(CAST(:enrollment_ids AS integer[]), CAST(:outcomes AS integer[])) AS d(id, outcome)
JOIN unnest(CAST(:positions AS integer[]), CAST(:statuses AS varchar[]), CAST(:due AS timestamptz[]),
            CAST(:ended AS timestamptz[]))
     WITH ORDINALITY AS o(next_position, status, next_due_at, ended_at, number)
  ON o.number = d.outcome
WHERE e.id = d.id
""")


def advance_enrollments(session: Session, planned: Sequence[tuple], values: Sequence[dict[str, Any]]) -> None:
    """Write each planned enrollment's next state: `values` holds, per outcome, its next_position,
    status, next_due_at and ended_at. One statement for the whole tick on PostgreSQL (an
    executemany elsewhere)."""
    if _postgresql(session):
        session.execute(ADVANCE_ENROLLMENTS_PG, {
            "enrollment_ids": _int_array(due[0] for due in planned),
            "outcomes": _int_array(due[3] for due in planned),
            "positions": [v["next_position"] for v in values], "statuses": [v["status"] for v in values],
            "due": [v["next_due_at"] for v in values], "ended": [v["ended_at"] for v in values]})
    else:
        session.connection().execute(
            update(Enrollment.__table__).where(Enrollment.__table__.c.id == bindparam("enrollment_id"))
            .values(next_position=bindparam("next_position"), status=bindparam("status"),
                    next_due_at=bindparam("next_due_at"), ended_at=bindparam("ended_at")),
            [{"enrollment_id": due[0], **values[due[3] - 1]} for due in planned])


def _int_array(values) -> str:
    """A PostgreSQL array literal of integers."""
    return "{" + ",".join(map(str, values)) + "}"


def _text_array(values) -> str:
    """A PostgreSQL array literal of strings (none of them NULL), each quoted and escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
