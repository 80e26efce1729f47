"""The composition root: the one place that reads the whole settings object.

`Runtime` carries the shared parts (database, clock, transport, HTTP fetcher, template
environment, link signer). Every component receives the runtime or only the section it
needs; nothing imports a global settings object or engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.clock import Clock, SystemClock
from service.db.engine import Database
from service.settings import Settings

if TYPE_CHECKING:
    from service.delivery.transport import Transport
    from service.render.templates import Templates
    from service.sources.fetch import Fetcher
    from subscribers.links import Links


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    transport: "Transport"
    fetcher: "Fetcher"
    templates: "Templates"
    links: "Links"
    # Free-form per-process state (e.g. the worker's name); never shared between processes.
    state: dict = field(default_factory=dict)

    async def close(self) -> None:
        await self.fetcher.close()
        await self.transport.close()
        await self.db.dispose()


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: "Transport | None" = None,
    fetcher: "Fetcher | None" = None,
) -> Runtime:
    """Wire the parts from settings. Tests pass their own clock, transport or fetcher."""
    from service.delivery.transport import transport_from_settings
    from service.render.templates import Templates
    from service.sources.fetch import Fetcher
    from subscribers.links import Links
    from subscribers.tokens import TokenSigner

    clock = clock or SystemClock()
    signer = TokenSigner(settings.service.secret(), clock)
    return Runtime(
        settings=settings,
        db=Database(settings.database),
        clock=clock,
        transport=transport or transport_from_settings(settings.mail),
        fetcher=fetcher or Fetcher(settings.fetch),
        templates=Templates(settings.service.templates_dir),
        links=Links(settings.service.base_url, signer, settings.subscribers),
    )
