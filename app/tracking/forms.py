"""Forms: an embeddable HTML form (GET/POST /f/<form>), a JSON one (POST /f/<form>.json, CORS), and the page
where a known contact confirms a form sent with their address (/f/confirm/<token>)."""
from __future__ import annotations

from flask import jsonify, make_response, redirect, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.domain.engagement import confirmations, forms
from app.domain.errors import NotFound, ValidationError
from app.domain.engagement.site import on_site, site_domains
from app.extensions import db_session, services

from . import bp

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


def _form_page(slug: str, *, error: ValidationError | None = None, values=None, status: int = 200):
    return render_template("tracking/form.html", slug=slug, event=request.values.get("event", "form_submitted"),
                           error=error, values=values or {}, honeypot=forms.HONEYPOT_FIELD), status


@bp.get("/f/<slug>")
def form_page(slug: str):
    """A minimal form a marketer can embed in an iframe, or copy into their own page."""
    try:
        forms.check_slug(slug)
    except ValidationError:
        return render_template("tracking/link_invalid.html"), 404
    return _form_page(slug)


@bp.post("/f/<slug>")
def form_post(slug: str):
    """A form posted from the marketer's site: a thank-you page, or a redirect to their own page."""
    if not forms.allowed(services().redis, request.remote_addr):
        return render_template("tracking/form_done.html", limited=True), 429
    session = db_session()
    try:
        outcome = forms.submit(session, slug, request.form, now=services().now(),
                               page=request.form.get("page") or request.referrer, ip=request.remote_addr)
    except ValidationError as exc:
        session.rollback()
        return _form_page(slug, error=exc, values=request.form, status=422)
    session.commit()
    target = request.form.get("redirect") or request.args.get("redirect")
    if target and target.startswith(("https://", "http://")) and on_site(target, site_domains(session)):
        return redirect(target, code=303)  # only to the marketer's own site: never an open redirect
    return render_template("tracking/form_done.html", limited=False, spam=outcome.spam)


@bp.route("/f/<slug>.json", methods=["OPTIONS"])
def form_json_preflight(slug: str):
    return "", 204, CORS


@bp.post("/f/<slug>.json")
def form_json(slug: str):
    """The same submission as JSON from the marketer's own script; errors name the field."""
    def answer(body, status):
        response = make_response(jsonify(body), status)
        response.headers.update(CORS)
        return response

    if not forms.allowed(services().redis, request.remote_addr):
        return answer({"error": {"code": "rate_limited", "message": "too many submissions; try again in a minute"}}, 429)
    try:
        data = request.get_json(silent=True)
    except RequestEntityTooLarge:
        return answer({"error": {"code": "too_large", "message": "the body is over the 2 MB limit", "field": "body"}}, 413)
    if not isinstance(data, dict):
        return answer({"error": {"code": "invalid", "message": "send a JSON object", "field": "body"}}, 422)
    session = db_session()
    try:
        outcome = forms.submit(session, slug, data, now=services().now(), page=data.get("page") or request.referrer,
                               ip=request.remote_addr)
    except ValidationError as exc:
        session.rollback()
        return answer({"error": {"code": "invalid", "message": exc.message, "field": exc.field}}, 422)
    session.commit()
    return answer({"status": "ok"}, 201 if outcome.created else 200)


@bp.route("/f/confirm/<token>", methods=["GET", "HEAD"])
def confirm_page(token: str):
    """What a form sent with the contact's address, with a button to confirm it. A GET never
    confirms anything: mail scanners follow every link."""
    page = confirmations.page(db_session(), services().tokens, token, now=services().now())
    return render_template("tracking/form_confirm.html", page=page, token=token), 200 if page else 404


@bp.post("/f/confirm/<token>")
def confirm(token: str):
    """The contact confirms one held submission: its fields are saved and its event recorded."""
    session = db_session()
    try:
        page = confirmations.confirm(session, services().tokens, token, request.form.get("submission"),
                                     now=services().now())
    except NotFound:
        return render_template("tracking/form_confirm.html", page=None, token=token), 404
    except ValidationError as exc:  # not one of this contact's waiting forms: the page again, saying so
        session.rollback()
        page = confirmations.page(session, services().tokens, token, now=services().now())
        return render_template("tracking/form_confirm.html", page=page, token=token, error=exc), 422
    session.commit()
    return render_template("tracking/form_confirm.html", page=page, token=token)
