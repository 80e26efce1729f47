"""Jinja2 for pages: autoescaped, with the CSRF token and the static URL helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.paths import templates_dir
from service.render.formatting import Labels, date_local, datetime_local, number
from service.runtime import Runtime
from service.web.keys import JINJA, RUNTIME, STATIC_URLS


def static_dir(runtime: Runtime) -> Path:
    return templates_dir(runtime.settings.service.templates_dir) / "web" / "static"


def setup(app: web.Application, runtime: Runtime) -> None:
    env = Environment(
        loader=FileSystemLoader(templates_dir(runtime.settings.service.templates_dir) / "web"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        enable_async=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are read once per process (checking mtimes cost ~3 % of a page)
    )
    env.globals["organisation"] = runtime.settings.service.organisation
    env.globals["postal_address"] = runtime.settings.service.postal_address
    _add_filters(env, runtime)
    app[JINJA] = env
    app[STATIC_URLS] = {}


def _add_filters(env: Environment, runtime: Runtime) -> None:
    """`label` (status and kind words from templates/labels.toml), `local` (a stored UTC time
    as "1. december 2026 kl. 09.30", Danish and 24-hour whatever the browser), `day` and
    `number`. Each takes the page's language when given one; Danish otherwise."""
    labels = Labels.load(templates_dir(runtime.settings.service.templates_dir) / "labels.toml")
    tz = runtime.settings.service.tz()
    env.globals["labels"] = labels
    env.filters["label"] = lambda value, group, lang="da": labels.get(group, value, lang)
    env.filters["local"] = lambda at, lang="da", zone=False: datetime_local(at, tz, lang, zone) if at else "–"
    env.filters["day"] = lambda at, lang="da": date_local(at, tz, lang) if at else "–"
    env.filters["number"] = lambda value, decimals=0, lang="da": number(value, decimals, lang)


def _static_url(app: web.Application, path: str) -> str:
    """`/static/<path>?v=<hash of the file>`, worked out once per file and app (aiohttp
    resolves and hashes the file on every call: ~5 % of the signup page's time)."""
    urls = app[STATIC_URLS]
    url = urls.get(path)
    if url is None:
        url = urls[path] = str(app.router["static"].url_for(filename=path))
    return url


def render(
    request: web.Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Render a page. Every page gets `request`, `csrf_token`, `lang` and `static()`."""
    env = request.app[JINJA]
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_token": request.get("csrf_token", ""),
        "lang": "da",
        "static": lambda path: _static_url(request.app, path),
        "base_url": request.app[RUNTIME].settings.service.base_url,
    }
    ctx.update(context or {})
    html = env.get_template(name).render(ctx)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=headers)
