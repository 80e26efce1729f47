"""Jinja2 for mail: an HTML and a plain-text template per message kind, CSS inlined.

`templates/email/<kind>.html` and `<kind>.txt` extend `layout.html` / `layout.txt`.
Templates receive plain view models (dicts, dataclasses), never ORM objects. The HTML
environment autoescapes; the text environment does not (it is not HTML).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.paths import templates_dir
from service.render.assemble import Cache
from service.render.formatting import Labels, number

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


class Templates:
    def __init__(self, override: Path | None = None):
        self.root = templates_dir(override)
        loader = FileSystemLoader([self.root / "email", self.root / "themes", self.root])
        common = dict(loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.html_env = Environment(autoescape=True, **common)
        self.text_env = Environment(autoescape=False, keep_trailing_newline=True, **common)
        for env in (self.html_env, self.text_env):
            env.filters["number"] = number
        self.labels = Labels.load(self.root / "labels.toml")  # status and kind words, da and en
        self.messages = Labels.load(self.root / "messages.toml")  # sentences, per language
        self.cache = Cache()  # parts rendered once and shared between messages (service.render.assemble)

    def render_email(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        """(html with CSS inlined, text) for `kind`."""
        html = self.html_env.get_template(f"{kind}.html").render(context)
        text = self.text_env.get_template(f"{kind}.txt").render(context)
        return _INLINER.inline(html), text

    def render_text(self, name: str, context: dict[str, Any]) -> str:
        return self.text_env.get_template(name).render(context)
