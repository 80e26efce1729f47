"""The processes of one installation: which roles each plays and when it last came round.

Every `budbringer run` process writes its own row every few seconds (`service.heartbeats`);
`budbringer status` reads them all, so an operator sees every host's processes in one place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base


class ProcessHeartbeat(Base):
    __tablename__ = "process_heartbeats"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)  # host:pid:random, one per process start
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    roles: Mapped[str] = mapped_column(String(100))  # "scheduler,web,worker"
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
    # False when one of its loops has not come round in time (the reason in `problem`).
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    problem: Mapped[str] = mapped_column(Text, default="")
