"""The signed links every email carries: tracking tokens, and the hidden honeypot link.

A token is a random public id (128 bits: a message's, a contact's or a QR code's), the link number
for clicks, and a 128-bit HMAC-SHA256 tag over those and the token's purpose. It carries no
personal data, cannot be forged, enumerated or moved to another purpose, never expires, and costs
a microsecond to make or check (tokens are minted for every link of every email, and checked on
every pixel hit).

Telling people from machines by the hits these links bring is engagement.bots.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import NamedTuple

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
CONTACT, QR, CONFIRM = "contact", "qr", "confirm"
PURPOSE_BYTES = {OPEN: b"o", CLICK: b"c", UNSUBSCRIBE: b"u", CONTACT: b"n", QR: b"q", CONFIRM: b"f"}
TAG_BYTES = 16
# The hidden link every tracked email carries: no person can see or click it, link scanners follow it.
HONEYPOT_LINK = 0xFFFF
HMAC_BLOCK = 64  # SHA-256's block size
URLSAFE = bytes.maketrans(b"+/", b"-_")


class EmailUrls(NamedTuple):
    clicks: list[str]
    open: str
    unsubscribe: str
    honeypot: str


class Tokens:
    def __init__(self, secret_key: str, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._key = hmac.new(secret_key.encode(), b"nurture-tracking-v1", hashlib.sha256).digest()
        # HMAC with both padded keys hashed once (RFC 2104): a tag is then two hash copies, a quarter
        # of what hmac.digest costs, and every email mints several.
        block = self._key.ljust(HMAC_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def _tag(self, purpose: str, body: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(PURPOSE_BYTES[purpose] + body)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:TAG_BYTES]

    def _token(self, purpose: str, body: bytes) -> str:
        raw = binascii.b2a_base64(body + self._tag(purpose, body), newline=False)
        return raw.rstrip(b"=").translate(URLSAFE).decode()

    def sign(self, purpose: str, public_id: str, link: int | None = None) -> str:
        body = bytes.fromhex(public_id) + (struct.pack(">H", link) if link is not None else b"")
        return self._token(purpose, body)

    def email_urls(self, public_id: str, links: int) -> EmailUrls:
        """Every signed URL one tracked email carries, minted together."""
        message = bytes.fromhex(public_id)
        base = self.base_url
        return EmailUrls(
            clicks=[f"{base}/t/c/{self._token(CLICK, message + struct.pack('>H', i))}" for i in range(links)],
            open=f"{base}/t/o/{self._token(OPEN, message)}.gif",
            unsubscribe=f"{base}/u/{self._token(UNSUBSCRIBE, message)}",
            honeypot=f"{base}/t/c/{self._token(CLICK, message + struct.pack('>H', HONEYPOT_LINK))}",
        )

    def verify(self, purpose: str, token: str) -> tuple[str, int | None] | None:
        """(public_id, link index) or None for anything forged, tampered or malformed."""
        if purpose not in PURPOSE_BYTES or not isinstance(token, str) or len(token) > 64:
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

    def honeypot_url(self, public_id: str) -> str:
        return self.click_url(public_id, HONEYPOT_LINK)

    def unsubscribe_url(self, public_id: str) -> str:
        return f"{self.base_url}/u/{self.sign(UNSUBSCRIBE, public_id)}"

    def preferences_url(self, public_id: str) -> str:
        return f"{self.base_url}/u/{self.sign(UNSUBSCRIBE, public_id)}/preferences"

    def forward_url(self, public_id: str) -> str:
        """The layout links it as {{ unsubscribe_url }}/forward, so every render path fills it in."""
        return f"{self.base_url}/u/{self.sign(UNSUBSCRIBE, public_id)}/forward"

    def qr_url(self, public_id: str) -> str:
        return f"{self.base_url}/t/q/{self.sign(QR, public_id)}"

    def confirm_url(self, confirmation_public_id: str) -> str:
        """The page where a contact confirms a form submitted with their address (GET shows, POST applies)."""
        return f"{self.base_url}/f/confirm/{self.sign(CONFIRM, confirmation_public_id)}"

    def contact_token(self, contact_public_id: str) -> str:
        """What a click appends to the marketer's own pages (?nt=…) so the site snippet knows who it is."""
        return self.sign(CONTACT, contact_public_id)


HONEYPOT_BEFORE = '<a href="'
HONEYPOT_AFTER = ('" style="display:none;font-size:0;line-height:0;max-height:0;overflow:hidden;'
                  'mso-hide:all" aria-hidden="true" tabindex="-1">&#8203;</a>')


def with_honeypot(html: str, url: str) -> str:
    """Add the hidden link before </body>: invisible and unclickable for people, followed by scanners."""
    anchor = HONEYPOT_BEFORE + url + HONEYPOT_AFTER
    head, found, tail = html.rpartition("</body>")
    return f"{head}{anchor}{found}{tail}" if found else html + anchor
