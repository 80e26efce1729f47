"""Helpers shared by commands: load settings (exit 2 on problems), build the runtime."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from service.settings import ConfigError, Settings, load_settings


class CommandFailed(SystemExit):
    pass


def cli_actor() -> str:
    """Who did it, for the audit log: "cli:<login name>" (a browser change names the staff member)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def settings_or_exit(args: argparse.Namespace, **overrides) -> Settings:
    try:
        return load_settings(args.config, **{**_demo_secret(args), **overrides})
    except ConfigError as exc:
        print_problems(exc.problems)
        raise SystemExit(2) from exc


def _demo_secret(args: argparse.Namespace) -> dict:
    """Beside `budbringer demo` (no config file, no secret in the environment, and the demo's
    var/secret here) use the demo's secret: its database is the default one, so `budbringer
    user list` or `user password` in the demo's checkout then work as they would in production."""
    from service.paths import DEMO_SECRET

    configured = any(k in os.environ for k in ("BUDBRINGER_SERVICE__SECRET_KEY", "BUDBRINGER_SERVICE__SECRET_KEY_FILE"))
    if args.config.exists() or configured or not DEMO_SECRET.is_file():
        return {}
    print(f"No {args.config} here: using the demo's settings (secret in {DEMO_SECRET}).", file=sys.stderr)
    return {"service": {"secret_key_file": str(DEMO_SECRET)}}


def print_problems(problems: list[tuple[str, str]]) -> None:
    print("The configuration has problems:", file=sys.stderr)
    for key, message in problems:
        print(f"  {key}: {message}", file=sys.stderr)


@asynccontextmanager
async def open_runtime(args: argparse.Namespace, **overrides) -> AsyncIterator:
    """Settings → runtime, with the database reachable and migrated (else a clear exit)."""
    from service.db.engine import DatabaseUnavailable
    from service.db.migrate import pending
    from service.wiring import build_runtime

    runtime = build_runtime(settings_or_exit(args, **overrides))
    try:
        try:
            await runtime.db.wait_until_reachable()
            if await pending(runtime.db):
                print("The database is not up to date: run `budbringer db upgrade` first.", file=sys.stderr)
                raise SystemExit(3)
        except DatabaseUnavailable as exc:
            print(f"Error: {exc}", file=sys.stderr)
            raise SystemExit(3) from exc
        yield runtime
    finally:
        await runtime.close()
