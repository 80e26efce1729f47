"""The process's dependencies, typed: what the use cases may be handed.

`Runtime` is built in one place, `service.wiring.build_runtime`, the composition root
that reads the whole settings object. Render and delivery do not take a `Runtime`: they
declare the few parts they use (`service.render.context.RenderContext`,
`service.delivery.worker.WorkerDeps`), and a `Runtime` happens to have them.

What used to sit in a free-form `state` dict is typed here: how alive this process's
background loops are (`liveness`). The render cache belongs to the mail templates
(`templates.cache`), the signup form's cache to the web app (`service.web.public.pages`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from service.clock import Clock
from service.db.engine import Database
from service.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.delivery.transport import Transport
    from service.render.registry import Renderers
    from service.render.templates import Templates
    from service.sources.fetch import Fetcher
    from subscribers.links import Links

# What a refused address (5xx at RCPT) does to the audience, in the send's own transaction.
Refusal = Callable[["AsyncSession", str, datetime, str], Awaitable[None]]


@dataclass
class Heartbeat:
    """When a background loop last came round (monotonic seconds; None: not yet)."""

    seen: float | None = None

    def beat(self) -> None:
        self.seen = time.monotonic()


@dataclass
class Liveness:
    """The background roles this process runs and their heartbeats, for /healthz."""

    roles: frozenset[str] = frozenset()
    started: float = field(default_factory=time.monotonic)
    worker: Heartbeat = field(default_factory=Heartbeat)
    scheduler: Heartbeat = field(default_factory=Heartbeat)

    def start(self, roles: set[str]) -> None:
        self.roles, self.started = frozenset(roles), time.monotonic()


class Nudges:
    """Within one process: "look now" from the part that just wrote to the part that would
    otherwise find it at its next poll (a campaign scheduled → the scheduler's release timer;
    messages queued → the send worker). Other processes still find it by polling."""

    def __init__(self) -> None:
        self.outbox_changed = asyncio.Event()
        self.campaigns_changed = asyncio.Event()

    def outbox(self) -> None:
        self.outbox_changed.set()

    def campaigns(self) -> None:
        self.campaigns_changed.set()


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    transport: "Transport"
    fetcher: "Fetcher"
    templates: "Templates"
    links: "Links"
    renderers: "Renderers"
    refused: Refusal
    liveness: Liveness = field(default_factory=Liveness)
    nudges: Nudges = field(default_factory=Nudges)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.transport.close()
        await self.db.dispose()
