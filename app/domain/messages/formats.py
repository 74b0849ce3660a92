"""The slow conversions a step version goes through once (rendering.compile_step): Markdown to
HTML, HTML to the plain-text part, and CSS inlining with premailer."""
from __future__ import annotations

import warnings

import html2text
import markdown
from premailer import Premailer


def markdown_to_html(body: str) -> str:
    return markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.protect_links = True
    return converter.handle(html).strip()


def inline_css(html: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Premailer(html, keep_style_tags=True, strip_important=False, disable_validation=True,
                         cssutils_logging_level="CRITICAL", allow_network=False).transform()
