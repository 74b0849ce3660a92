"""Site tracking: the signed contact token a click carries to the marketer's pages, and page views.

A click on a link to the marketer's own site (the `site_domains` setting) arrives with `?nt=<token>`: the contact's random public id and an HMAC tag, never the address.
The snippet (app/tracking/static/nurture.js) keeps it first-party in the site's localStorage and a
cookie on the site's domain, and reports page views (URL, title, seconds on the page, visit
number) in batched beacons. Links to other sites never get the token.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from app.models import Contact, EventType, Setting

from app.domain.contacts.inputs import read_json
from app.domain.errors import ValidationError
from app.domain.engagement.bots import classify
from app.domain.messages.links import CONTACT

TOKEN_PARAM = "nt"
MAX_VIEWS_PER_BEACON = 50
MAX_BEACON_BYTES = 64 * 1024
VIEW_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
RETURN_AFTER_VISITS = 1


def site_domains(session: Session) -> tuple[str, ...]:
    """The marketer's own domains (the `site_domains` setting, `nurture tracking domains`): only links
    to them carry the contact token, and forms redirect only to them. None set: no site tracking."""
    row = session.get(Setting, "site_domains")
    value = (row.value or {}).get("domains") if row is not None and isinstance(row.value, dict) else None
    if isinstance(value, list):
        return tuple(str(d).lower().lstrip(".") for d in value if d)
    return ()


DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def set_site_domains(session: Session, domains: list[str], *, now) -> tuple[str, ...]:
    cleaned = []
    for domain in domains:
        domain = domain.strip().lower().lstrip(".")
        if not DOMAIN_RE.match(domain):
            raise ValidationError("domains", f"{domain!r} is not a domain name such as www.example.com")
        cleaned.append(domain)
    row = session.get(Setting, "site_domains")
    if row is None:
        row = Setting(key="site_domains", value={}, description="The marketer's own sites: links there carry ?nt=",
                      updated_at=now)
        session.add(row)
    row.value, row.updated_at = {"domains": sorted(set(cleaned))}, now
    return tuple(row.value["domains"])


def on_site(url: str, domains: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def with_contact_token(url: str, token: str) -> str:
    """The destination with ?nt=<token> added (an existing nt is replaced); the fragment is kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TOKEN_PARAM]
    query.append((TOKEN_PARAM, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def decorate(services, session: Session, url: str, contact: Contact | None) -> str:
    """Where a click from an email leads: on the marketer's site, with the contact's token."""
    if contact is None or not contact.tracking_consent or not on_site(url, site_domains(session)):
        return url
    return with_contact_token(url, services.tokens.contact_token(contact.public_id))


def parse_beacon(tokens, body: bytes) -> tuple[str, str | None, list[dict[str, Any]]] | None:
    """(contact public id, visitor id, views) from a snippet beacon, or None for anything not ours."""
    if len(body) > MAX_BEACON_BYTES:
        return None
    try:
        data = read_json(body)
    except ValidationError:  # not JSON, too deep, huge numbers, NUL or lone surrogates: not ours
        return None
    if not isinstance(data, dict) or not isinstance(data.get("views"), list):
        return None
    verified = tokens.verify(CONTACT, data.get("t")) if isinstance(data.get("t"), str) else None
    if verified is None:
        return None
    visitor = data.get("v") if isinstance(data.get("v"), str) and VIEW_ID_RE.match(data["v"]) else None
    views = []
    for view in data["views"][:MAX_VIEWS_PER_BEACON]:
        if not isinstance(view, dict) or not isinstance(view.get("id"), str) or not VIEW_ID_RE.match(view["id"]):
            continue
        url = view.get("u")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
            continue
        views.append({"id": view["id"], "u": url, "ti": _short(view.get("ti"), 300), "r": _short(view.get("r"), 2000),
                      "s": _number(view.get("s"), 0, 86400), "n": int(_number(view.get("n"), 1, 100000) or 1)})
    return verified[0], visitor, views


def _short(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(float(min(max(value, low), high)), 1)  # clamp first: float() of a 400-digit int overflows


def page_view_row(hit, contact: Contact) -> dict[str, Any] | None:
    """The event columns of one reported page view (hit.extra holds what the snippet sent)."""
    extra = hit.extra
    url = extra.get("u")
    if not isinstance(url, str):
        return None
    visit = extra.get("n") or 1
    verdict = classify(kind="view", method=hit.method, user_agent=hit.user_agent, ip=hit.ip, sent_at=None, at=hit.at)
    properties = {"title": extra.get("ti"), "seconds": extra.get("s"), "visit": visit,
                  "return_visit": visit > RETURN_AFTER_VISITS, "referrer": extra.get("r"), "visitor": extra.get("v")}
    return {"contact_id": contact.id, "type": EventType.PAGE_VIEW, "url": url, "source": "site",
            "properties": {k: v for k, v in properties.items() if v is not None},
            "is_machine": verdict.is_machine, "machine_reason": verdict.reason}
