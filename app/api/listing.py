"""Contacts and suppressions a page at a time, with filters and an opaque cursor (`next`)."""
from __future__ import annotations

from flask import jsonify, request

from app.domain.contacts.listing import list_contacts, list_suppressions
from app.extensions import db_session

from . import bp
from .auth import require_api_key
from .contacts import contact_json
from .inputs import query_number
from .schemas.catalog import PageQuery, SuppressionPage
from .schemas.contacts import ContactPage, ContactQuery
from .spec import operation


@bp.get("/contacts")
@require_api_key("read")
@operation("Contacts matching the filters, a page at a time (by id)", tag="contacts", query=ContactQuery,
           responses={200: ContactPage})
def contacts_page():
    args = request.args
    rows, after = list_contacts(db_session(), persona=args.get("persona"), stage=args.get("stage"),
                                grade=args.get("grade"), email_status=args.get("email_status"),
                                updated_since=args.get("updated_since"), q=args.get("q"), cursor=args.get("cursor"),
                                limit=query_number("limit", 50, 1, 200))
    return jsonify({"contacts": [contact_json(c) for c in rows], "next": after})


@bp.get("/suppressions")
@require_api_key("read")
@operation("Suppressed addresses (as hashes), oldest first, a page at a time", tag="privacy", query=PageQuery,
           responses={200: SuppressionPage})
def suppressions_page():
    rows, after = list_suppressions(db_session(), cursor=request.args.get("cursor"),
                                    limit=query_number("limit", 50, 1, 200))
    return jsonify({"suppressions": [{"id": s.id, "email_hash": s.email_hash, "reason": s.reason,
                                      "created_at": s.created_at.isoformat()} for s in rows], "next": after})
