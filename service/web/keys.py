"""Typed keys for what the web app carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from jinja2 import Environment

if TYPE_CHECKING:
    from service.runtime import Runtime

RUNTIME: web.AppKey["Runtime"] = web.AppKey("runtime")
JINJA: web.AppKey[Environment] = web.AppKey("jinja", Environment)
# Versioned static URLs worked out so far (path → URL), filled as pages ask for them.
STATIC_URLS: web.AppKey[dict[str, str]] = web.AppKey("static_urls", dict)
