"""Building message bytes quickly without giving up header safety.

EmailMessage costs ~1.6 ms per message; most of that is generic machinery. Here headers that can
hold contact or author data go through the SMTP policy's own parser and folder (which refuses
CR/LF and encodes non-ASCII), cached where the value repeats; the subject, different for nearly
every recipient, is written by `subject_header`, which only lets printable ASCII through as is.
Body parts are quoted-printable encoded by binascii in C, whole or as pieces that are each encoded
once (see rendering.render_pieces). The boundary starts with "=_", which quoted-printable output
can never contain.
"""
from __future__ import annotations

import binascii
import re
from email.policy import SMTP
from functools import lru_cache
from typing import Iterable

CRLF = b"\r\n"
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-unsubscribe",
                  b"list-unsubscribe-post", b"feedback-id", b"mime-version", b"content-type"]


@lru_cache(maxsize=4096)
def fold_header(name: str, value: str) -> bytes:
    """One header, folded and encoded by the SMTP policy; raises ValueError on CR or LF.

    Cached: From and Reply-To repeat for every recipient of a campaign, subjects often do."""
    parsed_name, parsed = SMTP.header_store_parse(name, value)
    return SMTP.fold_binary(parsed_name, parsed)


# An address our own validation accepted and that needs no encoding: written as is, which skips
# the policy's slow address parser for the one header that differs for every recipient.
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,255}")


def recipient_header(address: str) -> bytes:
    if PLAIN_ADDRESS.fullmatch(address):
        return b"To: " + address.encode("ascii") + CRLF
    return fold_header("To", address)


SUBJECT = b"Subject: "
MAX_LINE = 78                 # RFC 5322's recommended limit, the one the policy folds at
WORD_BYTES = 42               # UTF-8 bytes per encoded word: "Subject: " plus one word fits in MAX_LINE
PRINTABLE_ASCII = re.compile(r"[ -~]*")


def subject_header(value: str) -> bytes:
    """A one-line subject (see composing._one_line) as a header, without the policy's slow parser.

    Printable ASCII is written as is, folded at spaces when long; anything else (non-ASCII, control
    characters, "=?" that a reader would take for an encoded word, a word too long to fold) becomes
    RFC 2047 base64 encoded words, which cannot carry CR or LF and decode back to exactly `value`."""
    if PRINTABLE_ASCII.fullmatch(value) and "=?" not in value:
        if len(SUBJECT) + len(value) <= MAX_LINE:
            return SUBJECT + value.encode("ascii") + CRLF
        folded = _fold_at_spaces(value)
        if folded is not None:
            return folded
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the policy knows what to do with them
        return fold_header("Subject", value)
    words, start = [], 0
    while start < len(data):
        end = min(start + WORD_BYTES, len(data))
        while end < len(data) and end > start + 1 and data[end] & 0xC0 == 0x80:
            end -= 1  # never split a character between two words
        words.append(b"=?utf-8?b?" + binascii.b2a_base64(data[start:end], newline=False) + b"?=")
        start = end
    return SUBJECT + b"\r\n ".join(words) + CRLF


def _fold_at_spaces(value: str) -> bytes | None:
    if "  " in value or value != value.strip():
        return None  # a fold must not leave a line of only spaces
    lines, line = [], "Subject:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > MAX_LINE and line != "Subject:":
            lines.append(line)
            line = ""
        line += " " + word
        if len(line) > MAX_LINE:
            return None
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def plain_header(name: str, value: str) -> bytes:
    """A header whose value Nurture generated itself (ids, URLs, dates): ASCII, no CR or LF, unfolded
    except after commas, so List-Unsubscribe reads exactly as RFC 2369 clients expect."""
    if not (value.isascii() and value.isprintable()):
        raise ValueError(f"{name} value must be printable ASCII on one line")
    return f"{name}: {value.replace(', ', ',' + chr(13) + chr(10) + ' ')}\r\n".encode("ascii")


def quoted_printable(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)


SOFT_BREAK = b"=\r\n"
MAX_QP_LINE = 76


def quoted_printable_piece(text: str) -> bytes:
    """`text` encoded to start and end on a line boundary, so encoded pieces can simply be joined.

    A piece that does not end in a newline ends in a soft line break, which decodes to nothing: the
    encoding of static template text then no longer depends on where in a line it lands, and can be
    done once per step version. A piece ending in CR would join differently with a following LF
    than the whole text would; callers must not pass one."""
    if not text:
        return b""
    if len(text) < MAX_QP_LINE and text.isascii() and text.isprintable() and "=" not in text \
            and text[-1:] != " " and text[:1] != ".":
        return text.encode("ascii") + SOFT_BREAK  # a URL or a name: nothing to encode, no line to break
    if text.endswith("\r"):
        raise ValueError("a quoted-printable piece must not end in CR")
    encoded = quoted_printable(text)
    if not encoded or encoded.endswith(b"\n"):
        return encoded
    last_line = len(encoded) - encoded.rfind(b"\n") - 1
    if last_line >= MAX_QP_LINE:  # binascii lets a final line reach 76; the "=" must still fit
        return encoded[:-1] + SOFT_BREAK + encoded[-1:] + SOFT_BREAK
    return encoded + SOFT_BREAK


def join_quoted_printable(pieces: Iterable[bytes]) -> bytes:
    """Pieces from quoted_printable_piece as one body, without a soft break dangling at its end."""
    body = b"".join(pieces)
    return body[:-3] if body.endswith(SOFT_BREAK) else body


def multipart_alternative(headers: Iterable[tuple[str, str]], generated: Iterable[tuple[str, str]], text: str,
                          html: str, boundary_seed: str) -> bytes:
    """`headers` may hold contact or author data and go through the policy; `generated` are ours."""
    head = b"".join(recipient_header(v) if n == "To" else fold_header(n, v) for n, v in headers)
    head += b"".join(plain_header(n, v) for n, v in generated)
    return multipart_message(head, boundary_seed, quoted_printable(text), quoted_printable(html))


PART_HEAD = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
TEXT_PART_HEAD, HTML_PART_HEAD = PART_HEAD % b"plain", PART_HEAD % b"html"
LIST_UNSUBSCRIBE_POST = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"


def multipart_message(head: bytes, boundary_seed: str, text_qp: bytes, html_qp: bytes) -> bytes:
    """Safe header lines (each ending in CRLF) and two quoted-printable bodies as one message."""
    b = f"=_nurture_{boundary_seed}".encode()
    return b"".join([
        head, b"MIME-Version: 1.0\r\n", b'Content-Type: multipart/alternative; boundary="', b, b'"\r\n', CRLF,
        b"--", b, CRLF, TEXT_PART_HEAD, text_qp, CRLF,
        b"--", b, CRLF, HTML_PART_HEAD, html_qp, CRLF,
        b"--", b, b"--", CRLF,
    ])


def dkim_sign(raw: bytes, *, selector: str, domain: str, private_key: bytes) -> bytes:
    """Prepend a DKIM-Signature covering the identity and both List-Unsubscribe headers."""
    import dkim

    signature = dkim.sign(raw, selector.encode(), domain.encode(), private_key,
                          include_headers=[h for h in SIGNED_HEADERS if h in raw.lower()[:raw.find(b"\r\n\r\n")]])
    return signature + raw
