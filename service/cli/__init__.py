"""`budbringer` — the operator's command line.

Each command group lives in its own module with `register(subparsers)`; a command is a
function `(args) -> int` (async functions are run on a fresh event loop).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path

from service import eventloop, logs
from service.cli import calendar, campaigns, config, db, demo, digests, ops, people, run, sources, status, users

# Each group's `register(subparsers)`, in the order `budbringer --help` lists them.
COMMAND_GROUPS = (
    config,  # check-config
    db,  # db upgrade / db status
    run,  # run
    demo,  # demo
    ops,  # poll, digest, send-test, worker drain
    users,  # user add / user list / user password
    people,  # import, export (subscribers, press contacts)
    sources,  # source list / poll, api-token add
    digests,  # digest run, match
    campaigns,  # campaign list / send-test
    status,  # status
    calendar,  # calendar import / list (the release calendar)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="budbringer", description="Budbringer: news and notification service.")
    parser.add_argument(
        "--config", type=Path, default=Path(os.environ.get("BUDBRINGER_CONFIG", "config.toml")),
        help="TOML config file (default: ./config.toml; environment BUDBRINGER_<SECTION>__<KEY> overrides)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default=os.environ.get("BUDBRINGER_LOG_FORMAT", "text"),
        help="text lines, or one JSON object per line (environment BUDBRINGER_LOG_FORMAT)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line as `budbringer` does (exit 2 with the reason when it is wrong),
    including the checks argparse cannot express (a command's `check` default)."""
    args = build_parser().parse_args(argv)
    check = getattr(args, "check", None)
    if check is not None:
        check(args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure(verbose=args.verbose, fmt=args.log_format)
    func = args.func
    try:
        if inspect.iscoroutinefunction(func):
            return eventloop.run(func(args)) or 0
        return func(args) or 0
    except KeyboardInterrupt:
        return 130
