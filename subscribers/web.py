"""Public subscriber pages (issue 4 fills these in)."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Registers nothing yet."""
