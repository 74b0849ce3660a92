"""Nurture: email nurture and autoresponder engine. create_app() builds the web service."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import Config, load_config
from .models.base import MAX_ROW_ID


class RowId(IntegerConverter):
    """<int:…> in routes: a number beyond MAX_ROW_ID (the 32-bit id columns) is simply not found; the
    database would refuse it with an error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def create_app(config: Config | None = None, *, clock=None) -> Flask:
    config = config or load_config()
    app = Flask(__name__, instance_path=str(config.instance_path), template_folder="ui/templates",
                static_folder="ui/static")
    app.config.update(SECRET_KEY=config.secret_key, TESTING=config.testing, MAX_CONTENT_LENGTH=2 * 1024 * 1024,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=config.base_url.startswith("https://"),
                      WTF_CSRF_TIME_LIMIT=None, NURTURE=config)
    app.url_map.converters["int"] = RowId
    from .edge import install as install_edge

    install_edge(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "rq.worker"):  # per-job and per-migration chatter hides what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from .extensions import init_services

    init_services(app, config, clock=clock)

    from .api import bp as api_bp
    from .tracking import bp as tracking_bp
    from .ui import bp as ui_bp
    from .ui import csrf, init_ui

    init_ui(app)
    # The API authenticates with bearer keys and the public pages with signed links, not cookies.
    csrf.exempt(api_bp)
    csrf.exempt(tracking_bp)
    for blueprint in (api_bp, tracking_bp, ui_bp):
        app.register_blueprint(blueprint)
    from .tracking.fastpath import TrackingMiddleware  # /t/ hits skip Flask's request machinery

    app.wsgi_app = TrackingMiddleware(app.wsgi_app, app.extensions["nurture"])
    if config.proxy_hops:  # outermost, so tracking hits, forms' rate limit and the UI all see the visitor's address
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_hops, x_proto=config.proxy_hops)
    return app
