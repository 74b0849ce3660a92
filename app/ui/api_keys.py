"""API keys for admins: the list with scopes and last use, a new key shown once, revocation after a
confirmation. Thin: parse the form, call app.domain.contacts.api_keys, render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.domain.contacts.api_keys import DEFAULT_SCOPES, SCOPES, find_api_key, issue_api_key, list_api_keys, revoke_api_key
from app.domain.errors import Conflict, NotFound, ValidationError
from app.extensions import db_session, services

from . import bp
from .access import ADMIN, roles_required

SCOPE_HELP = {
    "read": "read contacts, handoffs, the agreement, reports and reviews",
    "contacts:write": "create and update contacts, record events, page views, form posts, consent, erasure and bounce reports",
    "campaigns:manage": "change the agreement, replay a what-if, create QR codes",
    "sales:act": "accept, reject, rate, record outcomes and recycle leads on behalf of a named user",
    "admin": "everything, including acting for an admin user",
}


def _page(*, created=None, key: str | None = None, error: str | None = None, form: dict | None = None,
          status: int = 200):
    response = render_template("api_keys/list.html", keys=list_api_keys(db_session()), scopes=SCOPES,
                               scope_help=SCOPE_HELP, created=created, new_key=key, error=error,
                               form=form or {"name": "", "scopes": list(DEFAULT_SCOPES)})
    return response, status, {"Cache-Control": "no-store"}  # the page may show a key in full


@bp.get("/api-keys")
@roles_required(ADMIN)
def api_keys():
    return _page()


@bp.post("/api-keys")
@roles_required(ADMIN)
def create_api_key():
    form = {"name": request.form.get("name", ""), "scopes": request.form.getlist("scopes")}
    session = db_session()
    try:
        row, key = issue_api_key(session, form["name"], services().now(), form["scopes"])
    except ValidationError as exc:
        session.rollback()
        return _page(error=f"{exc.field.capitalize()}: {exc.message}.", form=form, status=400)
    session.commit()
    return _page(created=row, key=key)  # shown on this answer only: never put into the session or a redirect


def _key(key_id: int):
    try:
        return find_api_key(db_session(), str(key_id))
    except NotFound:
        abort(404, description=f"No API key with id {key_id}.")


@bp.get("/api-keys/<int:key_id>/revoke")
@roles_required(ADMIN)
def confirm_revoke_api_key(key_id: int):
    return render_template("api_keys/revoke.html", key=_key(key_id))


@bp.post("/api-keys/<int:key_id>/revoke")
@roles_required(ADMIN)
def revoke_api_key_view(key_id: int):
    key, session = _key(key_id), db_session()
    try:
        revoke_api_key(session, str(key.id), services().now())
    except Conflict as exc:
        session.rollback()
        flash(f"Nothing was changed: {exc}.", "info")
        return redirect(url_for("ui.api_keys"))
    session.commit()
    flash(f"Key {key.name} ({key.prefix}) is revoked: requests with it are refused from now on.", "success")
    return redirect(url_for("ui.api_keys"))
