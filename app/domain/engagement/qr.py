"""QR codes for printed campaign material: a short signed URL per code, drawn as SVG or PNG by segno."""
from __future__ import annotations

import io
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Campaign
from app.models.event import QrCode

from app.domain.contacts.inputs import check_web_address
from app.domain.errors import NotFound, ValidationError

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def create_qr(session: Session, *, campaign_id: int | None, url: str, label: str = "", now: datetime) -> QrCode:
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise NotFound(f"campaign {campaign_id}")
    check_web_address(url, "url")
    if "{" in url:
        raise ValidationError("url", "must be an http(s) address of at most 2000 characters, without merge fields")
    if not isinstance(label, str) or len(label) > 200:
        raise ValidationError("label", "must be a string of at most 200 characters")
    code = QrCode(public_id=secrets.token_hex(16), campaign_id=campaign_id, url=url, label=label.strip(), scans=0,
                  created_at=now)
    session.add(code)
    session.flush()
    return code


def find_qr(session: Session, public_id: str) -> QrCode:
    code = session.scalar(select(QrCode).where(QrCode.public_id == public_id))
    if code is None:
        raise NotFound(f"QR code {public_id}")
    return code


def draw(data: str, fmt: str, *, scale: int = 8) -> bytes:
    """The QR code for `data` as SVG or PNG bytes (error correction M, a quiet zone of 4 modules)."""
    import segno

    if fmt not in FORMATS:
        raise ValidationError("format", "must be svg or png")
    if not 1 <= scale <= 40:
        raise ValidationError("scale", "must be from 1 to 40")
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind=fmt, scale=scale, border=4)
    return out.getvalue()
