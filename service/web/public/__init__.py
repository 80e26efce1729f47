"""Routes under construction; see the issue that owns this part."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers nothing yet."""
