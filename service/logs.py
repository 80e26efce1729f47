"""Logging: plain lines for a terminal, one JSON object per line for a log collector.

Every record carries the id of what it is about when there is one: `request_id` (set by
the web middleware, echoed in the `X-Request-Id` response header) and `delivery_id` (set
by the send worker around each message). They live in context variables, so concurrent
requests and sends never mix them up.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import datetime, timezone

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
delivery_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("delivery_id", default=None)

_CONTEXT = {"request_id": request_id, "delivery_id": delivery_id}


class ContextFilter(logging.Filter):
    """Copies the context ids onto each record (as attributes, None when unset)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{n}={getattr(record, n)}" for n in _CONTEXT if getattr(record, n, None) is not None)
        return f"{line} [{ids}]" if ids else line


# Libraries whose INFO lines are about themselves, not the service: APScheduler says so
# for every run of every job (83 lines in 3 minutes of the demo), aiohttp logs each
# request, Alembic each look at the schema (every /healthz). At WARNING unless --verbose.
CHATTY = ("apscheduler", "aiohttp.access", "alembic")


def configure(*, verbose: bool = False, fmt: str = "text", force: bool = False) -> logging.Handler | None:
    """Install our handler on the root logger, like `logging.basicConfig`: when something
    else already set logging up (a test runner, an embedding program), leave it alone
    unless `force`. Returns the handler installed, if any."""
    root = logging.getLogger()
    if not force and any(not getattr(h, "budbringer", False) for h in root.handlers):
        return None
    handler = logging.StreamHandler()
    handler.budbringer = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "budbringer", False)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)  # a line per statement at DEBUG
    return handler
