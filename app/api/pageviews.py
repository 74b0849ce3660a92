"""Page views reported by the marketer's server over the JSON API, queued like the site snippet's beacons."""
from __future__ import annotations

from flask import jsonify, request

from app.domain.engagement import buffer
from app.domain.engagement.pageviews import page_view_hits
from app.extensions import db_session, services

from . import bp
from .auth import require_api_key
from .limits import batch
from .schemas.contacts import PageViewsIn, Queued
from .spec import operation
from .inputs import json_body


@bp.post("/pageviews")
@batch
@require_api_key("contacts:write")
@operation("Page views seen by your own server", tag="events", body=PageViewsIn, responses={202: Queued})
def pageviews():
    """Page views from the marketer's server: {"views": [{email | contact_id | token, url, title?, seconds?, id?}]}.
    Queued on the same buffered path as the snippet's beacons; answered 202 with how many were queued."""
    views = json_body().get("views")
    hits = page_view_hits(db_session(), services().tokens, views, at=services().now().timestamp(),
                          ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
    buffer.submit(services(), hits)
    return jsonify({"status": "queued", "queued": len(hits), "unknown": len(views) - len(hits)}), 202
