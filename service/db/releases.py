"""Tables for StatBank releases: the part of a release each table brought
(`FiguresPart`, joined into one figures item per period), and the calendar of expected
releases (`ReleaseEntry`) that the polling schedule, the late-release check, the public
page and `/kalender.ics` read.

See docs/figures.md (the join) and docs/statbank.md (the calendar).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base


class FiguresPart(Base):
    """One table's numbers for one period, as the last poll of its source read them.

    Parts of the same group (the sources' shared topic) and period make one figures item:
    the count table's and the rate table's, whichever came first.
    """

    __tablename__ = "figures_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(64), index=True)
    table_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(16))
    measure: Mapped[str] = mapped_column(String(8))  # count, rate
    unit: Mapped[str] = mapped_column(String(32), default="")
    updated: Mapped[str] = mapped_column(String(64), default="")  # StatBank's `updated` (local time)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"text", "areas": [...]}
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    first_seen_at: Mapped[datetime]
    changed_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("source_id", "period"),)


class ReleaseEntry(Base):
    """One expected release: these tables, this period, at this local moment."""

    __tablename__ = "release_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(16), index=True)
    tables: Mapped[list[Any]] = mapped_column(default=list)  # ["AUL01", "AUP01"]
    at: Mapped[datetime] = mapped_column(index=True)  # expected moment (UTC)
    moved_from: Mapped[datetime | None]  # the moment first announced, when it was moved
    moves: Mapped[int] = mapped_column(Integer, default=0)  # how often it was moved (iCalendar SEQUENCE)
    follow_up: Mapped[str] = mapped_column(Text, default="")  # "Beskæftigelsesrådets kommentar"
    follow_up_at: Mapped[datetime | None]
    seen_at: Mapped[datetime | None]  # every table of the release was seen
    late_at: Mapped[datetime | None]  # flagged late (and the press officers told)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
