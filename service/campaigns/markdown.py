"""Markdown → sanitised HTML (markdown-it-py, then nh3), and → plain text for the text part
(`textpart`).

Raw HTML in the Markdown is not rendered; whatever the renderer makes is cleaned again
by nh3 with a short allow-list, so a body can never carry script, style or event handlers.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

from service.campaigns.textpart import to_text as _text_part

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
    "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def to_html(markdown: str) -> str:
    """Sanitised HTML for a Markdown body. Headings are shifted down (# becomes h2)."""
    html = _MD.render(markdown or "")
    html = re.sub(r"<(/?)h1>", r"<\1h2>", html)
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def to_text(markdown: str, lang: str = "da") -> str:
    """The plain-text part: wrapped near 72 characters, tables as columns, links listed
    (`service.campaigns.textpart`)."""
    return _text_part(markdown, links_heading="Links")
