"""Signed tracking tokens and the rule that tells human engagement from machines.

A token is the message's random public id (128 bits), the link number for clicks, and a 128-bit
HMAC-SHA256 tag over those and the token's purpose. It carries no personal data, cannot be forged
or moved to another purpose, and costs a microsecond to make or check (tokens are minted for every
link of every email, and checked on every pixel hit).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
PURPOSE_BYTES = {OPEN: b"o", CLICK: b"c", UNSUBSCRIBE: b"u"}
TAG_BYTES = 16


class Tokens:
    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._key = hmac.new(secret_key.encode(), b"nurture-tracking-v1", hashlib.sha256).digest()

    def _tag(self, purpose: str, body: bytes) -> bytes:
        return hmac.new(self._key, PURPOSE_BYTES[purpose] + body, hashlib.sha256).digest()[:TAG_BYTES]

    def sign(self, purpose: str, public_id: str, link: int | None = None) -> str:
        body = bytes.fromhex(public_id) + (struct.pack(">H", link) if link is not None else b"")
        return base64.urlsafe_b64encode(body + self._tag(purpose, body)).rstrip(b"=").decode()

    def verify(self, purpose: str, token: str) -> tuple[str, int | None] | None:
        """(public_id, link index) or None for anything forged, tampered or malformed."""
        if purpose not in PURPOSE_BYTES or len(token) > 64:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if len(body) not in (16, 18) or not hmac.compare_digest(tag, self._tag(purpose, body)):
            return None
        link = struct.unpack(">H", body[16:])[0] if len(body) == 18 else None
        return body[:16].hex(), link

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
