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

from service.campaigns.correction import start_correction
from service.db.campaigns import Campaign
from service.db.models import Item, ItemRevision, User
from service.delivery.outbox import enqueue, mail_domain
from service.render.formatting import month_name, number, percent, signed
from service.sources.figures_join import merged

if TYPE_CHECKING:
    from service.runtime import Runtime
    from service.settings import CampaignSettings

log = logging.getLogger(__name__)
UNSENT = ("draft", "scheduled")


def _pct_change(now: float | None, before: float | None) -> float | None:
    return None if now is None or not before else (now - before) / before * 100


def _more(diff: float, more: str, fewer: str) -> str:
    return more if diff > 0 else fewer


def _points_text(diff: float | None) -> str:
    """'0,1 procentpoint lavere' / 'uændret' (a press release's words for a change in a rate)."""
    if diff is None:
        return ""
    if round(diff, 1) == 0:
        return "uændret"
    return f"{number(abs(diff), 1)} procentpoint {_more(diff, 'højere', 'lavere')}"


def _count_cells(a: dict[str, Any]) -> str:
    pm, py = _pct_change(a.get("value"), a.get("previous")), _pct_change(a.get("value"), a.get("year_ago"))
    month = f"{signed(a.get('change_month'))} ({signed(pm, 1)} %)" if pm is not None else signed(a.get("change_month"))
    year = f"{signed(a.get('change_year'))} ({signed(py, 1)} %)" if py is not None else signed(a.get("change_year"))
    return f"{number(a.get('value'))} | {month} | {year}"


def _rate_cells(a: dict[str, Any]) -> str:
    return f"{percent(a.get('rate'))} | {signed(a.get('rate_change_month'), 1)} | {signed(a.get('rate_change_year'), 1)}"


def _title_and_lead(region: dict[str, Any] | None, name: str, month: str, prev_month: str, year_ago: str,
                    has_rate: bool) -> tuple[str, str]:
    if region is None or (region.get("rate") is None and region.get("value") is None):
        return f"Ledigheden i {name} kendes nu", f"Danmarks Statistik har offentliggjort ledighedstallene for {month}."
    if has_rate and region.get("rate") is not None:
        rate, ch_m, ch_y = region["rate"], region.get("rate_change_month"), region.get("rate_change_year")
        if ch_m is None:
            title = f"Ledigheden i {name} var {percent(rate)} i {month}"
        elif round(ch_m, 1) == 0:
            title = f"Ledigheden i {name} var uændret på {percent(rate)} i {month}"
        else:
            title = f"Ledigheden i {name} {_more(ch_m, 'steg', 'faldt')} til {percent(rate)} i {month}"
        lead = [f"Ledigheden i {name} var {percent(rate)} af arbejdsstyrken i {month}"]
        changes = []
        if ch_m is not None:
            changes.append(f"{_points_text(ch_m)} end i {prev_month}" if round(ch_m, 1) else f"uændret fra {prev_month}")
        if ch_y is not None:
            changes.append(f"{_points_text(ch_y)} end i {year_ago}" if round(ch_y, 1) else f"det samme som i {year_ago}")
        text = lead[0] + (", " + " og ".join(changes) if changes else "") + "."
        if region.get("value") is not None:
            text += f" Det svarer til {number(region['value'])} fuldtidsledige"
            if region.get("change_month") is not None and round(region["change_month"]):
                text += f", {number(abs(region['change_month']))} {_more(region['change_month'], 'flere', 'færre')}" \
                        f" end i {prev_month}"
            text += "."
        return title, text
    value, ch_m, ch_y = region.get("value"), region.get("change_month"), region.get("change_year")
    verb = "kendes nu" if ch_m is None else _more(ch_m, "steg", "faldt") if round(ch_m) else "var uændret"
    parts = [f"I {month} var der {number(value)} fuldtidsledige i {name}"]
    if ch_m is not None:
        parts.append(f"{number(abs(ch_m))} {_more(ch_m, 'flere', 'færre')} end i {prev_month}")
    if ch_y is not None:
        parts.append(f"og {number(abs(ch_y))} {_more(ch_y, 'flere', 'færre')} end i {year_ago}")
    return f"Ledigheden i {name} {verb} i {month}", ", ".join(parts[:2]) + (" " + parts[2] if len(parts) > 2 else "") + "."


