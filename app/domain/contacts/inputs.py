"""What any input must be before a rule reads it: JSON within limits, text that is text, and times
within the years the product works in. Every edge reads through these, so a deep, huge or
malformed document is a clear refusal naming the field, never a crash further in."""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import yaml
from yaml.composer import ComposerError

from app.domain.errors import ValidationError

MAX_JSON_DEPTH = 32        # objects and lists inside each other; real documents stay under 10
MAX_INTEGER_DIGITS = 100   # within what float() and str() handle; a longer number means nothing here
FIRST_YEAR, LAST_YEAR = 1900, 2999  # far enough either way that date arithmetic never overflows
MAX_YAML_BYTES = 256 * 1024  # the whole shipped library's largest file is under 10 kB
NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)


class _Refused(ValueError):
    pass


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"holds a number with more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("holds a number too large to represent")
    return value


def _constant(name: str):
    raise _Refused(f"holds {name}, which is not JSON")


def read_json(raw: bytes | str, *, field: str = "body") -> Any:
    """The JSON document in `raw`, or ValidationError(field) when it is not JSON, nests deeper than
    MAX_JSON_DEPTH, holds an integer over MAX_INTEGER_DIGITS digits, a non-finite number, or a
    string with a NUL or a lone surrogate."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        data = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise ValidationError(field, str(exc)) from None
    except RecursionError:
        raise ValidationError(field, f"is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(field, f"is not valid JSON ({str(exc)[:120]})") from None
    check_document(data, field=field)
    return data


def check_document(data: Any, *, field: str = "body") -> None:
    """Depth and text checks over a parsed document, without recursion (the depth is the input's);
    a bad string is named by its place, e.g. fields.plc or events[2].url."""
    pending = [(data, 1, "")]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, dict):
            for key in value:
                check_text(key, f"{path}.{key!r}" if path else field)
            items = [(item, f"{path}.{key}" if path else key) for key, item in value.items()]
        elif isinstance(value, list):
            items = [(item, f"{path or field}[{i}]") for i, item in enumerate(value)]
        else:
            if isinstance(value, str):
                check_text(value, path or field)
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(field, f"is nested more than {MAX_JSON_DEPTH} levels deep")
        pending.extend((item, depth + 1, place) for item, place in items)


def check_text(value: str, field: str) -> str:
    """`value` unchanged, or ValidationError when it holds a NUL or a lone surrogate."""
    if NOT_TEXT.search(value):
        raise ValidationError(field[:200], "holds a NUL character or a lone surrogate, which is not text")
    return value


def parse_time(value: Any, field: str, *, naive_as_utc: bool = False) -> datetime | None:
    """An ISO 8601 time or date (None for nothing given), timezone-aware, between FIRST_YEAR and LAST_YEAR."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError(field, "must be an ISO 8601 time such as 2026-03-01T09:30:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, f"{value!r} is not an ISO 8601 time such as 2026-03-01T09:30:00Z") from None
    if moment.tzinfo is None:
        if not naive_as_utc:
            raise ValidationError(field, "must include a time zone offset (e.g. Z or +02:00)")
        moment = moment.replace(tzinfo=timezone.utc)
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:  # year 1 or 9999 would overflow at the first offset or day added
        raise ValidationError(field, f"must be a time between the years {FIRST_YEAR} and {LAST_YEAR}")
    return moment


def check_web_address(value: Any, field: str, *, limit: int = 2000) -> str:
    """An http(s) address a browser may be sent to: with a host, at most `limit` characters, and no
    space, line break or control character (a CR/LF in a redirect would split the response)."""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > limit:
        raise ValidationError(field, f"must be an http(s) address of at most {limit} characters")
    try:
        host = urlsplit(value).hostname
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        host = None
    if not host or not value.isprintable() or " " in value:
        raise ValidationError(field, "must be one address with a host, without spaces, line breaks or control characters")
    return value


def redirect_location(url: Any) -> str | None:
    """`url` as a Location header: ASCII, other characters percent-encoded; None when it is no address a
    browser may be sent to (say a row stored before addresses were checked)."""
    try:
        check_web_address(url, "url")
    except ValidationError:
        return None
    return quote(url, safe="%/:=&?~#+!$,;'@()*[]")


class _PlainYamlLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases (a few lines of them expand to billions of values) and
    with nesting bounded (the composer recurses once per level)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ComposerError(None, None, "anchors and aliases (&name, *name) are not accepted; write the values out",
                                event.start_mark)
        self.depth = getattr(self, "depth", 0) + 1
        try:
            if self.depth > MAX_JSON_DEPTH:
                raise ComposerError(None, None, f"nested more than {MAX_JSON_DEPTH} levels deep", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str) -> Any:
    """One YAML document, plain data only: at most MAX_YAML_BYTES, no anchors or aliases, bounded
    nesting, numbers Python can hold. Anything else raises yaml.YAMLError saying what (and where)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise yaml.YAMLError(f"longer than {MAX_YAML_BYTES // 1024} kB")
    try:
        return yaml.load(text, Loader=_PlainYamlLoader)  # noqa: S506  (a SafeLoader)
    except (ValueError, OverflowError) as exc:  # yaml.YAMLError is no ValueError: e.g. a 5,000-digit number
        raise yaml.YAMLError(f"a value cannot be read: {str(exc)[:120]}") from None
