"""The send worker's renderer for campaigns (kinds press_release and newsletter): a
campaign rendered once for its many recipients.

A newsletter to 100,000 subscribers is the same mail 100,000 times but for the footer's
links and the greeting. Turning its Markdown into HTML and text, rendering the theme and
inlining its CSS took ~50 ms a mail, so they are done once per campaign, part of the
audience (press or subscribers), language and embargo state (`Template`, kept in the
mail templates' render cache), with slots where the footer's preferences and
unsubscribe links go and where the merge fields were (`service.campaigns.merge`). Per
recipient only those are filled in, from what the batch read in three queries (the
campaigns, the subscribers' names and token versions, the press contacts' names).

A campaign does not change once it is sending (`compose.EDITABLE`), and the cache key
carries a digest of its fields besides (`_version`, once per batch); a test send (whose campaign may still be edited) is
rendered alone by `render.render_one`. Both ways give the same mail, byte for byte
(tests/integration/test_campaign_mailing.py holds this one to `render_one`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import escape
from sqlalchemy import select

from service.campaigns import merge
from service.campaigns.render import (
    CampaignGone, Unfilled, as_subscriber, clean_subject, reader_of, reason, render_one, unfilled,
)
from service.db.campaigns import Campaign, PressContact
from service.db.models import Delivery
from service.render.assemble import cache_of, slot
from service.render.footer import footer
from service.render.message import Rendered
from subscribers.models import Subscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from service.runtime import Runtime

KINDS = ("press_release", "newsletter")
INFO_KEY = "budbringer_campaign_batch"
LINKS = ("preferences_url", "unsubscribe_url")
# A link slot, or a merge field (the same pattern `merge.fill` replaces).
_SPLIT = re.compile(r"BBSLOT(preferences_url|unsubscribe_url)X|" + merge.PATTERN.pattern)


class Filler:
    """A rendered text cut at its slots: literal, slot, literal, …, literal."""

    __slots__ = ("parts", "slots")

    def __init__(self, text: str):
        self.parts: list[str] = []
        self.slots: list[tuple[str, str | None]] = []  # ("link", name) or (merge field, its own fallback)
        at = 0
        for m in _SPLIT.finditer(text):
            self.parts.append(text[at:m.start()])
            self.slots.append(("link", m.group(1)) if m.group(1) else (m.group(2), m.group(3)))
            at = m.end()
        self.parts.append(text[at:])

    def fill(self, links: dict[str, str], reader: merge.Reader, vals: dict, *, escape_html: bool) -> str:
        if not self.slots:
            return self.parts[0]
        out = [self.parts[0]]
        for (what, arg), literal in zip(self.slots, self.parts[1:]):
            if what == "link":
                out.append(str(escape(links[arg])) if escape_html else links[arg])
            else:
                out.append(merge.value(vals, reader, what, arg, escape=escape_html))
            out.append(literal)
        return "".join(out)


@dataclass(frozen=True)
class Template:
    subject: Filler
    html: Filler
    text: Filler
    unsubscribe: bool  # the mail has a List-Unsubscribe link (the footer carries the subscriber's links)
    topic: str  # the topic its unsubscribe link names
    headers: dict[str, str]
    attachments: tuple


@dataclass(frozen=True)
class Reader:
    name: str
    token_version: int | None  # None: no such subscriber (any more)


@dataclass
class Batch:
    """What the deliveries of one claimed batch share: their campaigns and their readers."""

    deliveries: set[int]
    campaigns: dict[int, Campaign]
    versions: dict[int, str]  # campaign id → a digest of what its mail is made of
    subscribers: dict[int, Reader]
    press: dict[int, str]


async def render_campaign(runtime: "Runtime", session: "AsyncSession", delivery: Delivery) -> Rendered:
    params = delivery.params or {}
    if params.get("test"):
        return await render_one(runtime, session, delivery)
    cid = delivery.campaign_id or params.get("campaign_id")
    batch = await _batch(session, delivery)
    c = batch.campaigns.get(cid) if cid else None
    if c is None:
        raise CampaignGone(f"campaign {cid} of delivery {delivery.id} no longer exists")
    lang = delivery.language if delivery.language in ("da", "en") else "da"
    part = params.get("part", "test")
    name = str(params.get("name") or "")
    sub = batch.subscribers.get(delivery.subscriber_id) if delivery.subscriber_id else None
    if part == "sub" and delivery.subscriber_id:
        name = sub.name if sub else ""
    elif part == "press" and delivery.press_contact_id:
        name = batch.press.get(delivery.press_contact_id, "")
    under_embargo = bool(c.embargo_until and delivery.created_at < c.embargo_until)
    with_links = as_subscriber(c, part) and sub is not None and sub.token_version is not None
    key = ("campaign", c.id, batch.versions[c.id], part, lang, under_embargo, with_links)
    t = cache_of(runtime).data.get(key)
    if t is None:
        t = await _template(runtime, session, c, part, lang, under_embargo, with_links)
        cache_of(runtime).get(key, lambda: t)
    links = {"preferences_url": "", "unsubscribe_url": ""}
    if with_links:
        links = {"preferences_url": runtime.links.preferences(delivery.subscriber_id, sub.token_version),
                 "unsubscribe_url": runtime.links.unsubscribe(delivery.subscriber_id, sub.token_version, t.topic)}
    reader = reader_of(c, part, name, lang)
    vals = merge.values(reader)
    return Rendered(
        subject=clean_subject(t.subject.fill(links, reader, vals, escape_html=False)),
        text=t.text.fill(links, reader, vals, escape_html=False),
        html=t.html.fill(links, reader, vals, escape_html=True),
        unsubscribe_url=links["unsubscribe_url"] or None if t.unsubscribe else None,
        headers=dict(t.headers), attachments=t.attachments,
    )


async def _template(runtime: "Runtime", session: "AsyncSession", c: Campaign, part: str, lang: str,
                    under_embargo: bool, with_links: bool) -> Template:
    why, slug = await reason(runtime, session, c, part, lang, False)
    foot = footer(runtime, lang=lang, reason=why)
    if with_links:
        foot.update({name: slot(name) for name in LINKS})
    mail: Unfilled = await unfilled(runtime, session, c, lang=lang, under_embargo=under_embargo, test=False, foot=foot)
    return Template(subject=Filler(mail.subject), html=Filler(mail.html), text=Filler(mail.text),
                    unsubscribe=mail.unsubscribe_url is not None, topic=slug, headers=mail.headers,
                    attachments=mail.attachments)


def _version(c: Campaign) -> str:
    """What the cached mail depends on besides its id (an id can come again on SQLite)."""
    fields = (c.kind, c.title, c.lead, c.body_md, c.theme, c.focus, c.contact_name, c.contact_email, c.contact_phone,
              c.audience, c.embargo_until, c.corrects_id, c.status, c.started_at, c.scheduled_at, c.created_at,
              c.updated_at)
    return hashlib.sha256(repr(fields).encode()).hexdigest()


async def _batch(session: "AsyncSession", delivery: Delivery) -> Batch:
    """The campaigns and readers of every campaign delivery this session holds, read once."""
    batch: Batch | None = session.info.get(INFO_KEY)
    if batch is not None and delivery.id in batch.deliveries:
        return batch
    held = [d for d in session.sync_session.identity_map.values()
            if isinstance(d, Delivery) and d.kind in KINDS] or [delivery]
    cids = sorted({d.campaign_id or (d.params or {}).get("campaign_id") for d in held} - {None})
    sids = sorted({d.subscriber_id for d in held if d.subscriber_id is not None})
    pids = sorted({d.press_contact_id for d in held if d.press_contact_id is not None})
    campaigns = {c.id: c for c in (await session.scalars(select(Campaign).where(Campaign.id.in_(cids)))).all()}
    subscribers: dict[int, Reader] = {}
    for i in range(0, len(sids), 900):
        for r in await session.execute(select(Subscriber.id, Subscriber.name, Subscriber.token_version)
                                       .where(Subscriber.id.in_(sids[i:i + 900]))):
            subscribers[r.id] = Reader(r.name or "", r.token_version)
    press: dict[int, str] = {}
    for i in range(0, len(pids), 900):
        for r in await session.execute(select(PressContact.id, PressContact.name)
                                       .where(PressContact.id.in_(pids[i:i + 900]))):
            press[r.id] = r.name or ""
    versions = {cid: _version(c) for cid, c in campaigns.items()}
    batch = session.info[INFO_KEY] = Batch({d.id for d in held} | {delivery.id}, campaigns, versions, subscribers, press)
    return batch
