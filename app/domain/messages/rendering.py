"""Markdown → HTML → layout → premailer, once per step version; per recipient only merge and links.

Premailer is slow (milliseconds) and URL-encodes placeholders inside attributes, so the Jinja
parts of an author's Markdown are swapped for inert tokens before Markdown and premailer run,
and swapped back afterwards. What is cached is a compiled sandboxed template per step version.

Sending renders the same step for thousands of recipients, so the send path (`render_pieces`)
goes further: a template's output is a sequence of the template's own constant strings and the
merged values between them. Each constant is split once at its link, pixel and unsubscribe
markers and its parts quoted-printable encoded once; per recipient only the merged values and the
signed URLs are encoded, and no pass runs over the whole body.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import quote
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateSyntaxError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from app.domain.messages import formats
from app.domain.messages.mime import join_quoted_printable, quoted_printable_piece
from app.domain.messages.links import HONEYPOT_AFTER, HONEYPOT_BEFORE

JINJA_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
TOKEN = "NURTUREJINJA{}X"
TOKEN_RE = re.compile(r"NURTUREJINJA(\d+)X")
HREF_RE = re.compile(r'href="(https?://[^"]+)"', re.I)
LINK_MARK = "NURTURELINK{}X"
LINK_MARK_RE = re.compile(r"NURTURELINK(\d+)X")
PIXEL_MARK, UNSUB_MARK = "NURTUREPIXELX", "NURTUREUNSUBX"
PIXEL_IMG_RE = re.compile(r'<img[^>]*NURTUREPIXELX[^>]*>')
# Slots in a template's pieces: link numbers, and these.
PIXEL, UNSUBSCRIBE, HONEYPOT = "pixel", "unsubscribe", "honeypot"


class TemplateError(ValueError):
    """An author's template cannot be rendered; the message says where and why."""


@dataclass(frozen=True)
class CompiledStep:
    subject: Any
    html: Any
    text: Any
    links: tuple[str, ...]
    pieces: StepPieces | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EncodedBodies:
    """Quoted-printable bodies built alongside a rendering; they stand for exactly these html and
    text objects (checked by identity), and the unsubscribe URL was signed for them."""
    html: str
    text: str
    html_qp: bytes
    text_qp: bytes
    unsubscribe_url: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    encoded: EncodedBodies | None = field(default=None, compare=False, repr=False)

    def bodies_qp(self) -> EncodedBodies | None:
        encoded = self.encoded
        if encoded is not None and encoded.html is self.html and encoded.text is self.text:
            return encoded
        return None


def sandbox() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=True)


