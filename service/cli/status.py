"""`budbringer status`: one screen for the operator, from the database all processes share.

    Processes   each `budbringer run` process, its roles, and when it was last seen
    Queue       due now and the oldest due message; being sent, deferred, failed
    Sources     those whose last poll failed, with the reason
    Digests     the latest run of each, and when the next is due
    Campaigns   the next scheduled press release or newsletter

`budbringer status --check-host` is a health check for a container that runs one role
without the web server: exit 0 when the newest process on this host is running and its
loops come round, 1 (with the reason) when not.
"""

from __future__ import annotations

import socket
from datetime import datetime

from service.cli.common import open_runtime
from service.render.formatting import datetime_local

RECENTLY_STOPPED = 3600  # seconds: stopped processes shown this long


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _processes(status, at) -> list[str]:
    now = status.now
    shown = [p for p in status.processes
             if p.stopped_at is None or (now - p.stopped_at).total_seconds() < RECENTLY_STOPPED]
    if not shown:
        return ["  none: no `budbringer run` process has been seen"
                + (" in the last hour" if status.processes else "")]
    lines = [f"  {'roles':28} {'process':24} {'state':10} {'seen':>12}  since"]
    for p in shown:
        state = p.state(now)
        lines.append(f"  {','.join(p.roles):28} {f'{p.host}:{p.pid}'[:24]:24} {state:10} "
                     f"{ago((now - p.seen_at).total_seconds()) + ' ago':>12}  {at(p.started_at)}"
                     + (f"  ({p.problem})" if p.problem and state != "stopped" else ""))
    older = len(status.processes) - len(shown)
    if older:
        lines.append(f"  and {older} stopped earlier")
    return lines


def _queue(status, at) -> str:
    q = status.queue
    due = f"{q.due} due now"
    if q.oldest_due_at is not None:
        due += f", the oldest (#{q.oldest_due_id}) waiting {ago((status.now - q.oldest_due_at).total_seconds())}"
    return (f"{due}; {q.sending} being sent; {q.deferred_later} waiting to be retried or due later; "
            f"{q.failed} failed; {q.possible_duplicates} possible duplicates")


def _sources(status, at) -> list[str]:
    if not status.failing_sources:
        return ["no source is failing"]
    lines = [f"{len(status.failing_sources)} failing:"]
    for f in status.failing_sources:
        last_ok = at(f.last_success_at) if f.last_success_at else "never"
        lines.append(f"  {f.slug} ({f.name}): {f.failures} failures in a row, the last {at(f.last_error_at)}: "
                     f"{f.last_error[:160]} (last success: {last_ok})")
    return lines


def _digests(status, at, next_due: dict[str, datetime | None]) -> list[str]:
    lines = []
    runs = {d.frequency: d for d in status.digests}
    for frequency in ("daily", "weekly"):
        run = runs.get(frequency)
        last = "never run" if run is None else (
            f"{run.period_key} {run.status}, {run.deliveries} messages, started {at(run.started_at)}")
        upcoming = next_due.get(frequency)
        lines.append(f"{frequency:7} {last}; next {at(upcoming) if upcoming else 'not scheduled'}")
    return lines


def _campaign(status, at) -> str:
    c = status.next_campaign
    if c is None:
        return "none scheduled"
    kind = "press release" if c.kind == "press_release" else c.kind
    when = at(c.scheduled_at) if c.scheduled_at else "no time set"
    embargo = f" (under embargo until {at(c.embargo_until)})" if c.embargo_until else ""
    sending = " (sending now)" if c.status == "sending" else ""
    return f"next: {kind} #{c.id} \u201c{c.title[:80]}\u201d at {when}{embargo}{sending}"


async def status(args) -> int:
    from service.heartbeats import processes
    from service.scheduler import digest_trigger
    from service.status import read_status

    async with open_runtime(args) as runtime:
        now = runtime.clock.now()
        tz = runtime.settings.service.tz()
        async with runtime.db.reader() as s:
            if args.check_host:
                return _check_host(await processes(s, host=socket.gethostname()), now)
            seen = await read_status(s, now)
        next_due = {f: digest_trigger(runtime, f).get_next_fire_time(None, now) for f in ("daily", "weekly")}
        url = runtime.db.safe_url

    def at(value: datetime | None) -> str:
        return datetime_local(value, tz, lang="en") if value else "-"

    print(f"Budbringer status, {datetime_local(now, tz, lang='en', zone=True)}; database {url}\n")
    print("Processes")
    print("\n".join(_processes(seen, at)))
    print(f"\nQueue      {_queue(seen, at)}")
    sources = _sources(seen, at)
    print(f"Sources    {sources[0]}")
    for line in sources[1:]:
        print(f"           {line}")
    for i, line in enumerate(_digests(seen, at, next_due)):
        print(f"{'Digests' if i == 0 else '':10} {line}")
    print(f"Campaigns  {_campaign(seen, at)}")
    return 0


def _check_host(found, now) -> int:
    if not found:
        print(f"no budbringer process has been seen on {socket.gethostname()}")
        return 1
    newest = max(found, key=lambda p: p.started_at)
    state = newest.state(now)
    print(f"{','.join(newest.roles)} on {newest.host}:{newest.pid}: {state}, seen {ago((now - newest.seen_at).total_seconds())} ago"
          + (f" ({newest.problem})" if newest.problem else ""))
    return 0 if state == "running" else 1


def register(sub) -> None:
    p = sub.add_parser("status", help="one screen: processes and roles, queue, failing sources, digests, next campaign")
    p.add_argument("--check-host", action="store_true",
                   help="health check: exit 0 when the newest process on this host is running, 1 when not")
    p.set_defaults(func=status)
