"""Which renderer makes which kind of delivery.

A renderer is `async def render(ctx, session, delivery) -> Rendered`: it reads what it
needs with the (read-only) session, builds a plain view model and renders templates. The
worker calls it at send time, so a message reflects the subscriber's latest choices.

The table of kinds is written once, in the composition root (`service.wiring.RENDERERS`),
with the functions themselves: a reader follows a delivery from the worker to its
template by name. A test that needs a stand-in renderer builds its own `Renderers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from service.render.message import Rendered

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.db.models import Delivery

Renderer = Callable[[Any, "AsyncSession", "Delivery"], Awaitable[Rendered]]


class UnknownKind(LookupError):
    pass


class Renderers:
    def __init__(self, table: Mapping[str, Renderer]):
        self._table = dict(table)

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._table)

    def renderer_for(self, kind: str) -> Renderer:
        try:
            return self._table[kind]
        except KeyError:
            raise UnknownKind(f"no renderer for delivery kind {kind!r}") from None

    def with_kinds(self, extra: Mapping[str, Renderer]) -> "Renderers":
        """A copy with more (or other) kinds."""
        return Renderers({**self._table, **extra})

    async def render(self, ctx: Any, session: "AsyncSession", delivery: "Delivery") -> Rendered:
        return await self.renderer_for(delivery.kind)(ctx, session, delivery)
