"""The hot path: a plain WSGI layer in front of Flask for /t/o (pixel), /t/c (click), /t/q (QR scan)
and /t/s (site snippet and its beacons).

Each request verifies its token, pushes the hit to Redis in one pipelined round trip, and answers;
no Flask request context, no session, no database. A click's destination comes from a process
cache, then from Redis (fetched in that same round trip), and only on a cold miss from the
database. If Redis is unreachable the hit is written to the database directly; if both are, the
hit is logged whole (so it can be replayed) and the visitor is still answered.
"""
from __future__ import annotations

import base64
import logging
import threading
from collections import OrderedDict
from pathlib import Path

from app.domain.contacts.inputs import redirect_location
from app.domain.engagement import buffer
from app.domain.engagement import hits as hit_codec
from app.domain.engagement.destinations import click_destination, qr_destination
from app.domain.engagement.drain import drain
from app.domain.engagement.pace import BEACON_LIMITS
from app.domain.engagement.recording import record_hits
from app.domain.engagement.site import parse_beacon
from app.domain.messages.links import CLICK, HONEYPOT_LINK, OPEN, QR
from app.infra import counters, hit_buffer, queue
from app.infra.resp import FastPipeline

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = ("Cache-Control", "no-store, no-cache, must-revalidate, private")
# What Flask's answers get from app.security_headers: no MIME sniffing, no framing.
NOSNIFF, NO_FRAMES = ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")
GIF_HEADERS = [("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL))), NO_CACHE, ("Pragma", "no-cache"),
               NOSNIFF]
LINK_CACHE = "nurture:links:"   # + public id → hash of link index → destination
LINK_TTL = 7 * 86400
SNIPPET = Path(__file__).with_name("static") / "nurture.js"
CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type"), ("Access-Control-Max-Age", "86400")]
BLANK = b"<!doctype html><title>Nurture</title>"


class _Lru:
    """A small thread-safe LRU of resolved destinations (they never change for a given token)."""

    def __init__(self, size: int = 50_000):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)


