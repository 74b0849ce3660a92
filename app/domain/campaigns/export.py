"""Writing what the database holds back to campaign files, so edits made in the UI can be versioned."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Campaign, Persona

from app.domain.campaigns.files import CONDITIONS
from app.domain.campaigns.scheduling import format_delay
from app.domain.qualification.agreement import agreement_data


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def export_library(session: Session, directory: Path) -> dict[str, int]:
    """Write personas, campaigns with their current step versions, and the agreement under directory."""
    counts = {"personas": 0, "campaigns": 0, "steps": 0}
    (directory / "personas").mkdir(parents=True, exist_ok=True)
    for persona in session.scalars(select(Persona).where(Persona.active.is_(True)).order_by(Persona.slug)):
        data = {"name": persona.name, "description": persona.description, "priority": persona.priority,
                "rules": persona.rules, "examples": persona.examples}
        (directory / "personas" / f"{persona.slug}.yml").write_text(_yaml(data), encoding="utf-8")
        counts["personas"] += 1
    for campaign in session.scalars(select(Campaign).where(Campaign.status != "archived").order_by(Campaign.slug)):
        counts["steps"] += _export_campaign(campaign, directory / campaign.slug)
        counts["campaigns"] += 1
    (directory / "agreement.yml").write_text(_yaml(_agreement(session)), encoding="utf-8")
    return counts


def _export_campaign(campaign: Campaign, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"name": campaign.name, "description": campaign.description, "kind": str(campaign.kind)}
    if campaign.persona is not None:
        data["persona"] = campaign.persona.slug
    if campaign.trigger_event:
        data["trigger"] = campaign.trigger_event
    data.update({"status": str(campaign.status), "timezone": campaign.timezone})
    if campaign.send_window:
        data["send_window"] = campaign.send_window
    if campaign.exit_goals:
        data["exit_goals"] = campaign.exit_goals
    if campaign.from_name:
        data["from_name"] = campaign.from_name
    if campaign.rate_per_minute:
        data["rate_per_minute"] = campaign.rate_per_minute
    if campaign.layout != "default":
        data["layout"] = campaign.layout
    (folder / "campaign.yml").write_text(_yaml(data), encoding="utf-8")
    written = set()
    for step in campaign.steps:
        version = step.current_version
        if not step.active or version is None:
            continue
        front: dict[str, Any] = {"subject": version.subject}
        if version.preheader:
            front["preheader"] = version.preheader
        front["delay"] = format_delay(version.delay_seconds)
        condition = (version.conditions or {}).get("if")
        if condition in CONDITIONS or isinstance(condition, dict):
            front["condition"] = condition
        if (version.conditions or {}).get("otherwise"):
            front["otherwise"] = version.conditions["otherwise"]
        if version.layout != campaign.layout:
            front["layout"] = version.layout
        path = folder / f"{step.key}.md"
        path.write_text(f"---\n{_yaml(front)}---\n{version.body_markdown}", encoding="utf-8")
        written.add(path.name)
    for stale in folder.glob("*.md"):  # steps retired in the database leave the files too
        if stale.name not in written and stale.name.lower() != "readme.md":
            stale.unlink()
    return len(written)


def _agreement(session: Session) -> dict[str, Any]:
    return agreement_data(session)
