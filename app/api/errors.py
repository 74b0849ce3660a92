"""One JSON error shape for the whole API: {"error": {"code", "message", "field"?}}."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from app.domain.errors import Conflict, Forbidden, NotFound, Throttled, ValidationError

from . import bp


def error_response(status: int, code: str, message: str, field: str | None = None):
    body = {"error": {"code": code, "message": message}}
    if field:
        body["error"]["field"] = field
    return jsonify(body), status


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError):
    return error_response(422, "invalid", exc.message, exc.field)


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return error_response(404, "not_found", str(exc))


@bp.errorhandler(Conflict)
def _conflict(exc: Conflict):
    return error_response(409, "conflict", str(exc))


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_response(403, "forbidden", exc.message, exc.field)


@bp.errorhandler(Throttled)
def _throttled(exc: Throttled):
    response, status = error_response(429, "throttled", exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)