_text_sandbox = SandboxedEnvironment(autoescape=False)


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _protect(source: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def stash(match: re.Match) -> str:
        saved.append(match.group(0))
        return TOKEN.format(len(saved) - 1)

    return JINJA_PART.sub(stash, source), saved


def _restore(text: str, saved: list[str]) -> str:
    return TOKEN_RE.sub(lambda m: saved[int(m.group(1))], text)


@lru_cache(maxsize=8)
def layout_environment(templates_dir: str) -> Environment:
    return Environment(loader=FileSystemLoader(templates_dir), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined)


@lru_cache(maxsize=512)
def compile_step(version_hash: str, subject: str, preheader: str, body_markdown: str, layout: str,
                 templates_dir: str, postal_address: str) -> CompiledStep:
    """Everything that is the same for every recipient of a step version, done once."""
    body, saved = _protect(body_markdown)
    body_html = formats.markdown_to_html(body)
    env = layout_environment(templates_dir)
    try:
        page = env.get_template(f"email/{layout}.html").render(
            body=_Markup(body_html), preheader=preheader, subject=TOKEN.format(len(saved)),
            pixel_url=PIXEL_MARK, unsubscribe_url=UNSUB_MARK, postal_address=postal_address)
        text_page = env.get_template(f"email/{layout}.txt").render(
            body=formats.html_to_text(body_html), unsubscribe_url=UNSUB_MARK, postal_address=postal_address)
    except Exception as exc:  # a missing or broken layout file
        raise TemplateError(f"layout {layout!r}: {exc}") from exc
    saved.append("")  # the subject token in <title> renders empty; the subject header carries it
    # The unsubscribe link itself, not some other page under the same URL (forward, preferences).
    if f'href="{UNSUB_MARK}"' not in page or not re.search(UNSUB_MARK + r"(?![/\w])", text_page):
        raise TemplateError(f"layout {layout!r} has no unsubscribe link ({{{{ unsubscribe_url }}}}) in its .html and .txt")
    inlined = formats.inline_css(page)
    links: list[str] = []

    def mark(match: re.Match) -> str:
        links.append(_restore(match.group(1), saved).replace("&amp;", "&"))
        return f'href="{LINK_MARK.format(len(links) - 1)}"'

    inlined = HREF_RE.sub(mark, inlined)
    text_page = re.sub(r"<?(https?://[^\s>)]+)>?", lambda m: _text_link(m.group(1), links, saved), text_page)
    try:
        templates = [_text_sandbox.from_string(subject), sandbox().from_string(_restore(inlined, saved)),
                     _text_sandbox.from_string(_restore(text_page, saved))]
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc
    for template in templates:
        # Jinja builds every render's context by iterating these globals; as a ChainMap that is
        # most of the cost of rendering a subject line. Our environments never change them.
        template.globals = dict(template.globals)
    subject_template, html_template, text_template = templates
    return CompiledStep(subject=subject_template, html=html_template, text=text_template, links=tuple(links),
                        pieces=StepPieces(html_template, text_template, tuple(links)))


def _text_link(url: str, links: list[str], saved: list[str]) -> str:
    restored = _restore(url, saved)
    if restored in links:
        return LINK_MARK.format(links.index(restored))
    return url


class _Markup(str):
    def __html__(self) -> str:
        return self


def merge_context(fields: Mapping[str, Any], persona: str | None, segment: str | None) -> dict[str, Any]:
    """What a template sees. Empty fields are left out so `| default(...)` applies."""
    contact = {k: v for k, v in fields.items() if v not in (None, "") and k != "fields"}
    contact["fields"] = {k: v for k, v in (fields.get("fields") or {}).items() if v not in (None, "")}
    return {"contact": contact, "persona": persona, "segment": segment}


# A merge field in a link becomes part of a URL: what it yields is percent-encoded (path characters
# and existing escapes are kept), so a contact's data can neither break out of the href attribute
# nor add query parameters or a fragment of its own (& = # + are encoded).
URL_SAFE = ":/?@!$'()*,;%-._~[]"
_link_sandbox = SandboxedEnvironment(autoescape=False, finalize=lambda value: quote(str(value), safe=URL_SAFE))


@lru_cache(maxsize=1024)
def _link_template(url: str):
    return _link_sandbox.from_string(url)


def personal_link(url: str, context: Mapping[str, Any]) -> str:
    """An author's link as this contact gets it, merge fields filled in; the same URL a tracked click
    redirects to."""
    if "{" not in url:
        return url
    try:
        return _link_template(url).render(context)
    except Exception as exc:
        raise TemplateError(f"cannot render a link for this contact: {exc}") from exc


def personal_links(compiled: CompiledStep, context: Mapping[str, Any]):
    """link_url for `render` when links are not tracked (no tracking consent, previews, web version)."""
    return lambda index: personal_link(compiled.links[index], context)


def render(compiled: CompiledStep, context: Mapping[str, Any], *, link_url, pixel_url: str | None,
           unsubscribe_url: str) -> RenderedEmail:
    """Per-recipient work: merge fields, then swap in signed links, pixel and unsubscribe URL."""
    try:
        return render_pieces(compiled, context, click_urls=[link_url(i) for i in range(len(compiled.links))],
                             pixel_url=pixel_url, unsubscribe_url=unsubscribe_url, honeypot_url=None)
    except NotPiecewise:
        return render_plainly(compiled, context, link_url=link_url, pixel_url=pixel_url,
                              unsubscribe_url=unsubscribe_url)


def render_plainly(compiled: CompiledStep, context: Mapping[str, Any], *, link_url, pixel_url: str | None,
                   unsubscribe_url: str) -> RenderedEmail:
    """`render` over whole strings: what the pieces must reproduce, and what takes over where they cannot."""
    try:
        subject = " ".join(compiled.subject.render(context).split())
        html = compiled.html.render(context)
        text = compiled.text.render(context)
    except Exception as exc:
        raise TemplateError(f"cannot render for this contact: {exc}") from exc
    html = LINK_MARK_RE.sub(lambda m: link_url(int(m.group(1))), html)
    text = LINK_MARK_RE.sub(lambda m: link_url(int(m.group(1))), text)
    if pixel_url:
        html = html.replace(PIXEL_MARK, pixel_url)
    else:
        html = re.sub(r'<img[^>]*NURTUREPIXELX[^>]*>', "", html)
    html = html.replace(UNSUB_MARK, unsubscribe_url)
    text = text.replace(UNSUB_MARK, unsubscribe_url)
    return RenderedEmail(subject=subject, html=html, text=text)


class NotPiecewise(Exception):
    """This rendering cannot be reproduced exactly from pieces; it takes the plain path instead."""


Piece = tuple[str, bytes]  # text, and its quoted-printable encoding from quoted_printable_piece
Slot = int | str           # a link number, PIXEL, UNSUBSCRIBE or HONEYPOT
Split = tuple[tuple[str, ...], tuple[bytes, ...], tuple[tuple[int, Slot], ...]]


class TemplatePieces:
    """One template's output as pieces: its constant strings split at their markers and encoded
    once, keyed by the string itself; anything else it yields (merged values) is split per call.

    A split is (texts, encodings, slots): the slots' positions hold placeholders, filled per call."""

    def __init__(self, template, links: int, *, marks: re.Pattern, drop_pixel: bool = False):
        self.template = template
        self.links = links
        self.marks = marks
        self.drop_pixel = drop_pixel
        self.known: dict[str, Split] = {}
        for constant in _string_constants(template):
            try:
                self.known[constant] = self.split(constant)
            except NotPiecewise:
                pass  # met again at render time, and refused there

    def split(self, chunk: str) -> Split:
        if "NURTURE" not in chunk and "</body>" not in chunk and not chunk.endswith("\r"):
            return (chunk,), (quoted_printable_piece(chunk),), ()  # a merged value, usually
        if self.drop_pixel and PIXEL_MARK in chunk:
            chunk = PIXEL_IMG_RE.sub("", chunk)
        items: list[Piece | Slot] = []
        start = 0
        for match in self.marks.finditer(chunk):
            self._add_text(items, chunk[start:match.start()])
            if match.group(1) is None:
                items.append(PIXEL if match.group(0) == PIXEL_MARK else UNSUBSCRIBE)
            elif int(match.group(1)) < self.links:
                items.append(int(match.group(1)))
            else:
                raise NotPiecewise("a link marker without a link")
            start = match.end()
        self._add_text(items, chunk[start:])
        pieces = [item if item.__class__ is tuple else ("", b"") for item in items]
        return (tuple(text for text, _ in pieces), tuple(code for _, code in pieces),
                tuple((i, item) for i, item in enumerate(items) if item.__class__ is not tuple))

    @staticmethod
    def _add_text(items: list, text: str) -> None:
        # Every "</body>" starts a piece, so the honeypot link can go before the last one.
        for i, part in enumerate(text.split("</body>")):
            part = "</body>" + part if i else part
            if part:
                if part.endswith("\r"):
                    raise NotPiecewise("a piece ending in CR")
                items.append((part, quoted_printable_piece(part)))

    def render(self, context: Mapping[str, Any], slots: Mapping[Slot, Piece]) -> tuple[list[str], list[bytes]]:
        texts: list[str] = []
        encoded: list[bytes] = []
        known = self.known
        template = self.template
        try:
            for chunk in template.root_render_func(template.new_context(context)):
                split = known.get(chunk)
                if split is None:
                    split = self.split(str(chunk))
                at = len(texts)
                texts += split[0]
                encoded += split[1]
                for position, slot in split[2]:
                    texts[at + position], encoded[at + position] = slots[slot]
        except NotPiecewise:
            raise
        except Exception as exc:
            raise TemplateError(f"cannot render for this contact: {exc}") from exc
        return texts, encoded


def _string_constants(template) -> set[str]:
    """Every string constant in a compiled template's code: the text it can yield unchanged."""
    found: set[str] = set()
    codes = [template.root_render_func.__code__] + [block.__code__ for block in template.blocks.values()]
    while codes:
        for constant in codes.pop().co_consts:
            if isinstance(constant, str):
                found.add(constant)
            elif hasattr(constant, "co_consts"):
                codes.append(constant)
    return found


TRACKED_HTML_MARKS = re.compile(r"NURTURELINK(\d+)X|NURTUREPIXELX|NURTUREUNSUBX")
LINK_AND_UNSUBSCRIBE_MARKS = re.compile(r"NURTURELINK(\d+)X|NURTUREUNSUBX")
HONEYPOT_PARTS = ((HONEYPOT_BEFORE, quoted_printable_piece(HONEYPOT_BEFORE)), HONEYPOT,
                  (HONEYPOT_AFTER, quoted_printable_piece(HONEYPOT_AFTER)))


class StepPieces:
    """A step version's html (with and without the pixel) and text, as pieces."""

    def __init__(self, html_template, text_template, links: tuple[str, ...]):
        self.html = TemplatePieces(html_template, len(links), marks=TRACKED_HTML_MARKS)
        self.untracked_html = TemplatePieces(html_template, len(links), marks=LINK_AND_UNSUBSCRIBE_MARKS,
                                             drop_pixel=True)
        self.text = TemplatePieces(text_template, len(links), marks=LINK_AND_UNSUBSCRIBE_MARKS)
        self.untracked_links = {i: (url, quoted_printable_piece(url)) for i, url in enumerate(links)}
        self.merged_links = tuple(i for i, url in enumerate(links) if "{" in url)


def render_pieces(compiled: CompiledStep, context: Mapping[str, Any], *, click_urls: list[str] | None,
                  pixel_url: str | None, unsubscribe_url: str, honeypot_url: str | None) -> RenderedEmail:
    """What `render` (then `with_honeypot`) gives, with both bodies already quoted-printable encoded.

    click_urls=None leaves the links as the author wrote them (no tracking consent); then there is
    no pixel either. Raises NotPiecewise where the result could differ from the plain path."""
    pieces = compiled.pieces
    if pieces is None or (click_urls is None and (pixel_url or honeypot_url)):
        raise NotPiecewise("no pieces for this step")
    if click_urls is None:
        slots = dict(pieces.untracked_links)
        for index in pieces.merged_links:  # links with merge fields differ per contact
            url = personal_link(compiled.links[index], context)
            slots[index] = (url, quoted_printable_piece(url))
    else:
        slots = {i: (url, quoted_printable_piece(url)) for i, url in enumerate(click_urls)}
    slots[UNSUBSCRIBE] = (unsubscribe_url, quoted_printable_piece(unsubscribe_url))
    if pixel_url:
        slots[PIXEL] = (pixel_url, quoted_printable_piece(pixel_url))
    try:
        subject = " ".join(compiled.subject.render(context).split())
    except Exception as exc:
        raise TemplateError(f"cannot render for this contact: {exc}") from exc
    html_texts, html_qp = (pieces.html if pixel_url else pieces.untracked_html).render(context, slots)
    text_texts, text_qp = pieces.text.render(context, slots)
    html = "".join(html_texts)
    if honeypot_url:
        slots[HONEYPOT] = (honeypot_url, quoted_printable_piece(honeypot_url))
        html = _insert_honeypot(html, html_texts, html_qp, slots)
    text = "".join(text_texts)
    return RenderedEmail(subject, html, text, EncodedBodies(html, text, join_quoted_printable(html_qp),
                                                            join_quoted_printable(text_qp), unsubscribe_url))


def _insert_honeypot(html: str, texts: list[str], encoded: list[bytes], slots: Mapping[Slot, Piece]) -> str:
    """with_honeypot on pieces: the anchor goes before the last "</body>", which must start a piece."""
    at = html.rfind("</body>")
    index, offset = len(texts), len(html)
    if at >= 0:
        while offset > at:
            index -= 1
            offset -= len(texts[index])
        if offset != at:
            raise NotPiecewise("</body> split across pieces")
    parts = [item if item.__class__ is tuple else slots[item] for item in HONEYPOT_PARTS]
    texts[index:index] = [text for text, _ in parts]
    encoded[index:index] = [code for _, code in parts]
    anchor = "".join(text for text, _ in parts)
    return html[:at] + anchor + html[at:] if at >= 0 else html + anchor
