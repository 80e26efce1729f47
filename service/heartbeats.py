"""Heartbeats: each `budbringer run` process says, in the database, that it is alive.

A process writes its own row every `INTERVAL` seconds with its roles and whether its loops
came round in time; on a clean stop it writes when it stopped. `budbringer status` shows
every process of the installation from these rows, and `status --check-host` (a
container's health check) looks only at the processes of its own host. Rows of processes
gone for `KEEP` are deleted when a process starts.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.engine import Database
from service.db.heartbeats import ProcessHeartbeat

INTERVAL = 15  # seconds between beats
STALE = timedelta(seconds=60)  # not seen for this long: the process is gone (killed, host down)
KEEP = timedelta(days=7)


@dataclass(frozen=True)
class ProcessSeen:
    id: str
    host: str
    pid: int
    roles: tuple[str, ...]
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    healthy: bool
    problem: str

    def state(self, now: datetime) -> str:
        """running, unhealthy, stopped (cleanly) or gone (not seen for STALE)."""
        if self.stopped_at is not None:
            return "stopped"
        if now - self.seen_at > STALE:
            return "gone"
        return "running" if self.healthy else "unhealthy"


@dataclass
class Identity:
    """This process, as its row names it."""

    host: str
    pid: int
    id: str

    @classmethod
    def here(cls) -> "Identity":
        host, pid = socket.gethostname(), os.getpid()
        return cls(host, pid, f"{host}:{pid}:{secrets.token_hex(4)}")


async def beat(db: Database, me: Identity, *, roles: set[str], started_at: datetime, now: datetime,
               problem: str = "") -> None:
    """Write this process's row (made on its first beat)."""
    values = {"roles": ",".join(sorted(roles)), "seen_at": now, "healthy": not problem, "problem": problem,
              "stopped_at": None}
    async with db.transaction() as s:
        done = await s.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.id == me.id).values(**values))
        if not done.rowcount:
            s.add(ProcessHeartbeat(id=me.id, host=me.host, pid=me.pid, started_at=started_at, **values))
            await s.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.seen_at < now - KEEP))


async def stopped(db: Database, me: Identity, now: datetime) -> None:
    async with db.transaction() as s:
        await s.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.id == me.id)
                        .values(stopped_at=now, seen_at=now))


async def processes(s: AsyncSession, *, host: str | None = None) -> list[ProcessSeen]:
    """Every process seen within KEEP (or those of one host), the latest seen first."""
    query = select(ProcessHeartbeat).order_by(ProcessHeartbeat.seen_at.desc())
    if host is not None:
        query = query.where(ProcessHeartbeat.host == host)
    return [ProcessSeen(r.id, r.host, r.pid, tuple(filter(None, r.roles.split(","))), r.started_at, r.seen_at,
                        r.stopped_at, r.healthy, r.problem)
            for r in (await s.scalars(query)).all()]
