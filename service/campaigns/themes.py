"""Themes: the looks a campaign can wear. A theme is a folder in `templates/themes/`:

    templates/themes/<slug>/theme.toml   name_da, name_en, description (shown in the admin)
    templates/themes/<slug>/email.html   the HTML mail (may extend "layout.html")
    templates/themes/<slug>/email.txt    the text mail

Adding a theme is adding such a folder; no code changes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from service.errors import Invalid

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Theme:
    slug: str
    name_da: str
    name_en: str
    description: str


def list_themes(templates_root: Path) -> list[Theme]:
    out = []
    base = templates_root / "themes"
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if not (SLUG.match(folder.name) and (folder / "email.html").is_file() and (folder / "email.txt").is_file()):
            continue
        meta: dict = {}
        if (folder / "theme.toml").is_file():
            meta = tomllib.loads((folder / "theme.toml").read_text(encoding="utf-8"))
        out.append(Theme(folder.name, meta.get("name_da", folder.name), meta.get("name_en", folder.name),
                         meta.get("description", "")))
    return out


def check_theme(templates_root: Path, slug: str) -> str:
    if slug not in {t.slug for t in list_themes(templates_root)}:
        raise Invalid("Ukendt tema.", {"theme": "Vælg et af temaerne"})
    return slug