def compose_draft(data: dict[str, Any], cfg: "CampaignSettings") -> dict[str, str]:
    """Title, lead, Markdown body, focus and theme for the figures in `data` (pure), in the
    words of a press release: the rate in per cent of the labour force, its changes in
    percentage points, the count beside it."""
    areas = data.get("areas") or []
    region = next((a for a in areas if a.get("code") == cfg.region_code), None) or next(
        (a for a in areas if a.get("level") == "region"), None)
    country = next((a for a in areas if a.get("level") == "country"), None)
    munis = [a for a in areas if a.get("level") == "municipality"]
    period = data.get("period", "")
    month = month_name(period)
    prev_month = month_name(data.get("previous_period", "")).split(" ")[0]
    year_ago = month_name(data.get("year_ago_period", ""))
    has_rate = any(a.get("rate") is not None for a in areas)
    has_count = any(a.get("value") is not None for a in areas)
    mm = period.split("M")[-1].zfill(2) if "M" in period else ""
    focus = cfg.theme_calendar.get(mm, "")
    theme = cfg.theme_looks.get(mm, cfg.default_theme)
    name = region["name"] if region else "regionen"
    title, lead = _title_and_lead(region, name, month, prev_month, year_ago, has_rate)

    heads = [""]
    if has_rate:
        heads += [f"Ledighed {month}", f"Siden {prev_month} (point)", f"Siden {year_ago} (point)"]
    if has_count:
        heads += [f"Fuldtidsledige {month}", f"Siden {prev_month}", f"Siden {year_ago}"]
    rows = ["| " + " | ".join(heads) + " |", "|" + "|".join(["---"] + ["---:"] * (len(heads) - 1)) + "|"]
    for a in (region, country):
        if a and (a.get("value") is not None or a.get("rate") is not None):
            cells = ([_rate_cells(a)] if has_rate else []) + ([_count_cells(a)] if has_count else [])
            rows.append(f"| {a['name']} | " + " | ".join(cells) + " |")
    body = ["## Tallene", "", *rows, ""]
    if has_rate:
        moved = sorted((a for a in munis if a.get("rate_change_month") is not None),
                       key=lambda a: (-abs(a["rate_change_month"]), -abs(_pct_change(a.get("value"), a.get("previous")) or 0)))
        movers = [f"- **{a['name']}**: {percent(a.get('rate'))}, {_points_text(a['rate_change_month'])} end i {prev_month}"
                  for a in moved[: cfg.movers]]
    else:
        moved = sorted((a for a in munis if _pct_change(a.get("value"), a.get("previous")) is not None),
                       key=lambda a: -abs(_pct_change(a.get("value"), a.get("previous"))))
        movers = [f"- **{a['name']}**: {number(a.get('value'))} ledige ({_count_cells(a).split(' | ')[1]})"
                  for a in moved[: cfg.movers]]
    if movers:
        body += [f"## Kommunerne, der bevægede sig mest fra {prev_month} til {month.split(' ')[0]}", "", *movers, ""]
    if has_rate:
        ranked = sorted((a for a in munis if a.get("rate") is not None), key=lambda a: (a["rate"], a["name"]))
        body += [f"## Ledigheden i kommunerne i {month}, laveste først", "",
                 f"| Kommune | Ledighed | Siden {prev_month} (point) | Fuldtidsledige |", "|---|---:|---:|---:|"]
        body += [f"| {a['name']} | {percent(a['rate'])} | {signed(a.get('rate_change_month'), 1)} | {number(a.get('value'))} |"
                 for a in ranked]
        body.append("")
    if focus:
        body += [f"## Månedens tema: {focus}", "", "_Skriv rådets vinkel på temaet her._", ""]
    tables = ", ".join(t for t in ((data.get("tables") or {}).get("rate"), (data.get("tables") or {}).get("count")) if t) \
        or str(data.get("table") or "")
    body.append(f"Kilde: Danmarks Statistik, {'tabellerne' if ',' in tables else 'tabel'} {tables}. "
                + ("Ledigheden er fuldtidsledige i procent af arbejdsstyrken; ændringer i procentpoint." if has_rate else
                   f"({(data.get('unit') or 'Antal').lower()})."))
    return {"title": title, "lead": lead, "body_md": "\n".join(body) + "\n", "focus": focus, "theme": theme,
            "period_label": month}


