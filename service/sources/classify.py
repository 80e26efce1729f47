"""Topics and municipalities for an entry.

Topics: the source's default topics, plus feed categories matched against the topic
taxonomy (a topic's slug, Danish or English name, as a CMS writes them: "Analyser og
overvågning", term "virksomheder"), plus the source's own `category_rules`
(`{"Label": "slug"}`), plus keywords found in the title or summary (`keywords`:
`{"slug": ["word", ...]}`; a word matches at the start of a word, so "konference"
finds "Konferencen").

Municipalities: the names of the municipalities in the title or summary, also in the
genitive ("Aarhus'", "Viborgs", "Ringkøbing-Skjerns").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.db import seed

# Keywords every feed source uses unless its options say `default_keywords = false`.
DEFAULT_KEYWORDS: dict[str, list[str]] = {
    "ledighedstal": ["ledighedstal"],
    "best-practice": ["best practice"],
    "arrangementer": ["konference", "netværksmøde"],
    "flaskehalse": ["flaskehals"],
    "virksomheder": ["varsling", "arbejdsfordeling", "arbejdstilladelse"],
    "beskaeftigelsesplan": ["beskæftigelsesplan"],
}


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


@dataclass(frozen=True)
class TopicName:
    slug: str
    name_da: str
    name_en: str = ""


class Classifier:
    def __init__(
        self,
        topics: Iterable[TopicName],
        municipalities: Iterable[tuple[str, str]] | None = None,
        *,
        category_rules: Mapping[str, str] | None = None,
        keywords: Mapping[str, Iterable[str]] | None = None,
        default_keywords: bool = True,
    ):
        topics = list(topics)
        self.known = {t.slug for t in topics}
        self.categories: dict[str, str] = {}
        for t in topics:
            for label in (t.slug, t.name_da, t.name_en):
                if label:
                    self.categories[_norm(label)] = t.slug
        for label, slug in (category_rules or {}).items():
            self.categories[_norm(label)] = slug
        words: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_KEYWORDS.items()} if default_keywords else {}
        for slug, extra in (keywords or {}).items():
            words.setdefault(slug, []).extend(extra)
        self.keywords = [
            (slug, re.compile(r"(?<!\w)" + re.escape(w), re.IGNORECASE)) for slug, ws in words.items() for w in ws if w
        ]
        rows = municipalities if municipalities is not None else [(r["code"], r["name"]) for r in seed.municipality_rows()]
        self.places = [
            (code, re.compile(r"(?<!\w)" + re.escape(name) + r"(?:s|'|’)?(?!\w)")) for code, name in rows
        ]

    @classmethod
    def for_source(cls, topics: Iterable[TopicName], options: Mapping) -> "Classifier":
        return cls(
            topics,
            category_rules=options.get("category_rules") or {},
            keywords=options.get("keywords") or {},
            default_keywords=bool(options.get("default_keywords", True)),
        )

    def topics(self, defaults: Iterable[str], categories: Iterable[str], text: str) -> list[str]:
        found: list[str] = []

        def add(slug: str | None) -> None:
            if slug and slug in self.known and slug not in found:
                found.append(slug)

        for slug in defaults:
            add(slug)
        for category in categories:
            add(self.categories.get(_norm(category)))
        for slug, pattern in self.keywords:
            if pattern.search(text):
                add(slug)
        return found

    def municipalities(self, text: str) -> list[str]:
        return [code for code, pattern in self.places if pattern.search(text)]
