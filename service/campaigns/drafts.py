"""The draft that writes itself: new figures → a press release draft, and a mail to the
press officers with a link to edit it. A revision of the same figures updates a draft that
has not been sent (and tells the officers again).

Call `draft_from_figures(runtime, item_id)` after a figures item (kind "figures", data as
in docs/figures.md) is stored or revised.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from service.campaigns.times import month_name
from service.db.models import Campaign, Item, User
from service.delivery.outbox import enqueue, mail_domain

if TYPE_CHECKING:
    from service.runtime import Runtime
    from service.settings import CampaignSettings

log = logging.getLogger(__name__)
UNSENT = ("draft", "scheduled")


def _num(value: float, decimals: int = 0) -> str:
    text = f"{abs(value):,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return ("−" if value < 0 else "") + text


def _signed(value: float, decimals: int = 0) -> str:
    return ("+" if value > 0 else "") + _num(value, decimals) if value else "0"


def _change(now: float | None, before: float | None) -> tuple[float, float] | None:
    if now is None or before is None:
        return None
    diff = now - before
    return diff, (diff / before * 100 if before else 0.0)


def _change_text(ch: tuple[float, float] | None) -> str:
    if ch is None:
        return "–"
    return f"{_signed(ch[0])} ({_signed(ch[1], 1)} %)"


def compose_draft(data: dict[str, Any], cfg: "CampaignSettings") -> dict[str, str]:
    """Title, lead, Markdown body, focus and theme for the figures in `data` (pure)."""
    areas = data.get("areas") or []
    region = next((a for a in areas if a.get("code") == cfg.region_code), None) or next(
        (a for a in areas if a.get("level") == "region"), None)
    country = next((a for a in areas if a.get("level") == "country"), None)
    period = data.get("period", "")
    month = month_name(period)
    prev_month = month_name(data.get("previous_period", "")).split(" ")[0]
    year_ago = month_name(data.get("year_ago_period", ""))
    unit = (data.get("unit") or "Antal").lower()
    mm = period.split("M")[-1].zfill(2) if "M" in period else ""
    focus = cfg.theme_calendar.get(mm, "")
    theme = cfg.theme_looks.get(mm, cfg.default_theme)
    name = region["name"] if region else "regionen"
    value = region.get("value") if region else None
    ch_m = _change(value, region.get("previous")) if region else None
    ch_y = _change(value, region.get("year_ago")) if region else None
    if ch_m is None or value is None:
        verb = "kendes nu"
    else:
        verb = "faldt" if ch_m[0] < 0 else "steg" if ch_m[0] > 0 else "var uændret"
    title = f"Ledigheden i {name} {verb} i {month}"
    if value is None:
        lead = f"Danmarks Statistik har offentliggjort ledighedstallene for {month}."
    else:
        parts = [f"I {month} var der {_num(value)} fuldtidsledige i {name}"]
        if ch_m:
            parts.append(f"{_num(abs(ch_m[0]))} {'færre' if ch_m[0] < 0 else 'flere'} end i {prev_month}")
        if ch_y:
            parts.append(f"og {_num(abs(ch_y[0]))} {'færre' if ch_y[0] < 0 else 'flere'} end i {year_ago}")
        lead = ", ".join(parts[:2]) + (" " + parts[2] if len(parts) > 2 else "") + "."
    rows = [f"| | {month} | Siden {prev_month} | Siden {year_ago} |", "|---|---:|---:|---:|"]
    for a in (region, country):
        if a and a.get("value") is not None:
            rows.append(f"| {a['name']} | {_num(a['value'])} | {_change_text(_change(a['value'], a.get('previous')))}"
                        f" | {_change_text(_change(a['value'], a.get('year_ago')))} |")
    movers = sorted(
        ((a, _change(a.get("value"), a.get("previous"))) for a in areas if a.get("level") == "municipality"),
        key=lambda pair: abs(pair[1][1]) if pair[1] else -1, reverse=True,
    )
    movers = [(a, ch) for a, ch in movers if ch is not None][: cfg.movers]
    body = ["## Tallene", "", *rows, ""]
    if movers:
        body += [f"## Kommunerne, der bevægede sig mest fra {prev_month} til {month.split(' ')[0]}", ""]
        body += [f"- **{a['name']}**: {_num(a['value'])} ledige ({_change_text(ch)})" for a, ch in movers]
        body.append("")
    if focus:
        body += [f"## Månedens tema: {focus}", "", "_Skriv rådets vinkel på temaet her._", ""]
    body.append(f"Kilde: Danmarks Statistik, tabel {data.get('table', '')} ({unit}).")
    return {"title": title, "lead": lead, "body_md": "\n".join(body) + "\n", "focus": focus, "theme": theme,
            "period_label": month}


async def draft_from_figures(runtime: "Runtime", item_id: int) -> int:
    """Create or update the draft for this figures item; return the campaign id (0: nothing to do)."""
    cfg = runtime.settings.campaigns
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = await s.get(Item, item_id)
        if item is None or item.kind != "figures" or not item.data:
            return 0
        draft = compose_draft(item.data, cfg)
        existing = await s.scalar(select(Campaign).where(Campaign.figures_item_id == item_id).order_by(Campaign.id.desc()))
        if existing is None and item.period:  # a revision stored as a new item of the same period
            existing = await s.scalar(
                select(Campaign).join(Item, Item.id == Campaign.figures_item_id)
                .where(Item.period == item.period, Item.kind == "figures", Campaign.status.in_(UNSENT))
                .order_by(Campaign.id.desc())
            )
        revised = existing is not None
        if existing is not None and existing.status not in UNSENT:
            log.info("figures item %s revised after its release %s was sent; not changed", item_id, existing.id)
            return existing.id
        c = existing or Campaign(kind="press_release", status="draft", created_at=now,
                                 contact_name=cfg.contact_name, contact_email=cfg.contact_email,
                                 contact_phone=cfg.contact_phone, audience={"press": {}, "topics": []})
        c.title, c.lead, c.body_md = draft["title"], draft["lead"], draft["body_md"]
        c.focus, c.theme, c.figures_item_id, c.updated_at = draft["focus"], draft["theme"], item_id, now
        if existing is None:
            s.add(c)
        await s.flush()
        officers = (await s.execute(select(User.id, User.email).where(User.role == "press", User.active.is_(True)))).all()
        domain = mail_domain(runtime.settings.mail.from_address)
        for u in officers:
            await enqueue(
                s, key=f"draft_notice:{c.id}:{item_id}:{item.revision}:{u.id}", kind="draft_notice",
                recipient=u.email, now=now, domain=domain,
                params={"campaign_id": c.id, "revised": revised, "period_label": draft["period_label"]},
            )
        log.info("figures item %s: draft %s %s", item_id, c.id, "updated" if revised else "created")
        return c.id
