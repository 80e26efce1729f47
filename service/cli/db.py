"""`budbringer db upgrade | status | backup FILE`.

`db backup` copies a SQLite database online (sqlite3's backup API: a consistent copy while
the service keeps running and writing). PostgreSQL is backed up with its own tools
(`pg_dump -Fc`); docs/operations.md has both, and how to restore.
"""

from __future__ import annotations

import sys
from pathlib import Path

from service.cli.common import settings_or_exit
from service.db.engine import Database, DatabaseUnavailable
from service.db.migrate import current_revision, pending, upgrade


async def db_upgrade(args) -> int:
    db = Database(settings_or_exit(args).database)
    try:
        await db.wait_until_reachable()
        before = await current_revision(db)
        await upgrade(db)
        after = await current_revision(db)
        done = "already up to date" if before == after else f"migrated from {before or 'empty'} to {after}"
        print(f"Database {db.safe_url}: {done}.")
        return 0
    except DatabaseUnavailable as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 3
    finally:
        await db.dispose()


async def db_status(args) -> int:
    db = Database(settings_or_exit(args).database)
    try:
        await db.wait_until_reachable()
        behind = await pending(db)
        print("migrations pending" if behind else "up to date")
        return 1 if behind else 0
    except DatabaseUnavailable as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 3
    finally:
        await db.dispose()


def db_backup(args) -> int:
    import sqlite3

    from sqlalchemy.engine import make_url

    url = make_url(settings_or_exit(args).database.url)
    if not url.drivername.startswith("sqlite"):
        print("Error: db backup copies SQLite databases; for PostgreSQL use pg_dump -Fc "
              "(see docs/operations.md).", file=sys.stderr)
        return 2
    source_path = url.database
    if not source_path or source_path == ":memory:":
        print("Error: the database is in memory; there is nothing to back up.", file=sys.stderr)
        return 2
    target = args.file
    if target.exists():
        print(f"Error: {target} exists; choose a new file name.", file=sys.stderr)
        return 2
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:
        with dest:
            source.backup(dest, pages=1024)  # in steps, so writers are held up only briefly
        ok = dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()
        source.close()
    if ok != "ok":
        print(f"Error: the copy failed its integrity check: {ok}", file=sys.stderr)
        return 1
    print(f"Backed up {source_path} to {target} ({target.stat().st_size:,} bytes, integrity ok).")
    return 0


def register(sub) -> None:
    p = sub.add_parser("db", help="database migrations")
    dsub = p.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply every pending migration").set_defaults(func=db_upgrade)
    dsub.add_parser("status", help="exit 1 when migrations are pending").set_defaults(func=db_status)
    b = dsub.add_parser("backup", help="SQLite: copy the database online to FILE (PostgreSQL: use pg_dump)")
    b.add_argument("file", type=Path)
    b.set_defaults(func=db_backup)
