"""Saved segments of the press list: a name for a filter (media types, regions, beats) that a
press officer sets once on the press list and picks when a release goes out. A release sent
to a segment goes to the contacts that match it when the release leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.compose import MEDIA_TYPES
from service.db.campaigns import PressSegment
from service.errors import Invalid, NotFound


@dataclass(frozen=True)
class SegmentView:
    id: int
    name: str
    media_types: list[str]
    regions: list[str]
    beats: list[str]

    @property
    def query(self) -> str:
        from urllib.parse import urlencode

        pairs = [("media_type", m) for m in self.media_types] + [("region", r) for r in self.regions]
        pairs += [("beat", ", ".join(self.beats))] if self.beats else []
        return urlencode(pairs)


def _view(row: PressSegment) -> SegmentView:
    f = row.filter or {}
    return SegmentView(row.id, row.name, list(f.get("media_types") or []), list(f.get("regions") or []),
                       list(f.get("beats") or []))


async def list_segments(session: AsyncSession) -> list[SegmentView]:
    return [_view(r) for r in (await session.scalars(select(PressSegment).order_by(PressSegment.name))).all()]


async def get_segment(session: AsyncSession, segment_id: int) -> SegmentView:
    row = await session.get(PressSegment, segment_id)
    if row is None:
        raise NotFound("Segmentet findes ikke.")
    return _view(row)


async def save_segment(session: AsyncSession, name: str, *, media_types: list[str], regions: list[str],
                       beats: list[str], by: str, now: datetime) -> tuple[int, bool]:
    """Save the filter under `name` (a segment of that name gets the new filter). (id, created)."""
    name = " ".join(name.split())[:100]
    if not name:
        raise Invalid("Giv segmentet et navn.", {"segment_name": "Skriv et navn"})
    bad = [m for m in media_types if m not in MEDIA_TYPES]
    if bad:
        raise Invalid("Ukendt medietype.", {"segment_name": "Ukendt medietype: " + ", ".join(bad)})
    if not (media_types or regions or beats):
        raise Invalid("Vælg mindst én medietype, region eller ét stofområde, før du gemmer filteret som segment.",
                      {"segment_name": "Filteret er tomt"})
    flt = {"media_types": sorted(set(media_types)), "regions": sorted(set(regions)), "beats": sorted(set(beats))}
    row = await session.scalar(select(PressSegment).where(PressSegment.name == name))
    if row is None:
        row = PressSegment(name=name, filter=flt, created_by=by[:320], created_at=now, updated_at=now)
        session.add(row)
        await session.flush()
        return row.id, True
    row.filter, row.updated_at = flt, now
    return row.id, False


async def delete_segment(session: AsyncSession, segment_id: int) -> str:
    row = await session.get(PressSegment, segment_id)
    if row is None:
        raise NotFound("Segmentet findes ikke.")
    name = row.name
    await session.delete(row)
    return name
