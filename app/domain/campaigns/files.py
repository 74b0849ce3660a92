"""Personas, campaigns and the agreement as files (campaigns/), validated whole, then synced.

Nothing is applied unless everything is valid; every problem is reported as file:line: message.
Syncing the same files twice changes nothing; a changed step gets a new version, so enrollments
already under way continue with the next step as it now reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.domain.contacts.inputs import load_yaml
from app.domain.contacts import rules
from app.domain.errors import ValidationError
from app.domain.campaigns.personas import check_examples
from app.domain.messages.authoring import check_template, check_variables
from app.domain.messages.rendering import TemplateError, compile_step, content_hash, merge_context, render
from app.domain.campaigns.scheduling import parse_delay, validate_window
from app.domain.qualification.agreement import validate_agreement

KINDS = ("drip", "autoresponder", "recycle")
STATUSES = ("draft", "active", "paused", "archived")
CONDITIONS = ("opened_previous", "clicked_previous", "not_opened_previous")
SAMPLE_CONTACT = {"email": "sample@example.com", "first_name": "Sam", "company": "Example Co", "fields": {}}

LAYOUT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass
class StepFile:
    key: str
    path: str
    subject: str
    preheader: str
    body: str
    delay_seconds: int
    conditions: dict
    layout: str

    @property
    def content_hash(self) -> str:
        return content_hash(self.subject, self.preheader, self.body, self.layout, str(self.delay_seconds),
                            repr(sorted(self.conditions.items())))


@dataclass
class CampaignFile:
    slug: str
    path: str
    data: dict
    steps: list[StepFile] = field(default_factory=list)


@dataclass
class Library:
    personas: dict[str, dict] = field(default_factory=dict)
    campaigns: list[CampaignFile] = field(default_factory=list)
    agreement: dict | None = None


class Problems(list):
    def add(self, path: Path | str, line: int | None, message: str) -> None:
        self.append(f"{path}:{line or 1}: {message}")


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(f"{key}:") or f" {key}:" in line or f"{{{key}:" in line:
            return number
    return None


def _read_yaml(path: Path, problems: Problems) -> tuple[Any, str]:
    text = path.read_text(encoding="utf-8")
    try:
        return load_yaml(text) or {}, text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(path, mark.line + 1 if mark else None, f"invalid YAML: {getattr(exc, 'problem', exc)}")
        return None, text


def _split_front_matter(path: Path, problems: Problems) -> tuple[dict | None, str, int]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        problems.add(path, 1, "a step starts with front matter between --- lines (subject, delay …)")
        return None, "", 0
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        problems.add(path, 1, "front matter is not closed by a --- line")
        return None, "", 0
    try:
        meta = load_yaml("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(path, (mark.line + 2) if mark else 1, f"invalid front matter: {getattr(exc, 'problem', exc)}")
        return None, "", 0
    if not isinstance(meta, dict):
        problems.add(path, 2, "front matter must be a mapping of key: value")
        return None, "", 0
    return meta, "".join(lines[end + 1:]).strip() + "\n", end + 2


def load_library(directory: Path, templates_dir: Path, postal_address: str = "") -> tuple[Library, list[str]]:
    problems = Problems()
    library = Library()
    if not directory.is_dir():
        problems.add(directory, None, "no such directory")
        return library, problems
    agreement_path = directory / "agreement.yml"
    if agreement_path.exists():
        data, text = _read_yaml(agreement_path, problems)
        if data is not None:
            _check_agreement(agreement_path, data, text, problems)
            library.agreement = data
    for path in sorted((directory / "personas").glob("*.yml")):
        data, text = _read_yaml(path, problems)
        if data is not None:
            _check_persona(path, data, text, problems)
            library.personas[path.stem] = data | {"source_path": str(path)}
    for campaign_yml in sorted(directory.glob("*/campaign.yml")):
        campaign = _load_campaign(campaign_yml, templates_dir, postal_address, problems)
        if campaign is not None:
            library.campaigns.append(campaign)
    return library, problems


def _check_persona(path: Path, data: Any, text: str, problems: Problems) -> None:
    if not isinstance(data, dict):
        problems.add(path, 1, "a persona file is a mapping with name, rules, examples")
        return
    if not data.get("name"):
        problems.add(path, 1, "name is required")
    if not isinstance(data.get("priority", 0), int):
        problems.add(path, _line_of(text, "priority"), "priority must be a whole number")
    errors = rules.validate(data.get("rules"), "rules")
    for e in errors:
        problems.add(path, _line_of(text, "rules"), e)
    if not errors:
        for e in check_examples(data["rules"], data.get("examples") or []):
            problems.add(path, _line_of(text, "examples"), e)


def _check_agreement(path: Path, data: Any, text: str, problems: Problems) -> None:
    for problem in validate_agreement(data):
        where = problem.split(": ", 1)[0]
        named = re.search(r"\(([^()]+)\)", where)  # "scoring.rules[3] (Pricing page visit)": that rule's line
        line = next((n for n, l in enumerate(text.splitlines(), 1)
                     if named and re.search(r"name:\s*[\"']?" + re.escape(named.group(1)), l)), None)
        problems.add(path, line or _line_of(text, where.split("[", 1)[0].split(".")[-1].split(" ")[0]), problem)


def _load_campaign(path: Path, templates_dir: Path, postal_address: str, problems: Problems) -> CampaignFile | None:
    data, text = _read_yaml(path, problems)
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.add(path, 1, "campaign.yml is a mapping with name, kind, status …")
        return None
    kind = data.get("kind", "drip")
    for key, allowed in (("kind", KINDS), ("status", STATUSES)):
        if data.get(key, allowed[0]) not in allowed:
            problems.add(path, _line_of(text, key), f"{key} must be one of {', '.join(allowed)}")
    if not data.get("name"):
        problems.add(path, 1, "name is required")
    if kind == "drip" and not data.get("persona"):
        problems.add(path, 1, "a drip campaign names the persona whose contacts enter it")
    if kind == "autoresponder" and not data.get("trigger"):
        problems.add(path, 1, "an autoresponder names its trigger event (e.g. sign_up)")
    try:
        data["send_window"] = validate_window(data.get("send_window"))
    except ValidationError as exc:
        problems.add(path, _line_of(text, "send_window"), str(exc))
    rate = data.get("rate_per_minute")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        problems.add(path, _line_of(text, "rate_per_minute"),
                     f"rate_per_minute is a whole number of emails a minute, at least 1 (got {rate!r})")
    campaign = CampaignFile(slug=path.parent.name, path=str(path), data=data)
    step_paths = sorted(p for p in path.parent.glob("*.md") if p.name.lower() != "readme.md")
    if not step_paths:
        problems.add(path, 1, "a campaign needs at least one step file (NN-name.md)")
    for step_path in step_paths:
        step = _load_step(step_path, data.get("layout", "default"), templates_dir, postal_address, problems)
        if step is not None:
            campaign.steps.append(step)
    keys = [step.key for step in campaign.steps]
    for i, step in enumerate(campaign.steps):
        target = step.conditions.get("otherwise")
        if target and target not in keys[i + 1:]:
            problems.add(step.path, 2, f"otherwise: {target!r} is not a later step of this campaign "
                                       f"(later steps: {', '.join(keys[i + 1:]) or 'none'})")
    return campaign


URL_CONDITIONS = ("clicked", "visited", "not_visited")


def condition_problems(condition, otherwise) -> list[str]:
    """A step condition is a named check on the previous email, a URL check, or a field rule."""
    if condition is None:
        return ["otherwise needs a condition"] if otherwise else []
    if isinstance(condition, str):
        if condition not in CONDITIONS:
            return [f"condition must be one of {', '.join(CONDITIONS)}, or a mapping such as "
                    "{visited: \"*/pricing*\"} or {field: industry, op: in, value: [...]}"]
    elif isinstance(condition, dict):
        url_keys = [k for k in URL_CONDITIONS if k in condition]
        if url_keys:
            if len(condition) != 1 or not isinstance(condition[url_keys[0]], str):
                return [f"condition {{{url_keys[0]}: ...}} takes one URL pattern such as \"*/pricing*\""]
        else:
            return [f"condition: {e}" for e in rules.validate_condition(condition, "condition")]
    else:
        return ["condition must be a name or a mapping"]
    if otherwise is not None and not isinstance(otherwise, str):
        return ["otherwise names the step to jump to, e.g. 05-quote"]
    return []


def _load_step(path: Path, default_layout: str, templates_dir: Path, postal_address: str,
               problems: Problems) -> StepFile | None:
    meta, body, body_line = _split_front_matter(path, problems)
    if meta is None:
        return None
    ok = True
    subject = meta.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        problems.add(path, 2, "subject is required")
        ok = False
    try:
        delay = parse_delay(meta.get("delay", "0s"))
    except ValidationError as exc:
        problems.add(path, 2, exc.message)
        delay, ok = 0, False
    condition = meta.get("condition")
    for problem in condition_problems(condition, meta.get("otherwise")):
        problems.add(path, 2, problem)
        ok = False
    layout = meta.get("layout", default_layout)
    # A layout is a file directly in templates/email/ (notices to sales live in a folder below it).
    if not (isinstance(layout, str) and LAYOUT_NAME.fullmatch(layout)
            and (templates_dir / "email" / f"{layout}.html").exists()):
        problems.add(path, 2, f"layout {layout!r} not found in {templates_dir / 'email'}")
        ok = False
    for error in (check_template(body, str(path), body_line) + check_template(subject or "", str(path), 2)
                  + check_variables(body, str(path), body_line) + check_variables(subject or "", str(path), 2)):
        problems.append(error)
        ok = False
    if not ok:
        return None
    step = StepFile(key=path.stem, path=str(path), subject=subject.strip(), preheader=str(meta.get("preheader", "")),
                    body=body, delay_seconds=delay, layout=layout,
                    conditions=({"if": condition} | ({"otherwise": meta["otherwise"]} if meta.get("otherwise") else {}))
                    if condition else {})
    try:  # render once against a sample contact, so a broken step fails here and not at send time
        compiled = compile_step(step.content_hash, step.subject, step.preheader, step.body, layout,
                                str(templates_dir), postal_address)
        render(compiled, merge_context(SAMPLE_CONTACT, "sample", "small"), link_url=lambda i: "https://x.test/",
               pixel_url="https://x.test/p.gif", unsubscribe_url="https://x.test/u")
    except TemplateError as exc:
        problems.add(path, body_line, str(exc))
        return None
    return step
