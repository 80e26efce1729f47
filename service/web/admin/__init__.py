"""The admin console under /admin/: each page group registers its own routes (and its
navigation link, `service.web.admin.nav`).

Every page but the login is guarded by `service.staff.auth.require_role`; every POST goes
through the CSRF middleware. Flash messages come from a fixed table (`flash`).
"""

from __future__ import annotations

from aiohttp import web

from service.web.admin import (
    audit_log,
    calendar,
    campaign_send,
    campaigns,
    dashboard,
    flash,
    login,
    nav,
    people_io,
    press,
    sources,
    subscribers,
    suppression,
    topics,
    users,
)
from service.web.keys import JINJA

PAGES = (
    login,  # /admin/login, /admin/logout, /admin/password
    dashboard,  # /admin/ (overview, retry of failed deliveries)
    campaigns,  # /admin/campaigns (press releases, newsletters): the editor
    campaign_send,  # /admin/campaigns/…: preview, test, schedule, cancel
    press,  # /admin/press (the press contact list and its segments)
    calendar,  # /admin/calendar (expected StatBank releases)
    subscribers,  # /admin/subscribers (search, detail, edit, block, delete)
    people_io,  # /admin/subscribers/import, /admin/subscribers/export.csv
    topics,  # /admin/topics
    sources,  # /admin/sources
    suppression,  # /admin/suppression, bounce and complaint log
    users,  # /admin/users (admins only)
    audit_log,  # /admin/audit
)


def setup(app: web.Application) -> None:
    env = app[JINJA]
    env.globals["flash_for"] = lambda request: flash.message(request.query)
    env.globals["admin_nav"] = lambda request: nav.links_for(request.app, getattr(request.get("user"), "role", None))
    for module in PAGES:
        module.setup(app)
