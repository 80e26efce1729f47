"""The console's navigation: one entry per page group, with the roles that may use it.

A page group adds its link with `add(app, NavLink(...))` in its own `setup`, so a new page
needs no edit here or in the layout; the layout shows the links the signed-in role may use,
in `order`."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

ALL = ("admin", "editor", "press")


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str
    roles: tuple[str, ...] = ALL
    order: int = 50


NAV: web.AppKey[list[NavLink]] = web.AppKey("admin_nav", list)


def add(app: web.Application, link: NavLink) -> None:
    links = app.setdefault(NAV, [])
    links.append(link)
    links.sort(key=lambda x: (x.order, x.label))


def links_for(app: web.Application, role: str | None) -> list[NavLink]:
    return [link for link in app.get(NAV, []) if role in link.roles]
