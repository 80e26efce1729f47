"""`budbringer calendar import FILE | list`: the release calendar from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from service.cli.common import open_runtime


async def calendar_import(args) -> int:
    from service.audit import record
    from service.releases.calendar import CalendarProblems, import_calendar, parse_calendar

    path = Path(args.file)
    try:
        body = path.read_bytes()
    except OSError as exc:
        print(f"Error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    async with open_runtime(args) as runtime:
        try:
            forms = parse_calendar(body, runtime.settings.service.tz(), runtime.settings.calendar)
        except CalendarProblems as exc:
            print(f"Error: {path} was not imported; nothing was saved:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        async with runtime.db.transaction() as s:
            counts = await import_calendar(s, forms, runtime.clock.now())
            await record(s, actor="cli:calendar import", action="release.import", target="release_calendar",
                         detail={"file": str(path), **counts}, now=runtime.clock.now())
    print(f"{path}: {counts['added']} added, {counts['moved']} moved, {counts['updated']} updated, "
          f"{counts['unchanged']} unchanged")
    return 0


async def calendar_list(args) -> int:
    from service.releases.calendar import entries
    from service.releases.published import release_view

    async with open_runtime(args) as runtime:
        tz = runtime.settings.service.tz()
        async with runtime.db.reader() as s:
            rows = await entries(s)
    if not rows:
        print("The release calendar is empty. Import one with `budbringer calendar import FILE`.")
    for e in rows:
        v = release_view(e, tz)
        state = "late" if v.late else "seen" if v.seen else "expected"
        moved = f"  ({v.moved_label})" if v.moved_label else ""
        print(f"{e.at.astimezone(tz):%Y-%m-%d %H:%M}  {e.period}  {v.tables:14} {state:8}{moved}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("calendar", help="the release calendar (expected StatBank releases)")
    csub = p.add_subparsers(dest="calendar_command", required=True)
    imp = csub.add_parser("import", help="add or update releases from a TOML file ([[releases]] tables, period, at)")
    imp.add_argument("file")
    imp.set_defaults(func=calendar_import)
    csub.add_parser("list", help="the releases in the calendar").set_defaults(func=calendar_list)
