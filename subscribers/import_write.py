"""CSV import of subscribers, the writing: `write_rows(db, prepared, options) -> Written`.

The rows are saved `CHUNK` at a time, each chunk in a transaction of its own and with one
INSERT per table (not one per row): a 50,000-row import held SQLite's write lock past the
30 s busy timeout in one transaction, so a visitor's signup, the send worker and the
campaign release failed with "database is locked" meanwhile. Between chunks every other
writer gets its turn. An address someone signed up with since the file was checked is
skipped ("er allerede abonnent"), not a failure: the INSERT ignores it on the unique key.

`on_chunk(session, written)` is called inside each chunk's transaction (the web page's
progress row is updated with the rows themselves, never ahead of them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import insert

from service.db.dialect import insert_ignoring
from service.db.engine import Database
from subscribers.importer import ImportOptions, Prepared, Row, Skipped
from subscribers.models import Consent, Subscriber, subscriber_municipalities, subscriber_topics

CHUNK = 500  # rows per transaction (~40 ms of the writer's time on SQLite)


@dataclass
class Written:
    done: int = 0  # rows handled so far
    added: int = 0
    skipped: list[Skipped] = field(default_factory=list)  # taken by someone else meanwhile


async def write_rows(db: Database, prepared: Prepared, opts: ImportOptions,
                     on_chunk: Callable[[object, Written], Awaitable[None]] | None = None) -> Written:
    written = Written()
    rows = prepared.rows
    held = 0.0  # how long the last chunk held the write lock
    for start in range(0, len(rows), CHUNK):
        if start and db.is_sqlite:
            # SQLite has one writer at a time, and a writer waiting for the lock retries on
            # its own timer (up to every 100 ms): leave the lock free as long as the import
            # held it, so the signups, the worker and the scheduler get their half.
            await asyncio.sleep(held)
        began = time.monotonic()
        chunk = rows[start:start + CHUNK]
        async with db.transaction() as s:
            added = await _save(s, chunk, opts, prepared.source)
            written.done += len(chunk)
            written.added += len(added)
            written.skipped += [Skipped(r.line, r.email, "er allerede abonnent") for r in chunk if r.email not in added]
            if on_chunk is not None:
                await on_chunk(s, written)
        held = min(time.monotonic() - began, 0.2)
    return written


async def _save(s, chunk: list[Row], opts: ImportOptions, source: str) -> dict[str, int]:
    """Insert one chunk; email -> new id of the rows that were added."""
    now = opts.now
    people = [{"email": r.email, "name": r.values["name"], "organisation": r.values["organisation"],
               "language": r.values["language"], "frequency": r.values["frequency"],
               "audience_id": r.values["audience_id"], "status": "active", "created_at": now, "confirmed_at": now,
               "soft_bounces": 0} for r in chunk]
    result = await s.execute(insert_ignoring(s, Subscriber, ["email"]).returning(Subscriber.id, Subscriber.email),
                             people)
    ids = {email: sub_id for sub_id, email in result.all()}
    topics, places, consents = [], [], []
    for r in chunk:
        sub_id = ids.get(r.email)
        if sub_id is None:
            continue
        topics += [{"subscriber_id": sub_id, "topic_id": t} for t in r.values["topic_ids"]]
        places += [{"subscriber_id": sub_id, "municipality_code": c} for c in r.values["codes"]]
        consents.append({"subscriber_id": sub_id, "action": "import", "consent_version": opts.consent_version,
                         "source": f"import:{source}"[:200], "at": now,
                         "detail": {"file": opts.filename[:200], "line": r.line, "by": opts.by}})
    if topics:
        await s.execute(insert(subscriber_topics), topics)
    if places:
        await s.execute(insert(subscriber_municipalities), places)
    if consents:
        await s.execute(insert(Consent), consents)
    return ids
