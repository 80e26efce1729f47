"""`budbringer digest run --frequency daily|weekly [--period KEY] [--subscriber ID]` and
`budbringer match`.

- digest run: queue the digests of a period now (default: the period containing now, in
  local time). A period that already ran queues nothing; `--subscriber` runs one
  subscriber's digest now (its own run key, so the period's run still reaches the rest).
- match: match new items to subscribers now (the scheduler does it every few seconds).
"""

from __future__ import annotations

from service.cli.common import open_runtime


async def digest_run(args) -> int:
    from service.digests.periods import current_period
    from service.digests.run import run_digest

    async with open_runtime(args) as runtime:
        period = args.period or current_period(args.frequency, runtime.clock.now(), runtime.settings.service.tz())
        queued = await run_digest(runtime, args.frequency, period, args.subscriber)
    who = f" for subscriber {args.subscriber}" if args.subscriber else ""
    if queued:
        print(f"{args.frequency} digest {period}{who}: {queued} queued (the send worker sends them)")
    else:
        print(f"{args.frequency} digest {period}{who}: nothing queued (no pending entries, or this period already ran)")
    return 0


async def match(args) -> int:
    from service.matching.match import match_pending_items
    from service.scheduler import figures_drafts

    async with open_runtime(args) as runtime:
        done = await match_pending_items(runtime)
        await figures_drafts(runtime)  # the scheduler's step after matching: press drafts from figures
    print(f"matched {done} items")
    return 0


def register(sub) -> None:
    p = sub.add_parser("digest", help="daily and weekly digests")
    dsub = p.add_subparsers(dest="digest_command", required=True)
    run = dsub.add_parser("run", help="queue a digest now")
    run.add_argument("--frequency", choices=("daily", "weekly"), required=True)
    run.add_argument("--period", default=None, help='period key, e.g. "2026-11-23" or "2026-W48" (default: now)')
    run.add_argument("--subscriber", type=int, default=None, help="only this subscriber (id)")
    run.set_defaults(func=digest_run)

    p = sub.add_parser("match", help="match new items to subscribers now")
    p.set_defaults(func=match)
