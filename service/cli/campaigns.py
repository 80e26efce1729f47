"""`budbringer campaign list | send-test | release | draft-from-figures | press-import | press-export`."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

from service.cli.common import cli_actor, open_runtime


async def campaign_list(args) -> int:
    from service.campaigns.report import delivery_counts
    from service.campaigns.times import format_local
    from service.db.campaigns import Campaign

    async with open_runtime(args) as runtime:
        tz = runtime.settings.service.tz()
        async with runtime.db.reader() as s:
            rows = (await s.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(args.limit))).all()
            counts = await delivery_counts(s, [c.id for c in rows])
        for c in rows:
            when = format_local(c.scheduled_at, tz) if c.scheduled_at else "-"
            sent = counts.get(c.id, {})
            print(f"{c.id:>5}  {c.kind:<13} {c.status:<10} {when:<32} sent={sent.get('sent', 0)} "
                  f"failed={sent.get('failed', 0)}  {c.title}")
    return 0


async def campaign_send_test(args) -> int:
    from service.campaigns.test_send import send_test

    from service.audit import record

    async with open_runtime(args) as runtime:
        delivery_id = await send_test(runtime, args.campaign_id, to=args.to, language=args.language)
        async with runtime.db.transaction() as s:
            await record(s, actor=cli_actor(), action="campaign.test_send", target=f"campaign:{args.campaign_id}",
                         now=runtime.clock.now(), detail={"to": args.to})
    print(f"Test queued as delivery {delivery_id}; the send worker sends it.")
    return 0


async def campaign_release(args) -> int:
    from service.campaigns.release import release_due

    async with open_runtime(args) as runtime:
        queued = await release_due(runtime)
    print(f"{queued} messages queued.")
    return 0


async def campaign_draft(args) -> int:
    from service.campaigns.drafts import draft_from_figures

    async with open_runtime(args) as runtime:
        cid = await draft_from_figures(runtime, args.item_id)
    if not cid:
        print("Not a figures item with data; nothing drafted.", file=sys.stderr)
        return 1
    print(f"Draft {cid}: {runtime.settings.service.base_url}/admin/campaigns/{cid}")
    return 0


async def press_import(args) -> int:
    from service.audit import record
    from service.campaigns.press_contacts import import_csv
    from service.errors import Invalid

    async with open_runtime(args) as runtime:
        try:
            async with runtime.db.transaction() as s:
                result = await import_csv(s, Path(args.file).read_bytes(), now=runtime.clock.now())
                await record(s, actor=cli_actor(), action="press.import", target="press_contacts", now=runtime.clock.now(),
                             detail={"file": Path(args.file).name, "added": result.added, "updated": result.updated,
                                     "rejected": len(result.errors)})
        except Invalid as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
    print(f"{result.added} added, {result.updated} updated, {len(result.errors)} rejected.")
    for line, message in result.errors:
        print(f"  line {line}: {message}", file=sys.stderr)
    return 0 if not result.errors else 1


async def press_export(args) -> int:
    from service.audit import record
    from service.campaigns.press_contacts import export_csv

    async with open_runtime(args) as runtime:
        async with runtime.db.transaction() as s:
            data = await export_csv(s)
            await record(s, actor=cli_actor(), action="press.export", target="press_contacts", now=runtime.clock.now())
    sys.stdout.buffer.write(data)
    return 0


def register(sub) -> None:
    p = sub.add_parser("campaign", help="press releases, newsletters and the press list")
    c = p.add_subparsers(dest="campaign_command", required=True)
    ls = c.add_parser("list", help="recent campaigns with status and counts")
    ls.add_argument("--limit", type=int, default=30)
    ls.set_defaults(func=campaign_list)
    t = c.add_parser("send-test", help="send a campaign to one address, marked TEST")
    t.add_argument("campaign_id", type=int)
    t.add_argument("--to", required=True)
    t.add_argument("--language", choices=("da", "en"), default="da")
    t.set_defaults(func=campaign_send_test)
    c.add_parser("release", help="release due campaigns now (the scheduler does this)").set_defaults(func=campaign_release)
    d = c.add_parser("draft-from-figures", help="write the press release draft for a figures item")
    d.add_argument("item_id", type=int)
    d.set_defaults(func=campaign_draft)
    i = c.add_parser("press-import", help="import press contacts from CSV (adds and updates)")
    i.add_argument("file")
    i.set_defaults(func=press_import)
    c.add_parser("press-export", help="write the press list as CSV to stdout").set_defaults(func=press_export)
