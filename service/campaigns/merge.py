"""Merge fields: a short, fixed list of placeholders filled per recipient after the mail is
rendered. Staff text is never a template (catalogue 21): only these exact words in braces
are replaced, the values are escaped for the HTML part, and nothing else in the text is
read as code.

    {fornavn}          the first name           ("læser" / "journalist" when none is known)
    {navn}             the full name            (same fallback)
    {hilsen}           "Kære Hanne" / "Kære læser" / "Kære journalist"
    {fornavn|kollega}  a fallback of one's own, used when no name is known

English readers get "reader" / "journalist" / "Dear …".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

FIELDS = ("fornavn", "navn", "hilsen")
PATTERN = re.compile(r"\{(fornavn|navn|hilsen)(?:\|([^{}|<>\n]{1,40}))?\}")


@dataclass(frozen=True)
class Reader:
    name: str = ""
    part: str = "sub"  # "sub" (a subscriber), "press" (a journalist)
    lang: str = "da"


def _fallback(reader: Reader) -> str:
    if reader.part == "press":
        return "journalist"
    return "reader" if reader.lang == "en" else "læser"


def values(reader: Reader) -> dict[str, tuple[str, bool]]:
    """field → (value, whether it is the fallback)."""
    name = " ".join(reader.name.split())
    first = name.split(" ")[0] if name else ""
    dear = "Dear" if reader.lang == "en" else "Kære"
    fb = _fallback(reader)
    return {"fornavn": (first or fb, not first), "navn": (name or fb, not name), "hilsen": (f"{dear} {first or fb}", not first)}


def value(vals: dict[str, tuple[str, bool]], reader: Reader, field: str, own_fallback: str | None, *,
          escape: bool) -> str:
    """What one placeholder becomes for this reader (`vals` = `values(reader)`)."""
    text, is_fallback = vals[field]
    if is_fallback and own_fallback:
        text = text.replace(_fallback(reader), own_fallback.strip()) if field == "hilsen" else own_fallback.strip()
    return html.escape(text, quote=True) if escape else text


def fill(text: str, reader: Reader, *, escape: bool) -> str:
    """Replace the placeholders in a rendered mail part (escape=True for HTML)."""
    vals = values(reader)
    return PATTERN.sub(lambda m: value(vals, reader, m.group(1), m.group(2), escape=escape), text)


def used(text: str) -> list[str]:
    """The merge fields a text uses, in order of first use (for the editor's hint)."""
    return list(dict.fromkeys(m.group(1) for m in PATTERN.finditer(text or "")))
