"""Rate limits of the API (Flask-Limiter): per API key, or per address for a request without a valid
key. Counted in Redis in production (NURTURE_REDIS_URL, so every web process shares them) and in memory
on the embedded default. Past a limit the answer is 429 in the error shape with Retry-After."""
from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded

from . import bp
from .auth import presented_key
from .errors import error_response


def limited_by() -> str:
    """Whose budget a request spends: its API key's, else its address's (made-up keys share one)."""
    key = presented_key()
    return f"key:{key.id}" if key is not None else f"ip:{request.remote_addr}"


def overall_limit() -> str:
    return current_app.config["NURTURE"].api_rate_limit


def batch_limit() -> str:
    return current_app.config["NURTURE"].api_batch_rate_limit


limiter = Limiter(key_func=limited_by, headers_enabled=False)
# One budget for the whole API per key; batch endpoints also have their own, lower one.
limiter.shared_limit(overall_limit, scope="api")(bp)
batch = limiter.limit(batch_limit, override_defaults=False)


@bp.record_once
def _init(state) -> None:
    app: Flask = state.app
    config = app.config["NURTURE"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", config.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "nurture-api")
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # Redis away: serve, do not fail every request
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    current = limiter.current_limit
    wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
    response, status = error_response(429, "rate_limited", f"too many requests (at most {exc.description}); "
                                      f"retry in {wait} s")
    response.headers["Retry-After"] = str(wait)
    return response, status
