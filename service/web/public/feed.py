"""Atom 1.0 (RFC 4287) for the public archive, built with ElementTree (escaping for free)."""

from __future__ import annotations

from datetime import datetime
import re
from xml.etree import ElementTree as ET

from service.campaigns.archive import Entry

ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _t(text: str) -> str:
    """Characters XML 1.0 cannot carry are dropped (a feed entry must never break the feed)."""
    return _NOT_XML.sub("", text)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(entries: list[Entry], *, base_url: str, title: str, now: datetime) -> bytes:
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "da"})
    ET.SubElement(root, f"{{{ATOM}}}id").text = f"{base_url}/feed.xml"
    ET.SubElement(root, f"{{{ATOM}}}title").text = f"{title} – nyheder og pressemeddelelser"
    ET.SubElement(root, f"{{{ATOM}}}updated").text = _iso(max((e.updated for e in entries), default=now))
    ET.SubElement(root, f"{{{ATOM}}}link", rel="self", href=f"{base_url}/feed.xml", type="application/atom+xml")
    ET.SubElement(root, f"{{{ATOM}}}link", rel="alternate", href=f"{base_url}/archive", type="text/html")
    author = ET.SubElement(root, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = title
    for e in entries:
        entry = ET.SubElement(root, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{base_url}{e.path}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = _t(e.title)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(e.published)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(e.updated)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=f"{base_url}{e.path}", type="text/html")
        ET.SubElement(entry, f"{{{ATOM}}}category", term=e.key.split(":")[0], label=_t(e.kind_label))
        if e.summary:
            ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = _t(e.summary)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
