"""Webhook endpoints for admins: the list, a new endpoint with its secret shown once, settings,
deactivation and deletion, and each endpoint's delivery log with a redeliver button. Thin: parse
the form, call app.domain.contacts.webhook_endpoints (or webhooks.redeliver), render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.domain.contacts.webhook_endpoints import (STATUSES, create_endpoint, delete_endpoint, delivery_log,
                                                   get_endpoint, list_endpoints, rotate_secret, update_endpoint)
from app.domain.contacts.webhooks import EVENT_TYPES, redeliver
from app.domain.errors import Conflict, NotFound, ValidationError
from app.extensions import db_session, services

from . import bp
from .access import ADMIN, roles_required
from .helpers import choice_arg, int_arg

NO_STORE = {"Cache-Control": "no-store"}  # a page that may show a secret in full
LOG_SIZE = 50


def _form() -> dict:
    return {"name": request.form.get("name", ""), "url": request.form.get("url", ""),
            "events": request.form.getlist("events"), "allow_private": request.form.get("allow_private") == "on",
            # The settings form has the checkbox (an unticked one is absent); the add form has none.
            "active": request.form.get("active") == "on" if "active_shown" in request.form else True}


def _problem(exc: Exception) -> str:
    return f"{exc.field.capitalize()}: {exc.message}." if isinstance(exc, ValidationError) else f"{exc}."


def _list_page(*, created=None, secret: str | None = None, error: str | None = None, form: dict | None = None,
               status: int = 200):
    form = form or {"name": "", "url": "", "events": [], "allow_private": False, "active": True}
    return render_template("webhooks/list.html", endpoints=list_endpoints(db_session()), event_types=EVENT_TYPES,
                           created=created, secret=secret, error=error, form=form), status, NO_STORE


@bp.get("/webhooks")
@roles_required(ADMIN)
def webhooks():
    return _list_page()


@bp.post("/webhooks")
@roles_required(ADMIN)
def create_webhook():
    form, session = _form(), db_session()
    try:
        endpoint, secret = create_endpoint(session, form, actor=f"user:{current_user.id}", now=services().now())
    except (ValidationError, Conflict) as exc:
        session.rollback()
        return _list_page(error=_problem(exc), form=form, status=409 if isinstance(exc, Conflict) else 400)
    session.commit()
    return _list_page(created=endpoint, secret=secret)  # on this answer only, never in a redirect or the session


def _endpoint(endpoint_id: int):
    try:
        return get_endpoint(db_session(), endpoint_id)
    except NotFound:
        abort(404, description=f"No webhook endpoint with id {endpoint_id}.")


def _detail_page(endpoint, *, secret: str | None = None, error: str | None = None, form: dict | None = None,
                 status: int = 200):
    shown = choice_arg("status", STATUSES)
    before = int_arg("before")
    log = delivery_log(db_session(), endpoint.id, status=shown, limit=LOG_SIZE, before=before)
    form = form or {"name": endpoint.name, "url": endpoint.url, "events": endpoint.events,
                    "allow_private": endpoint.allow_private, "active": endpoint.active}
    return render_template("webhooks/detail.html", endpoint=endpoint, deliveries=log, event_types=EVENT_TYPES,
                           statuses=STATUSES, shown=shown, more=len(log) == LOG_SIZE, secret=secret, error=error,
                           form=form, now=services().now()), status, NO_STORE


@bp.get("/webhooks/<int:endpoint_id>")
@roles_required(ADMIN)
def webhook(endpoint_id: int):
    return _detail_page(_endpoint(endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>")
@roles_required(ADMIN)
def update_webhook(endpoint_id: int):
    endpoint, form, session = _endpoint(endpoint_id), _form(), db_session()
    try:
        update_endpoint(session, endpoint.id, form, now=services().now())
    except (ValidationError, Conflict) as exc:
        session.rollback()
        return _detail_page(_endpoint(endpoint_id), error=_problem(exc), form=form, status=400)
    session.commit()
    flash(f"Webhook endpoint {endpoint.name} is saved" + ("." if endpoint.active else ": inactive, it gets no new events."),
          "success")
    return redirect(url_for("ui.webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/active")
@roles_required(ADMIN)
def set_webhook_active(endpoint_id: int):
    endpoint, session = _endpoint(endpoint_id), db_session()
    update_endpoint(session, endpoint.id, {"active": request.form.get("active") == "on"}, now=services().now())
    session.commit()
    flash(f"Webhook endpoint {endpoint.name} is " + ("active again." if endpoint.active else
                                                      "deactivated: it gets no new events; owed ones are still tried."),
          "success")
    return redirect(url_for("ui.webhook", endpoint_id=endpoint.id))


@bp.post("/webhooks/<int:endpoint_id>/secret")
@roles_required(ADMIN)
def rotate_webhook_secret(endpoint_id: int):
    endpoint, session = _endpoint(endpoint_id), db_session()
    secret = rotate_secret(session, endpoint.id, now=services().now())
    session.commit()
    return _detail_page(endpoint, secret=secret)


@bp.get("/webhooks/<int:endpoint_id>/delete")
@roles_required(ADMIN)
def confirm_delete_webhook(endpoint_id: int):
    return render_template("webhooks/delete.html", endpoint=_endpoint(endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>/delete")
@roles_required(ADMIN)
def delete_webhook(endpoint_id: int):
    endpoint, session = _endpoint(endpoint_id), db_session()
    name = endpoint.name
    delete_endpoint(session, endpoint.id)
    session.commit()
    flash(f"Webhook endpoint {name} and its delivery log are deleted.", "success")
    return redirect(url_for("ui.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@roles_required(ADMIN)
def redeliver_webhook(endpoint_id: int, delivery_id: int):
    session = db_session()
    try:
        delivery = redeliver(session, endpoint_id, delivery_id, now=services().now())
    except NotFound:
        abort(404, description=f"No delivery {delivery_id} of webhook endpoint {endpoint_id}.")
    except Conflict as exc:
        session.rollback()
        flash(f"Not redelivered: {exc}.", "info")
        return redirect(url_for("ui.webhook", endpoint_id=endpoint_id))
    session.commit()
    flash(f"Delivery {delivery.id} ({delivery.event}) is queued to be sent again.", "success")
    return redirect(url_for("ui.webhook", endpoint_id=endpoint_id))
