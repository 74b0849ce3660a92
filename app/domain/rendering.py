"""Markdown → HTML → layout → premailer, once per step version; per recipient only merge and links.

Premailer is slow (milliseconds) and URL-encodes placeholders inside attributes, so the Jinja
parts of an author's Markdown are swapped for inert tokens before Markdown and premailer run,
and swapped back afterwards. What is cached is a compiled sandboxed template per step version.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import html2text
import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateSyntaxError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

JINJA_PART = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
TOKEN = "NURTUREJINJA{}X"
TOKEN_RE = re.compile(r"NURTUREJINJA(\d+)X")
HREF_RE = re.compile(r'href="(https?://[^"]+)"', re.I)
LINK_MARK = "NURTURELINK{}X"
LINK_MARK_RE = re.compile(r"NURTURELINK(\d+)X")
PIXEL_MARK, UNSUB_MARK = "NURTUREPIXELX", "NURTUREUNSUBX"


class TemplateError(ValueError):
    """An author's template cannot be rendered; the message says where and why."""


@dataclass(frozen=True)
class CompiledStep:
    subject: Any
    html: Any
    text: Any
    links: tuple[str, ...]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


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


def markdown_to_html(body: str) -> str:
    return markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.protect_links = True
    return converter.handle(html).strip()


def _inline(html: str) -> str:
    from premailer import Premailer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Premailer(html, keep_style_tags=True, strip_important=False, disable_validation=True,
                         cssutils_logging_level="CRITICAL", allow_network=False).transform()


@lru_cache(maxsize=512)
def compile_step(version_hash: str, subject: str, preheader: str, body_markdown: str, layout: str,
                 templates_dir: str, postal_address: str) -> CompiledStep:
    """Everything that is the same for every recipient of a step version, done once."""
    body, saved = _protect(body_markdown)
    body_html = markdown_to_html(body)
    env = layout_environment(templates_dir)
    try:
        page = env.get_template(f"email/{layout}.html").render(
            body=_Markup(body_html), preheader=preheader, subject=TOKEN.format(len(saved)),
            pixel_url=PIXEL_MARK, unsubscribe_url=UNSUB_MARK, postal_address=postal_address)
        text_page = env.get_template(f"email/{layout}.txt").render(
            body=html_to_text(body_html), unsubscribe_url=UNSUB_MARK, postal_address=postal_address)
    except Exception as exc:  # a missing or broken layout file
        raise TemplateError(f"layout {layout!r}: {exc}") from exc
    saved.append("")  # the subject token in <title> renders empty; the subject header carries it
    # The unsubscribe link itself, not some other page under the same URL (forward, preferences).
    if f'href="{UNSUB_MARK}"' not in page or not re.search(UNSUB_MARK + r"(?![/\w])", text_page):
        raise TemplateError(f"layout {layout!r} has no unsubscribe link ({{{{ unsubscribe_url }}}}) in its .html and .txt")
    inlined = _inline(page)
    links: list[str] = []

    def mark(match: re.Match) -> str:
        links.append(_restore(match.group(1), saved).replace("&amp;", "&"))
        return f'href="{LINK_MARK.format(len(links) - 1)}"'

    inlined = HREF_RE.sub(mark, inlined)
    text_page = re.sub(r"<?(https?://[^\s>)]+)>?", lambda m: _text_link(m.group(1), links, saved), text_page)
    try:
        return CompiledStep(
            subject=_text_sandbox.from_string(subject),
            html=sandbox().from_string(_restore(inlined, saved)),
            text=_text_sandbox.from_string(_restore(text_page, saved)),
            links=tuple(links),
        )
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc


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


def render(compiled: CompiledStep, context: Mapping[str, Any], *, link_url, pixel_url: str | None,
           unsubscribe_url: str) -> RenderedEmail:
    """Per-recipient work: merge fields, then swap in signed links, pixel and unsubscribe URL."""
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


def check_template(source: str, where: str, first_line: int = 1) -> list[str]:
    """Syntax errors as 'where:line: message', with lines counted in the file the source came from."""
    try:
        sandbox().parse(source)
    except TemplateSyntaxError as exc:
        return [f"{where}:{exc.lineno + first_line - 1}: {exc.message}"]
    return []


MERGE_NAMES = {"contact", "persona", "segment"}


def check_variables(source: str, where: str, first_line: int = 1) -> list[str]:
    """Unknown merge fields are refused when a step is saved, never discovered at send time."""
    from jinja2 import meta, nodes

    from .rules import CONTACT_FIELDS

    try:
        tree = sandbox().parse(source)
    except TemplateSyntaxError:
        return []  # reported by check_template
    unknown = meta.find_undeclared_variables(tree) - MERGE_NAMES
    first_use = {}
    for name_node in tree.find_all(nodes.Name):
        if name_node.name in unknown:
            first_use.setdefault(name_node.name, name_node.lineno)
    problems = [f"{where}:{first_use.get(name, 1) + first_line - 1}: unknown variable {name!r} "
                f"(use contact.<field>, persona or segment)" for name in sorted(unknown)]
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == "contact":
            attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if attr not in CONTACT_FIELDS and attr != "fields":
                problems.append(f"{where}:{node.lineno + first_line - 1}: unknown field contact.{attr} "
                                f"(known: {', '.join(CONTACT_FIELDS)}, fields.<custom>)")
    return problems


def layouts(templates_dir: Path) -> list[str]:
    return sorted(p.stem for p in (templates_dir / "email").glob("*.html"))
