"""`budbringer subscribers import FILE --consent-source TEXT [--dry-run]` and
`budbringer subscribers export [-o FILE] [--status ...] [--topic ...] [--municipality ...]`."""

from __future__ import annotations

import sys
from pathlib import Path

from service.cli.common import cli_actor, open_runtime
from service.errors import DomainError


async def subscribers_import(args) -> int:
    from service.audit import record
    from subscribers.import_write import write_rows
    from subscribers.importer import ImportOptions, prepare

    data = Path(args.file).read_bytes()
    mapping = dict(m.split("=", 1) for m in args.map if "=" in m)
    async with open_runtime(args) as runtime:
        opts = ImportOptions(consent_source=args.consent_source, consent_version=runtime.settings.subscribers.consent_version,
                             now=runtime.clock.now(), by="cli", mapping=mapping, default_topics=args.topic,
                             dry_run=args.dry_run, filename=Path(args.file).name)
        try:
            prepared = await prepare(runtime.db, data, opts)
        except DomainError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 2
        report = prepared.report
        if not args.dry_run:
            async def progress(s, written) -> None:
                print(f"  {written.done} of {len(prepared.rows)} rows saved", file=sys.stderr)

            written = await write_rows(runtime.db, prepared, opts, on_chunk=progress)
            report.skipped = sorted(report.skipped + written.skipped, key=lambda x: x.line)
            taken = {x.email for x in written.skipped}
            report.added = [e for e in report.added if e not in taken]
            async with runtime.db.transaction() as s:
                await record(s, actor=cli_actor(), action="subscriber.import", target="subscribers", now=runtime.clock.now(),
                             detail={"file": opts.filename, "consent_source": args.consent_source,
                                     "added": len(report.added), "skipped": len(report.skipped)})
    print("Columns: " + ", ".join(f"{f}={h}" for f, h in report.mapping.items()))
    for skip in report.skipped:
        print(f"line {skip.line}: {skip.email or '(empty)'}: {skip.reason}")
    added = "would be added" if args.dry_run else "added"
    print(f"{len(report.added)} {added}, {len(report.skipped)} skipped" + (" (dry run: nothing saved)" if args.dry_run else ""))
    return 0


async def subscribers_export(args) -> int:
    from service.audit import record
    from subscribers.directory import Search
    from subscribers.exporter import export_csv

    f = Search(status=args.status or "", topic=args.topic or "", municipality=args.municipality or "")
    async with open_runtime(args) as runtime:
        async with runtime.db.transaction() as s:
            body = await export_csv(s, f)
            await record(s, actor=cli_actor(), action="subscriber.export", target="subscribers", now=runtime.clock.now(),
                         detail={k: v for k, v in vars(f).items() if v and k != "page"})
    if args.output in (None, "-"):
        sys.stdout.buffer.write(body)
    else:
        Path(args.output).write_bytes(body)
        rows = body.count(b"\r\n") - 1
        print(f"Wrote {rows} subscribers to {args.output}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("subscribers", help="import and export subscribers (CSV)")
    ssub = p.add_subparsers(dest="subscribers_command", required=True)
    imp = ssub.add_parser("import", help="import subscribers from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--consent-source", required=True, help="where these people gave their consent (kept with each)")
    imp.add_argument("--dry-run", action="store_true", help="check and report, save nothing")
    imp.add_argument("--map", action="append", default=[], metavar="FIELD=HEADER",
                     help="which column holds a field (email, name, organisation, topics, municipalities, language, frequency, audience)")
    imp.add_argument("--topic", action="append", default=[], metavar="SLUG", help="topic for rows that name none")
    imp.set_defaults(func=subscribers_import)
    exp = ssub.add_parser("export", help="export subscribers as CSV (formula-safe)")
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    exp.add_argument("--status", choices=("pending", "active", "unsubscribed", "blocked"))
    exp.add_argument("--topic", metavar="SLUG")
    exp.add_argument("--municipality", metavar="CODE")
    exp.set_defaults(func=subscribers_export)