def correction_text(data: dict[str, Any], changed: dict[str, Any]) -> str:
    """The correction's paragraph: each changed area, old → new, in a press release's words."""
    names = {a.get("code"): a.get("name") for a in data.get("areas") or []}
    month = month_name(data.get("period", ""))
    lines = []
    for code, diff in changed.items():
        parts = []
        if "rate" in diff:
            parts.append(f"ledigheden {percent(diff['rate'][0])} → {percent(diff['rate'][1])}")
        if "value" in diff:
            parts.append(f"fuldtidsledige {number(diff['value'][0])} → {number(diff['value'][1])}")
        if parts:
            lines.append(f"- **{names.get(code, code)}**: " + ", ".join(parts))
    return (f"## Rettelse\n\nDanmarks Statistik har rettet tallene for {month}. Rettet i forhold til den "
            f"udsendte pressemeddelelse:\n\n" + "\n".join(lines) + "\n\n") if lines else ""


async def _correction(s, sent: Campaign, item: Item, draft: dict[str, str], now) -> Campaign | None:
    """A revision after the release went out: the correction path (service.campaigns.correction) with
    the new numbers; a correction not yet sent is updated instead of making another."""
    since = sent.sent_at or sent.started_at or sent.updated_at
    changed: dict[str, Any] = {}
    for changes in (await s.scalars(select(ItemRevision.changes).where(
            ItemRevision.item_id == item.id, ItemRevision.at >= since).order_by(ItemRevision.revision))).all():
        changed = merged(changed, (changes or {}).get("areas") or {})  # against the numbers that went out
    if not changed:
        log.info("figures item %s changed after its release %s was sent, no numbers moved", item.id, sent.id)
        return None
    c = await s.scalar(select(Campaign).where(Campaign.corrects_id == sent.id, Campaign.status.in_(UNSENT))
                       .order_by(Campaign.id.desc()))
    if c is None:
        c = await s.get(Campaign, await start_correction(s, sent.id, now=now))
    draft["title"] = f"Rettelse: {draft['title']}"
    draft["body_md"] = correction_text(item.data, changed) + draft["body_md"]
    log.info("figures item %s revised after release %s was sent: correction %s", item.id, sent.id, c.id)
    return c


async def draft_from_figures(runtime: "Runtime", item_id: int) -> int:
    """Create or update the draft for this figures item; return the campaign id (0: nothing to do)."""
    cfg = runtime.settings.campaigns
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        item = await s.get(Item, item_id)
        if item is None or item.kind != "figures" or not item.data:
            return 0
        draft = compose_draft(item.data, cfg)
        existing = await s.scalar(select(Campaign).where(Campaign.figures_item_id == item_id, Campaign.corrects_id.is_(None))
                                  .order_by(Campaign.id.desc()))
        if existing is None and item.period:  # a revision stored as a new item of the same period
            existing = await s.scalar(
                select(Campaign).join(Item, Item.id == Campaign.figures_item_id)
                .where(Item.period == item.period, Item.kind == "figures", Campaign.status.in_(UNSENT))
                .order_by(Campaign.id.desc())
            )
        revised = existing is not None
        if existing is not None and existing.status not in UNSENT:
            existing = await _correction(s, existing, item, draft, now)
            if existing is None:
                return 0
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
