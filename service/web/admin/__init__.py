"""The admin console under /admin/: each page group registers its own routes.

Every page but the login is guarded by `service.staff.auth.require_role`; every POST goes
through the CSRF middleware.
"""

from __future__ import annotations

import importlib

from aiohttp import web

PAGES = (
    "service.web.admin.login",  # /admin/login, /admin/logout, /admin/password
    "service.web.admin.dashboard",  # /admin/ (overview, retry of failed deliveries)
    "service.web.admin.topics",  # /admin/topics
    "service.web.admin.subscribers",  # /admin/subscribers (search, detail, edit, block, delete)
    "service.web.admin.people_io",  # /admin/subscribers/import, /admin/subscribers/export.csv
    "service.web.admin.sources",  # /admin/sources
    "service.web.admin.suppression",  # /admin/suppression, bounce and complaint log
    "service.web.admin.users",  # /admin/users (admins only)
    "service.web.admin.audit_log",  # /admin/audit
    "service.web.admin.campaigns",  # /admin/campaigns (press releases, newsletters)
    "service.web.admin.press",  # /admin/press (the press contact list)
)


def setup(app: web.Application) -> None:
    for name in PAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a page group not built yet
        module.setup(app)
