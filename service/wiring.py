"""The composition root: builds the process's parts from the settings, once.

This is the one module that reads the whole settings object to build things: each part
gets the section it needs (`Database(settings.database)`, `Fetcher(settings.fetch)`, the
transport from `settings.mail`, links from `settings.subscribers`). Here too the kinds of
mail are tied to their renderers, by the functions themselves (`RENDERERS`), and a
refused address to what the bounce rules do about it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.bounces.audience import suppress
from service.campaigns.mailing import render_campaign
from service.campaigns.render import render_draft_notice
from service.clock import Clock, SystemClock
from service.db.engine import Database
from service.delivery.transport import Transport, transport_from_settings
from service.render import subscriber_mails
from service.render.alert import render_alert
from service.render.digest import render_digest
from service.render.notice import render_notice
from service.render.registry import Renderer, Renderers
from service.render.templates import Templates
from service.runtime import Runtime
from service.settings import Settings
from service.sources.fetch import Fetcher
from subscribers.links import Links
from subscribers.tokens import TokenSigner

# kind -> the function that renders it. One line per message kind; the module owns its view model.
RENDERERS: dict[str, Renderer] = {
    "confirm": subscriber_mails.render_confirm,
    "manage": subscriber_mails.render_manage,
    "welcome": subscriber_mails.render_welcome,
    "email_change": subscriber_mails.render_email_change,
    "export": subscriber_mails.render_export,
    "alert": render_alert,
    "digest": render_digest,
    "press_release": render_campaign,
    "newsletter": render_campaign,
    "draft_notice": render_draft_notice,
    "notice": render_notice,
    "test": render_notice,
}


async def refused(session: AsyncSession, email: str, now: datetime, note: str) -> None:
    """An address the receiving server refused for good (5xx at RCPT): a hard bounce."""
    await suppress(session, email, reason="hard_bounce", now=now, note=note)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    fetcher: Fetcher | None = None,
) -> Runtime:
    """Wire the parts from settings. Tests pass their own clock, transport or fetcher."""
    clock = clock or SystemClock()
    signer = TokenSigner(settings.service.secret(), clock)
    return Runtime(
        settings=settings,
        db=Database(settings.database),
        clock=clock,
        transport=transport or transport_from_settings(settings.mail, pool_size=settings.delivery.concurrency),
        fetcher=fetcher or Fetcher(settings.fetch),
        templates=Templates(settings.service.templates_dir),
        links=Links(settings.service.base_url, signer, settings.subscribers),
        renderers=Renderers(RENDERERS),
        refused=refused,
    )
