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


def fill(text: str, reader: Reader, *, escape: bool) -> str:
    """Replace the placeholders in a rendered mail part (escape=True for HTML)."""
    vals = values(reader)

    def one(m: re.Match) -> str:
        value, is_fallback = vals[m.group(1)]
        if is_fallback and m.group(2):
            value = value.replace(_fallback(reader), m.group(2).strip()) if m.group(1) == "hilsen" else m.group(2).strip()
        return html.escape(value, quote=True) if escape else value

    return PATTERN.sub(one, text)


def used(text: str) -> list[str]:
    """The merge fields a text uses, in order of first use (for the editor's hint)."""
    return list(dict.fromkeys(m.group(1) for m in PATTERN.finditer(text or "")))
