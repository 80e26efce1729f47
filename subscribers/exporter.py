"""CSV export of subscribers that spreadsheet programs open safely.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
formula by Excel or LibreOffice ("CSV injection"); such cells get a leading apostrophe.
Semicolon-separated with a BOM, so Danish Excel opens it with the letters right.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from subscribers.directory import Search, search_ids
from service.db.reference import Audience, Topic
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

COLUMNS = ("email", "name", "organisation", "status", "language", "frequency", "audience", "topics", "municipalities",
           "created_at", "confirmed_at")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 500


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r\n", " ").replace("\n", " ")
    return "'" + text if text.startswith(DANGEROUS) else text


async def export_csv(s: AsyncSession, f: Search | None = None) -> bytes:
    ids = await search_ids(s, f or Search())
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(COLUMNS)
    auds = dict((await s.execute(select(Audience.id, Audience.slug))).all())
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        subs = (await s.scalars(select(Subscriber).where(Subscriber.id.in_(part)).order_by(Subscriber.email))).all()
        topics: dict[int, list[str]] = {}
        for sid, slug in (await s.execute(select(subscriber_topics.c.subscriber_id, Topic.slug)
                                          .join(Topic, Topic.id == subscriber_topics.c.topic_id)
                                          .where(subscriber_topics.c.subscriber_id.in_(part)))).all():
            topics.setdefault(sid, []).append(slug)
        munis: dict[int, list[str]] = {}
        for sid, code in (await s.execute(select(subscriber_municipalities.c.subscriber_id,
                                                 subscriber_municipalities.c.municipality_code)
                                          .where(subscriber_municipalities.c.subscriber_id.in_(part)))).all():
            munis.setdefault(sid, []).append(code)
        for sub in subs:
            w.writerow([safe_cell(v) for v in (
                sub.email, sub.name, sub.organisation, sub.status, sub.language, sub.frequency,
                auds.get(sub.audience_id, "") if sub.audience_id else "", "|".join(sorted(topics.get(sub.id, []))),
                "|".join(sorted(munis.get(sub.id, []))), sub.created_at.isoformat() if sub.created_at else "",
                sub.confirmed_at.isoformat() if sub.confirmed_at else "")])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
