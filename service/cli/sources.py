"""`budbringer source list | poll SLUG | test SLUG` and `budbringer api-token add NAME`."""

from __future__ import annotations

import sys

from service.cli.common import open_runtime


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


async def source_list(args) -> int:
    from sqlalchemy import select

    from service.db.models import Source
    from service.sources.registry import sync_configured_sources

    async with open_runtime(args) as runtime:
        await sync_configured_sources(runtime)
        async with runtime.db.reader() as s:
            sources = (await s.scalars(select(Source).order_by(Source.slug))).all()
    if not sources:
        print("No sources. Add [[sources]] to the config file or make one in the admin.")
        return 0
    for src in sources:
        state = "on" if src.enabled else "off"
        print(f"{src.slug:24} {src.kind:9} {state:4} last ok {_when(src.last_success_at):21} next {_when(src.next_poll_at)}")
        print(f"    {src.url or '-'}")
        if src.disabled_reason:
            print(f"    disabled: {src.disabled_reason}")
        if src.last_error:
            print(f"    last error ({src.consecutive_failures} in a row, {_when(src.last_error_at)}): {src.last_error}")
    return 0


async def _source_id(runtime, slug: str) -> int | None:
    from sqlalchemy import select

    from service.db.models import Source

    async with runtime.db.reader() as s:
        return await s.scalar(select(Source.id).where(Source.slug == slug))


async def source_poll(args) -> int:
    from service.sources.poll import poll_source
    from service.sources.registry import sync_configured_sources

    async with open_runtime(args) as runtime:
        await sync_configured_sources(runtime)
        source_id = await _source_id(runtime, args.slug)
        if source_id is None:
            print(f"Error: no source called {args.slug!r} (see `budbringer source list`)", file=sys.stderr)
            return 2
        report = await poll_source(runtime, source_id)
    print(f"{args.slug}: {report.summary()}")
    return 1 if report.error else 0


async def source_test(args) -> int:
    from service.sources.fetch import FetchError
    from service.sources.parse import FeedRejected
    from service.sources.preview import test_fetch
    from service.sources.statbank import StatbankError

    async with open_runtime(args) as runtime:
        source_id = await _source_id(runtime, args.slug)
        if source_id is None:
            print(f"Error: no source called {args.slug!r}", file=sys.stderr)
            return 2
        try:
            previews = await test_fetch(runtime, source_id)
        except (FetchError, FeedRejected, StatbankError, ValueError) as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
    for p in previews:
        print(f"[{p.status}] {p.title}")
        print(f"    topics: {', '.join(p.topics) or '-'}; municipalities: {', '.join(p.municipalities) or '-'}")
    print(f"{len(previews)} entries; nothing was saved.")
    return 0


async def api_token_add(args) -> int:
    from service.sources.tokens import create_token

    async with open_runtime(args) as runtime:
        token_id, token = await create_token(runtime, args.name)
    print(f"API token #{token_id} for {args.name!r}. Shown only now; only its hash is kept:")
    print(token)
    return 0


def register(sub) -> None:
    p = sub.add_parser("source", help="feeds and StatBank sources")
    ssub = p.add_subparsers(dest="source_command", required=True)
    ssub.add_parser("list", help="sources and their health").set_defaults(func=source_list)
    poll = ssub.add_parser("poll", help="poll one source now")
    poll.add_argument("slug")
    poll.set_defaults(func=source_poll)
    test = ssub.add_parser("test", help="show what a fetch would make, saving nothing")
    test.add_argument("slug")
    test.set_defaults(func=source_test)

    p = sub.add_parser("api-token", help="tokens for systems that push items")
    tsub = p.add_subparsers(dest="token_command", required=True)
    add = tsub.add_parser("add", help="make a token (printed once)")
    add.add_argument("name")
    add.set_defaults(func=api_token_add)
