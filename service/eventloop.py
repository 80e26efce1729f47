"""The event loop the `budbringer` processes run on.

uvloop when it is installed (the `fast` extra, in `make setup` and the Dockerfile): on this
kind of machine it made the SMTP client 15–90 % faster (MEASURED.md). Without it, asyncio's
own loop does the same work more slowly; nothing else changes. BUDBRINGER_EVENT_LOOP=asyncio
turns uvloop off (to compare, or to rule it out when something odd happens).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any


def factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("BUDBRINGER_EVENT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def name() -> str:
    return "uvloop" if factory() else "asyncio"


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=factory()) as runner:
        return runner.run(coro)
