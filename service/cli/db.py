"""`budbringer db upgrade | status`."""

from __future__ import annotations

import sys

from service.cli.common import settings_or_exit
from service.db.engine import Database, DatabaseUnavailable
from service.db.migrate import pending, upgrade


async def db_upgrade(args) -> int:
    db = Database(settings_or_exit(args).database)
    try:
        await db.wait_until_reachable()
        await upgrade(db)
        print(f"Database {db.safe_url} is up to date.")
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


def register(sub) -> None:
    p = sub.add_parser("db", help="database migrations")
    dsub = p.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply every pending migration").set_defaults(func=db_upgrade)
    dsub.add_parser("status", help="exit 1 when migrations are pending").set_defaults(func=db_status)
