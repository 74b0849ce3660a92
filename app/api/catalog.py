"""Personas, segments, campaigns with their steps and versions, and single steps, read-only."""
from __future__ import annotations

from flask import jsonify, request

from app.domain.campaigns import catalog
from app.extensions import db_session
from app.models import Campaign, Persona, Segment, Step

from . import bp
from .auth import require_api_key
from .schemas.catalog import (CampaignDetail, CampaignList, CampaignQuery, PersonaList, PersonaOut, SegmentList,
                              StepOut)
from .spec import operation


def _iso(value):
    return value.isoformat() if value else None


def persona_json(p: Persona) -> dict:
    return {"slug": p.slug, "name": p.name, "description": p.description, "priority": p.priority,
            "active": p.active, "rules": p.rules}


def segment_json(s: Segment) -> dict:
    return {"slug": s.slug, "name": s.name, "priority": s.priority, "rules": s.rules}


def campaign_json(c: Campaign) -> dict:
    return {"id": c.id, "slug": c.slug, "name": c.name, "description": c.description, "kind": str(c.kind),
            "status": str(c.status), "persona": c.persona.slug if c.persona else None,
            "trigger_event": c.trigger_event, "timezone": c.timezone, "send_window": c.send_window,
            "exit_goals": c.exit_goals}


def step_json(step: Step) -> dict:
    versions = catalog.step_versions(db_session(), step)
    current = next((v.version for v in versions if v.id == step.current_version_id), None)
    return {"id": step.id, "campaign": step.campaign.slug, "key": step.key, "position": step.position,
            "active": step.active, "current_version": current,
            "versions": [{"version": v.version, "subject": v.subject, "preheader": v.preheader, "layout": v.layout,
                          "delay_seconds": v.delay_seconds, "conditions": v.conditions,
                          "body_markdown": v.body_markdown, "created_at": _iso(v.created_at)} for v in versions]}


@bp.get("/personas")
@require_api_key("read")
@operation("Every persona, highest priority first", tag="campaigns", responses={200: PersonaList})
def list_personas():
    return jsonify({"personas": [persona_json(p) for p in catalog.list_personas(db_session())]})


@bp.get("/personas/<slug>")
@require_api_key("read")
@operation("A persona by its slug", tag="campaigns", responses={200: PersonaOut})
def get_persona(slug: str):
    return jsonify(persona_json(catalog.get_persona(db_session(), slug)))


@bp.get("/segments")
@require_api_key("read")
@operation("Every segment, highest priority first", tag="campaigns", responses={200: SegmentList})
def list_segments():
    return jsonify({"segments": [segment_json(s) for s in catalog.list_segments(db_session())]})


@bp.get("/campaigns")
@require_api_key("read")
@operation("Campaigns, by slug", tag="campaigns", query=CampaignQuery, responses={200: CampaignList})
def list_campaigns():
    found = catalog.list_campaigns(db_session(), status=request.args.get("status"), kind=request.args.get("kind"))
    return jsonify({"campaigns": [campaign_json(c) for c in found]})


@bp.get("/campaigns/<ref>")
@require_api_key("read")
@operation("A campaign (by id or slug) with its steps and their versions", tag="campaigns",
           responses={200: CampaignDetail})
def get_campaign(ref: str):
    campaign = catalog.find_campaign(db_session(), ref)
    return jsonify({**campaign_json(campaign), "steps": [step_json(s) for s in campaign.steps]})


@bp.get("/steps/<int:step_id>")
@require_api_key("read")
@operation("A campaign step with its versions, newest first", tag="campaigns", responses={200: StepOut})
def get_step(step_id: int):
    return jsonify(step_json(catalog.get_step(db_session(), step_id)))