class TrackingMiddleware:
    def __init__(self, app, services):
        self.app = app
        self.services = services
        self.tokens = services.tokens
        self.cache = _Lru()
        self.inline = buffer.inline_drain(services)
        self.fast = FastPipeline.for_client(services.redis)
        self.routes = {"o/": self.open, "c/": self.click, "q/": self.qr, "s/": self.site}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/t/"):
            handler = self.routes.get(path[3:5])
            if handler is not None:
                return handler(environ, start_response, path[5:])
        return self.app(environ, start_response)

    # -- the endpoints ---------------------------------------------------------------------------

    def open(self, environ, start_response, rest: str):
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            verified = self.tokens.verify(OPEN, rest[:-4]) if rest.endswith(".gif") else None
            if verified is not None:
                self._record([self._hit(hit_codec.OPEN, verified[0], environ)])
        start_response("200 OK", GIF_HEADERS)
        return [b""] if method == "HEAD" else [PIXEL]

    def click(self, environ, start_response, token: str):
        method = environ.get("REQUEST_METHOD", "GET")
        verified = self.tokens.verify(CLICK, token) if method in ("GET", "HEAD") else None
        if verified is None or verified[1] is None:
            return self._invalid(environ, start_response)
        public_id, link = verified
        hit = self._hit(hit_codec.CLICK, public_id, environ, link=link)
        if link == HONEYPOT_LINK:  # nobody can see it; whatever follows it gets an empty page
            self._record([hit])
            start_response("200 OK", [("Content-Type", "text/html"), NO_CACHE, ("X-Robots-Tag", "noindex"), NOSNIFF,
                                      NO_FRAMES, ("Content-Security-Policy", "default-src 'none'")])
            return [BLANK]
        target = self._destination(LINK_CACHE + public_id, str(link), [hit],
                                   lambda session: self._click_from_db(session, public_id, link))
        return self._redirect(environ, start_response, target)

    def qr(self, environ, start_response, token: str):
        method = environ.get("REQUEST_METHOD", "GET")
        verified = self.tokens.verify(QR, token) if method in ("GET", "HEAD") else None
        if verified is None:
            return self._invalid(environ, start_response)
        hit = self._hit(hit_codec.QR_SCAN, verified[0], environ)
        target = self._destination(LINK_CACHE + "qr:" + verified[0], "0", [hit],
                                   lambda session: qr_destination(session, verified[0]))
        return self._redirect(environ, start_response, target)

    def site(self, environ, start_response, rest: str):
        method = environ.get("REQUEST_METHOD", "GET")
        if rest == "nurture.js" and method in ("GET", "HEAD"):
            body = _snippet()
            start_response("200 OK", [("Content-Type", "application/javascript; charset=utf-8"),
                                      ("Content-Length", str(len(body))), ("Cache-Control", "public, max-age=3600"),
                                      ("Access-Control-Allow-Origin", "*"), NOSNIFF])
            return [b""] if method == "HEAD" else [body]
        if rest == "collect" and method == "OPTIONS":
            start_response("204 No Content", CORS)
            return [b""]
        if rest == "collect" and method == "POST":
            return self.collect(environ, start_response)
        return self.app(environ, start_response)

    def collect(self, environ, start_response):
        """Page views from the snippet: a batched beacon, answered 204 whatever it held, or 429 when
        its token sent more beacons than a person's browsing does (engagement.pace)."""
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 64 * 1024 + 1)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        parsed = parse_beacon(self.tokens, body)
        if parsed is not None and parsed[2]:
            contact_id, visitor, views = parsed
            wait = self._beacon_wait(contact_id)
            if wait:
                start_response("429 Too Many Requests", CORS + [("Retry-After", str(wait)), ("Content-Length", "0")])
                return [b""]
            self._record([self._hit(hit_codec.PAGE_VIEW, contact_id, environ, hit_id=f"{contact_id[:16]}{view['id']}",
                                    extra={**view, "v": visitor}) for view in views])
        start_response("204 No Content", CORS)
        return [b""]

    # -- the work ----------------------------------------------------------------------------------

    def _hit(self, kind: str, public_id: str, environ, *, link: int | None = None, hit_id: str | None = None,
             extra: dict | None = None) -> str:
        return hit_codec.encode(kind, public_id, at=self.services.now().timestamp(), link=link,
                             method=environ.get("REQUEST_METHOD", "GET"), ip=environ.get("REMOTE_ADDR"),
                             user_agent=environ.get("HTTP_USER_AGENT"), extra=extra, hit_id=hit_id)

    def _execute(self, commands: list[tuple]) -> list:
        """One round trip: the raw fast pipeline where it can be used, else the app's Redis client."""
        if self.fast is not None:
            return self.fast.execute(commands)
        pipe = self.services.redis.pipeline(transaction=False)
        for name, *args in commands:
            pipe.execute_command(name, *args)
        return pipe.execute()

    def _beacon_wait(self, public_id: str) -> int:
        """Seconds until this token may send beacons again (0: now). Redis away: let it through; the
        hit is then written directly, and the drain still marks views beyond a human pace."""
        now = self.services.now().timestamp()
        try:
            results = self._execute(counters.window_commands(f"beacon:{public_id}", BEACON_LIMITS, now=now))
        except Exception:
            return 0
        return counters.retry_after(results, BEACON_LIMITS, now=now)

    def _record(self, hits: list[str], lookup: tuple[str, str] | None = None):
        """Push the hits in one round trip (a cache lookup riding along); returns the lookup's answer."""
        commands = [("HGET", *lookup)] if lookup else []
        commands += hit_buffer.push_commands(hits)
        try:
            results = self._execute(commands)
        except Exception as exc:
            self._spool(hits, exc)
            return None
        if self.inline or results[-1]:  # embedded: drain now; production: if no drain is queued or running
            self._start_drain()
        return results[0] if lookup else None

    def _destination(self, key: str, field: str, hits: list[str], from_db) -> str | None:
        cached = self.cache.get((key, field))
        if cached is not None:
            self._record(hits)
            return cached
        found = self._record(hits, lookup=(key, field))
        if found:
            # Checked again: an entry may predate the check (redirect_location leaves encoded ones as they are).
            target = redirect_location(found.decode())
        else:
            target = self._from_db(from_db)
            if not target:
                return target
            target = redirect_location(target)
            if target is not None:
                try:
                    self.services.redis.pipeline(transaction=False).hset(key, field, target).expire(key, LINK_TTL).execute()
                except Exception:
                    pass
        if target is not None:  # checked and encoded once per link, not on every click
            self.cache.put((key, field), target)
        return target

    def _from_db(self, lookup) -> str | None:
        try:
            with self.services.sessions() as session:
                return lookup(session)
        except Exception as exc:  # database down: the hit is queued; the visitor gets a retry page
            log.warning("cannot resolve a tracked link right now: %s", exc)
            return ""

    def _start_drain(self) -> None:
        if self.inline:
            try:
                drain(self.services)
            except Exception:
                log.exception("inline tracking drain failed; the hits stay queued")
        else:
            queue.enqueue_drain(self.services)

    def _spool(self, hits: list[str], exc: Exception) -> None:
        """Redis is unreachable: write straight to the database; failing that, log the hits whole."""
        log.warning("Redis unavailable for tracking (%s); writing %d hit(s) directly", exc, len(hits))
        try:
            record_hits(self.services, hits)
        except Exception:
            for hit in hits:
                log.error("tracking hit not recorded, replay with `nurture tracking replay`: %s", hit)

    def _redirect(self, environ, start_response, target: str | None):
        if target == "":
            environ["PATH_INFO"] = "/t/unavailable"
            return self.app(environ, start_response)
        if target is None:  # unknown, or no address a browser may be sent to (redirect_location)
            return self._invalid(environ, start_response)
        start_response("302 Found", [("Location", target), ("Content-Length", "0"), NO_CACHE, NOSNIFF,
                                     ("Referrer-Policy", "no-referrer")])
        return [b""]

    def _invalid(self, environ, start_response):
        """Forged, tampered or stale: never a redirect, just our own page (rendered by Flask)."""
        environ["PATH_INFO"] = "/t/invalid"
        return self.app(environ, start_response)

    def _click_from_db(self, session, public_id: str, link: int) -> str | None:
        return click_destination(self.services, session, public_id, link)


_snippet_bytes: bytes | None = None


def _snippet() -> bytes:
    global _snippet_bytes
    if _snippet_bytes is None:
        _snippet_bytes = SNIPPET.read_bytes()
    return _snippet_bytes

