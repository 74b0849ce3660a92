"""Signed tracking tokens and the rule that tells human engagement from machines.

Tokens name a message by its random public id (128 bits) and carry no personal data; the
signature makes them unforgeable, so a click can only ever redirect to a link of that message.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"


class Tokens:
    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._serializers = {p: URLSafeSerializer(secret_key, salt=f"nurture-{p}") for p in (OPEN, CLICK, UNSUBSCRIBE)}

    def sign(self, purpose: str, public_id: str, link: int | None = None) -> str:
        payload = [public_id] if link is None else [public_id, link]
        return self._serializers[purpose].dumps(payload)

    def verify(self, purpose: str, token: str) -> tuple[str, int | None] | None:
        """(public_id, link index) or None for anything forged, tampered or malformed."""
        try:
            payload = self._serializers[purpose].loads(token)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(payload, list) or not payload or not isinstance(payload[0], str):
            return None
        link = payload[1] if len(payload) > 1 and isinstance(payload[1], int) else None
        return payload[0], link

    def open_url(self, public_id: str) -> str:
        return f"{self.base_url}/t/o/{self.sign(OPEN, public_id)}.gif"

    def click_url(self, public_id: str, link: int) -> str:
        return f"{self.base_url}/t/c/{self.sign(CLICK, public_id, link)}"

    def unsubscribe_url(self, public_id: str) -> str:
        return f"{self.base_url}/u/{self.sign(UNSUBSCRIBE, public_id)}"


# Image proxies fetch pixels on delivery, not when a person reads; scanners follow every link.
MACHINE_AGENTS = [
    (re.compile(r"GoogleImageProxy|ggpht\.com", re.I), "Gmail image proxy"),
    (re.compile(r"YahooMailProxy", re.I), "Yahoo image proxy"),
    (re.compile(r"Barracuda|Mimecast|Proofpoint|ppops|Symantec|MessageLabs|Forcepoint|Trend ?Micro|"
                r"SafeLinks|Microsoft Office Protection|Sophos|FireEye|Cisco|IronPort|Zscaler|Cloudmark", re.I),
     "security scanner"),
    (re.compile(r"bot\b|crawler|spider|curl/|wget/|python-requests|python-urllib|Go-http-client|HeadlessChrome|"
                r"okhttp|libwww|Java/", re.I), "automated client"),
]
# Apple Mail Privacy Protection fetches through Apple's egress ranges with a bare Mozilla UA.
APPLE_MPP_NETWORKS = [ipaddress.ip_network(n) for n in ("17.0.0.0/8",)]
SCANNER_CLICK_WINDOW = timedelta(seconds=10)


@dataclass(frozen=True)
class Verdict:
    is_machine: bool
    reason: str | None = None


def classify(*, kind: str, method: str, user_agent: str | None, ip: str | None,
             sent_at: datetime | None, at: datetime) -> Verdict:
    """Human or machine for an open or click; pure, so it is tested on recorded real-world hits."""
    if method.upper() == "HEAD":
        return Verdict(True, "HEAD request")
    if not user_agent:
        return Verdict(True, "no user agent")
    for pattern, reason in MACHINE_AGENTS:
        if pattern.search(user_agent):
            return Verdict(True, reason)
    if ip:
        try:
            address = ipaddress.ip_address(ip)
            if kind == OPEN and any(address in net for net in APPLE_MPP_NETWORKS):
                return Verdict(True, "Apple Mail Privacy Protection")
        except ValueError:
            pass
    if kind == CLICK and sent_at is not None and at - sent_at < SCANNER_CLICK_WINDOW:
        return Verdict(True, "clicked within seconds of delivery")
    return Verdict(False)
