"""`budbringer check-config`: every problem, with its key and a plain explanation."""

from __future__ import annotations

from service.cli.common import print_problems
from service.settings import ConfigError, load_settings


def check_config(args) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print_problems(exc.problems)
        return 2
    source = args.config if args.config.exists() else "defaults and environment"
    print(f"Configuration OK ({source}): database {settings.database.url.split('@')[-1]}, "
          f"mail via {settings.mail.transport}, {len(settings.sources)} sources.")
    return 0


def config_example(args) -> int:
    from service.settings_doc import config_example as text

    print(text(), end="")
    return 0


def register(sub) -> None:
    p = sub.add_parser("check-config", help="check the configuration and report every problem (exit 2 if any)")
    p.set_defaults(func=check_config)
    p = sub.add_parser("config-example", help="print every setting with its description and default (TOML)")
    p.set_defaults(func=config_example)
