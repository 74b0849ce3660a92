"""QR codes for a campaign's printed material: the marketer's page and the image downloads.
(The scan itself, /t/q/…, is a public tracking hit answered by app.tracking.)"""
from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for

from app.domain.errors import NotFound, ValidationError
from app.domain.engagement.qr import FORMATS, create_qr, draw, find_qr
from app.domain.messages.composing import compiled_version
from app.extensions import db_session, services
from app.models import Campaign
from app.models.event import QrCode

from . import bp
from .access import MARKETING, roles_required


def _campaign_links(campaign: Campaign) -> list[str]:
    links: list[str] = []
    for step in campaign.steps:
        if step.current_version is not None:
            for url in compiled_version(services(), step.current_version).links:
                if "{" not in url and url not in links:
                    links.append(url)
    return links


@bp.route("/campaigns/<int:campaign_id>/qr", methods=["GET", "POST"])
@roles_required(*MARKETING)
def campaign_qr(campaign_id: int):
    """List the campaign's QR codes with their scans; create one for any of its links (or another URL)."""
    session = db_session()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return render_template("error.html", code=404, title="Not found",
                               text="That campaign does not exist."), 404
    error = None
    if request.method == "POST":
        try:
            create_qr(session, campaign_id=campaign.id, url=(request.form.get("url") or "").strip(),
                      label=request.form.get("label") or "", now=services().now())
            session.commit()
            return redirect(url_for("ui.campaign_qr", campaign_id=campaign.id), code=303)
        except ValidationError as exc:
            session.rollback()
            error = f"{exc.field.capitalize()}: {exc.message}."
    codes = session.query(QrCode).filter(QrCode.campaign_id == campaign.id).order_by(QrCode.id.desc()).all()
    return render_template("campaigns/qr.html", campaign=campaign, codes=codes, links=_campaign_links(campaign),
                           error=error, scan_url=lambda code: services().tokens.qr_url(code.public_id)), 400 if error else 200


@bp.get("/qr/<public_id>.<fmt>")
@roles_required(*MARKETING)
def qr_image(public_id: str, fmt: str):
    """The code as SVG (for print) or PNG, as a download."""
    if fmt not in FORMATS:
        return render_template("error.html", code=404, title="Not found", text="Use .svg or .png."), 404
    try:
        code = find_qr(db_session(), public_id)
        scale = int(request.args.get("scale", "10")) if request.args.get("scale", "10").isdigit() else 0
        image = draw(services().tokens.qr_url(code.public_id), fmt, scale=scale)
    except NotFound:
        return render_template("error.html", code=404, title="Not found", text="No such QR code."), 404
    except ValidationError as exc:
        return render_template("error.html", code=400, title="Bad request", text=exc.message), 400
    return Response(image, mimetype=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="qr-{public_id[:8]}.{fmt}"'})
