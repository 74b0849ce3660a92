"""Webhook endpoints and their delivery logs, for an admin's key: where a CRM takes its events."""
from __future__ import annotations

from flask import g, jsonify, request

from app.domain.contacts.webhook_endpoints import (EVENT_TYPES, create_endpoint, delete_endpoint, delivery_json,
                                                   delivery_log, endpoint_json, get_endpoint, list_endpoints,
                                                   rotate_secret, update_endpoint)
from app.domain.contacts.webhooks import redeliver
from app.extensions import db_session, services
from app.domain.errors import ValidationError
from app.models.base import MAX_ROW_ID

from . import bp
from .auth import require_api_key
from .inputs import json_body, query_number
from .schemas.webhooks import (DeliveryOut, DeliveryPage, DeliveryQuery, NewSecret, WebhookChange, WebhookIn,
                               WebhookList, WebhookOut)
from .spec import operation

TAG = "webhooks"


@bp.get("/webhooks")
@require_api_key("admin")
@operation("Webhook endpoints, with their deliveries by status", tag=TAG, responses={200: WebhookList})
def list_webhooks():
    return jsonify({"webhooks": list_endpoints(db_session()), "event_types": EVENT_TYPES})


@bp.post("/webhooks")
@require_api_key("admin")
@operation("Add a webhook endpoint; its signing secret is answered this once", tag=TAG, body=WebhookIn,
           responses={201: WebhookOut})
def create_webhook():
    session = db_session()
    endpoint, secret = create_endpoint(session, json_body(), actor=f"api key {g.api_key.name}",
                                       now=services().now())
    session.commit()
    return jsonify(endpoint_json(endpoint, secret=secret)), 201


@bp.get("/webhooks/<int:endpoint_id>")
@require_api_key("admin")
@operation("A webhook endpoint (without its secret)", tag=TAG, responses={200: WebhookOut})
def get_webhook(endpoint_id: int):
    return jsonify(endpoint_json(get_endpoint(db_session(), endpoint_id)))


@bp.patch("/webhooks/<int:endpoint_id>")
@require_api_key("admin")
@operation("Change an endpoint: name, url, events, active or allow_private", tag=TAG, body=WebhookChange,
           responses={200: WebhookOut})
def update_webhook(endpoint_id: int):
    session = db_session()
    endpoint = update_endpoint(session, endpoint_id, json_body(), now=services().now())
    session.commit()
    return jsonify(endpoint_json(endpoint))


@bp.delete("/webhooks/<int:endpoint_id>")
@require_api_key("admin")
@operation("Delete an endpoint and its delivery log", tag=TAG, responses={204: None})
def delete_webhook(endpoint_id: int):
    session = db_session()
    delete_endpoint(session, endpoint_id)
    session.commit()
    return "", 204


@bp.post("/webhooks/<int:endpoint_id>/secret")
@require_api_key("admin")
@operation("Make a new signing secret, answered this once", tag=TAG, responses={200: NewSecret})
def rotate_webhook_secret(endpoint_id: int):
    session = db_session()
    secret = rotate_secret(session, endpoint_id, now=services().now())
    session.commit()
    return jsonify({"id": endpoint_id, "secret": secret})


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@require_api_key("admin")
@operation("An endpoint's delivery log, newest first, with every attempt's answer", tag=TAG, query=DeliveryQuery,
           responses={200: DeliveryPage})
def webhook_deliveries(endpoint_id: int):
    cursor, limit = request.args.get("cursor") or None, query_number("limit", 50, 1, 200)
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and 0 < int(cursor) <= MAX_ROW_ID):
        raise ValidationError("cursor", "is not a cursor this API gave (use `next` from the previous page)")
    found = delivery_log(db_session(), endpoint_id, status=request.args.get("status") or None, limit=limit,
                         before=int(cursor) if cursor else None)
    return jsonify({"deliveries": [delivery_json(d) for d in found],
                    "next": str(found[-1].id) if len(found) == limit else None})


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@require_api_key("admin")
@operation("Send a delivered or given-up delivery once more", tag=TAG, responses={202: DeliveryOut},
           description="The same X-Nurture-Delivery as before, so the receiver can tell. 409 while the "
                       "delivery is still owed: it is sent once, however often this is asked.")
def redeliver_webhook(endpoint_id: int, delivery_id: int):
    session = db_session()
    delivery = redeliver(session, endpoint_id, delivery_id, now=services().now())
    session.commit()
    return jsonify(delivery_json(delivery)), 202
