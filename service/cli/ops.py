"""`budbringer worker drain`, `budbringer send-test ADDRESS`, `budbringer bounce apply FILE`.

- worker drain: send everything due now, print what happened, exit (0 when nothing failed).
- send-test: queue a test mail (kind "test") to one address and send it at once.
- purge: apply the retention settings now (the scheduler does it every night).
- bounce apply: apply a bounce or complaint report saved as a file (or `-` for stdin),
  for setups that fetch reports from a mailbox instead of the inbound endpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

from service.cli.common import open_runtime


async def worker_drain(args) -> int:
    from service.delivery.worker import Worker

    async with open_runtime(args) as runtime:
        worker = Worker(runtime)
        claimed = await worker.drain(max_seconds=args.max_seconds)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(worker.tally.items())) or "nothing was due"
        print(f"claimed {claimed}: {counts}")
        for delivery_id, recipient, reason in worker.failures:
            print(f"failed #{delivery_id} {recipient}: {reason}")
        return 1 if worker.failures else 0


async def send_test(args) -> int:
    from service.db.models import Delivery
    from service.delivery.headers import HeaderError, address
    from service.delivery.outbox import enqueue, mail_domain
    from service.delivery.worker import Worker

    try:
        recipient = address(args.address)
    except HeaderError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    async with open_runtime(args) as runtime:
        now = runtime.clock.now()
        async with runtime.db.transaction() as s:
            delivery_id = await enqueue(
                s, key=f"test:{recipient}:{now.isoformat()}", kind="test", recipient=recipient, now=now,
                domain=mail_domain(runtime.settings.mail.from_address), params={"notice": "test"},
            )
        await Worker(runtime).drain(max_seconds=args.max_seconds)
        async with runtime.db.reader() as s:
            d = await s.get(Delivery, delivery_id)
        print(f"test mail #{d.id} to {recipient}: {d.status}" + (f" ({d.last_error})" if d.last_error else ""))
        return 0 if d.status == "sent" else 1


async def bounce_apply(args) -> int:
    from service.bounces.process import apply_report

    raw = sys.stdin.buffer.read() if str(args.file) == "-" else Path(args.file).read_bytes()
    async with open_runtime(args) as runtime:
        result = await apply_report(runtime, raw, envelope_to=args.envelope_to)
    print(f"{result.status}: {result.kind or '-'} {', '.join(result.recipients)} {result.reason}".rstrip())
    return 0 if result.status in ("applied", "ignored") else 1


async def purge(args) -> int:
    from service.retention import purge as run_purge

    async with open_runtime(args) as runtime:
        done = await run_purge(runtime)
    print(f"purged: {done.bodies} message bodies, {done.audit} audit entries, "
          f"{done.pending_signups} unconfirmed signups, {done.sessions} staff sessions, "
          f"{done.rate_events} rate records")
    return 0


def register(sub) -> None:
    p = sub.add_parser("purge", help="apply the retention settings now (the scheduler does it nightly)")
    p.set_defaults(func=purge)

    p = sub.add_parser("worker", help="the send worker")
    wsub = p.add_subparsers(dest="worker_command", required=True)
    d = wsub.add_parser("drain", help="send everything due now, then exit")
    d.add_argument("--max-seconds", type=float, default=300, help="stop after this long (default 300)")
    d.set_defaults(func=worker_drain)

    p = sub.add_parser("send-test", help="queue and send a test mail to ADDRESS")
    p.add_argument("address")
    p.add_argument("--max-seconds", type=float, default=60, help="give up sending after this long (default 60)")
    p.set_defaults(func=send_test)

    p = sub.add_parser("bounce", help="bounce and complaint reports")
    bsub = p.add_subparsers(dest="bounce_command", required=True)
    a = bsub.add_parser("apply", help="apply a report saved as a file ('-' reads stdin)")
    a.add_argument("file")
    a.add_argument("--envelope-to", default=None, help="the address the report was delivered to (its signed tag)")
    a.set_defaults(func=bounce_apply)
