"""Contacts: a searchable list, and everything known about one contact on a single page."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.domain.contacts import notes
from app.domain.errors import ValidationError
from app.domain.handoff.hand_off import timeline
from app.extensions import db_session, services
from app.models import Contact, Stage

from . import bp, queries
from .access import CONTACTS, roles_required
from .helpers import choice_arg, get_or_404, int_arg, paginate


@bp.get("/contacts")
@roles_required(*CONTACTS)
def contacts():
    session = db_session()
    q = request.args.get("q", "").strip()[:200]
    stage = choice_arg("stage", [str(s) for s in Stage])
    persona_id = int_arg("persona")
    page = paginate(session, queries.contact_search(q, stage, persona_id), int_arg("page", 1))
    return render_template("contacts/list.html", page=page, q=q, stage=stage, persona_id=persona_id,
                           stages=[str(s) for s in Stage], personas=queries.all_personas(session))


@bp.get("/contacts/<int:contact_id>")
@roles_required(*CONTACTS)
def contact(contact_id: int):
    return _render_detail(get_or_404(Contact, contact_id))


def _render_detail(contact: Contact, note_error: str | None = None, note_form: dict | None = None, status: int = 200):
    session = db_session()
    return render_template(
        "contacts/detail.html", contact=contact, fit=contact.fit_reasons or {},
        enrollments=queries.contact_enrollments(session, contact), messages=queries.contact_messages(session, contact),
        timeline=timeline(session, contact), history=queries.stage_history(session, contact),
        notes=queries.contact_notes(session, contact.id), handoffs=queries.contact_handoffs(session, contact),
        note_kinds=notes.NOTE_KINDS, note_error=note_error, note_form=note_form or {}), status


@bp.post("/contacts/<int:contact_id>/notes")
@roles_required(*CONTACTS)
def add_note(contact_id: int):
    found = get_or_404(Contact, contact_id)
    kind = request.form.get("kind", "note")
    body = request.form.get("body", "").strip()
    session = db_session()
    try:
        notes.add_note(session, found, current_user, kind=kind, body=body, now=services().now())
    except ValidationError as exc:
        return _render_detail(found, note_error=exc.message[:1].upper() + exc.message[1:] + ".",
                              note_form={"kind": kind, "body": body}, status=400)
    session.commit()
    flash("Note saved.", "success")
    return redirect(url_for("ui.contact", contact_id=found.id, _anchor="notes"))
