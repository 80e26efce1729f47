"""Feed bytes → entries, surviving hostile input.

1. The bytes are decoded (BOM, valid UTF-8, the declared or HTTP charset, then
   Windows-1252) and re-encoded as UTF-8 with a matching declaration, so a wrong or
   missing declaration still gives correct æøå.
2. defusedxml reads the document first and refuses entity declarations (billion laughs,
   quadratic blowup) and external entities or DTDs; only then does feedparser see it.
3. Titles become plain text; summaries are sanitised with nh3 (`summary_html`) and
   flattened to plain text (`summary`). Nothing from a feed is trusted as markup.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import feedparser
import nh3

MAX_ENTRIES = 500
ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "blockquote", "h3", "h4"}
ALLOWED_ATTRS = {"a": {"href", "title"}}
DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.IGNORECASE)
DANGEROUS = re.compile(rb"<!ENTITY|<!DOCTYPE[^>]*(\[|SYSTEM|PUBLIC)", re.IGNORECASE)
BLOCK_END = re.compile(r"</(p|li|h3|h4|blockquote)>|<br\s*/?>", re.IGNORECASE)
SPACES = re.compile(r"[ \t\r\f\v]+")


class FeedRejected(Exception):
    """The body is not a feed we will read; the message says why in plain words."""


@dataclass(frozen=True)
class Entry:
    key: str  # guid, else link, else a hash of title and date
    title: str
    link: str | None
    summary: str  # plain text
    summary_html: str  # sanitised
    published_at: datetime | None
    categories: list[str] = field(default_factory=list)  # terms and labels

    def content_hash(self) -> str:
        raw = "\x1f".join([self.title, self.link or "", self.summary_html])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_feed(body: bytes, content_type: str | None = None) -> list[Entry]:
    data = to_utf8(body, _charset(content_type))
    refuse_dangerous_xml(data)
    parsed = feedparser.parse(
        io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False,
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        reason = getattr(parsed, "bozo_exception", None)
        raise FeedRejected(f"this is not a feed we can read ({reason or 'no entries'})")
    if not parsed.entries and not parsed.feed.get("title") and not parsed.version:
        raise FeedRejected("this is not an RSS or Atom feed")
    return [_entry(e) for e in parsed.entries[:MAX_ENTRIES]]


# ---------------------------------------------------------------- bytes and safety


def to_utf8(body: bytes, http_charset: str | None = None) -> bytes:
    text = _decode(body, http_charset)
    text = DECL.sub(b"", text.encode("utf-8"), count=1).decode("utf-8").lstrip("\ufeff")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip().encode("utf-8")


def _decode(body: bytes, http_charset: str | None) -> str:
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            try:
                return body.decode(enc)
            except UnicodeDecodeError as exc:
                raise FeedRejected(f"the text is not valid {enc}") from exc
    try:
        return body.decode("utf-8")  # valid UTF-8 with æøå is UTF-8, whatever it claims
    except UnicodeDecodeError:
        pass
    m = DECL_ENCODING.match(body)
    for name in (m.group(1).decode("ascii") if m else None, http_charset, "cp1252", "latin-1"):
        if not name:
            continue
        try:
            codecs.lookup(name)
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    raise FeedRejected("the text encoding could not be read")  # pragma: no cover - latin-1 always decodes


def refuse_dangerous_xml(data: bytes) -> None:
    try:
        defusedxml.ElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden as exc:
        raise FeedRejected("the feed declares XML entities (a possible entity expansion attack); refused") from exc
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden) as exc:
        raise FeedRejected("the feed refers to external entities or files; refused") from exc
    except ParseError as exc:
        # Not well-formed: feedparser's lenient parser may still read it, but never with
        # an entity or DTD declaration that the strict check did not get to see.
        if DANGEROUS.search(data):
            raise FeedRejected("the feed is malformed and declares entities or a DTD; refused") from exc


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", content_type, re.IGNORECASE)
    return m.group(1) if m else None


# ---------------------------------------------------------------- entries


def _entry(e) -> Entry:
    title = plain_text(e.get("title", "")) or "(uden titel)"
    link = safe_link(e.get("link"))
    published = _when(e.get("published_parsed") or e.get("updated_parsed"))
    raw_html = _summary_source(e)
    summary_html = sanitise_html(raw_html)
    categories = []
    for tag in e.get("tags") or []:
        for value in (tag.get("term"), tag.get("label")):
            if value and value.strip() and value.strip() not in categories:
                categories.append(value.strip())
    key = (e.get("id") or "").strip() or link or _hash_key(title, published)
    return Entry(key[:500], title[:1000], link, html_to_text(summary_html), summary_html, published, categories)


def _summary_source(e) -> str:
    detail = e.get("summary_detail")
    if detail is None and e.get("content"):
        detail = e["content"][0]
    if detail is None:
        return ""
    value = detail.get("value", "")
    if detail.get("type") == "text/plain":
        return "<p>" + html.escape(value) + "</p>" if value.strip() else ""
    return value


# C0 control characters other than tab and newline, and DEL: never part of a title or text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sanitise_html(markup: str) -> str:
    if not markup:
        return ""
    return nh3.clean(
        markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def html_to_text(markup: str) -> str:
    if not markup:
        return ""
    with_breaks = BLOCK_END.sub(lambda m: m.group(0) + "\n", markup)
    text = CONTROL.sub("", html.unescape(nh3.clean(with_breaks, tags=set())))
    lines = [SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def plain_text(value: str) -> str:
    """A title or other one-line text: tags removed, entities decoded, spaces collapsed."""
    text = html.unescape(nh3.clean(value or "", tags=set()))
    return " ".join(CONTROL.sub("", text).split())


def safe_link(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:1000] if value.lower().startswith(("http://", "https://")) else None


def _when(parsed) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def _hash_key(title: str, published: datetime | None) -> str:
    raw = f"{title}\x1f{published.isoformat() if published else ''}"
    return "sha256:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()
