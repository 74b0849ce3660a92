"""QR codes for a campaign's printed material over the JSON API: create one, download its image."""
from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from app.domain.engagement.qr import FORMATS, create_qr, draw, find_qr
from app.domain.errors import NotFound, ValidationError
from app.extensions import db_session, services
from app.models import Campaign

from . import bp
from .auth import require_api_key
from .schemas.reports import QrCreated, QrIn
from .spec import Raw, operation
from .inputs import is_row_id, json_body


@bp.post("/qr")
@require_api_key("campaigns:manage")
@operation("A QR code for a campaign link", tag="campaigns", body=QrIn, responses={201: QrCreated})
def qr_create():
    """A QR code for a campaign link: {campaign (slug or id), url, label}."""
    data = json_body()
    session = db_session()
    ref = data.get("campaign")
    campaign = (session.get(Campaign, ref) if is_row_id(ref) else
                session.scalar(select(Campaign).where(Campaign.slug == ref)) if isinstance(ref, str) else None)
    if campaign is None:
        raise ValidationError("campaign", "give an existing campaign's slug or id")
    code = create_qr(session, campaign_id=campaign.id, url=data.get("url"), label=data.get("label") or "",
                     now=services().now())
    session.commit()
    base = f"{services().config.base_url}/api/v1/qr/{code.public_id}"
    return jsonify({"id": code.public_id, "campaign": campaign.slug, "url": code.url,
                    "scan_url": services().tokens.qr_url(code.public_id), "svg": f"{base}.svg", "png": f"{base}.png"}), 201


@bp.get("/qr/<public_id>.<fmt>")
@require_api_key("read")
@operation("A QR code's image (svg or png)", tag="campaigns",
           responses={200: Raw(("image/svg+xml", "image/png"), {"type": "string", "format": "binary"})})
def qr_image(public_id: str, fmt: str):
    if fmt not in FORMATS:
        raise NotFound(f"format {fmt!r} (use svg or png)")
    code = find_qr(db_session(), public_id)
    return Response(draw(services().tokens.qr_url(code.public_id), fmt), mimetype=FORMATS[fmt])
