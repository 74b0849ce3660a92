"""Friendly error pages for people, the one JSON error shape for /api/ paths; never a traceback."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

TITLES = {
    400: ("That request did not make sense", "Something in the address or the form was not what this page expects."),
    403: ("You don't have access to this page", "Your role does not include it. If you need it, ask an admin."),
    404: ("Page not found", "It may have been removed, or the address may be mistyped."),
    405: ("That action is not allowed here", "This page does not accept that kind of request."),
    409: ("That changed in the meantime", "Somebody or something else got there first."),
    500: ("Something went wrong on our side", "The error was logged. Please try again in a moment."),
}
CODES = (400, 403, 404, 405, 409, 500)


def render_error(exc: HTTPException):
    """Flask has already logged an unhandled exception by the time a 500 arrives here."""
    code = exc.code or 500
    default_description = type(exc).description
    detail = exc.description if exc.description and exc.description != default_description and code < 500 else None
    if request.path.startswith("/api/"):
        name = (exc.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": name, "message": detail or exc.description or exc.name}}), code
    title, text = TITLES.get(code, (exc.name, exc.description))
    return render_template("error.html", code=code, title=title, text=text, detail=detail), code


def register_error_handlers(app: Flask) -> None:
    for code in CODES:
        app.register_error_handler(code, render_error)
