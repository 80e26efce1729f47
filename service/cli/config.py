"""`budbringer check-config`: every problem, with its key and a plain explanation, and the
warnings about settings that are valid but probably wrong for where the service runs.

`--production` also refuses a `base_url` on this machine (127.0.0.1, localhost), which is
the default and fine for a try, but puts wrong links in every mail. The image's
entrypoint runs `check-config --production` before anything else.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from service.cli.common import print_problems
from service.settings import ConfigError, Settings, load_settings


def deployment_warnings(settings: Settings) -> list[tuple[str, str]]:
    """(key, explanation) for settings that load but would hurt in production."""
    warnings: list[tuple[str, str]] = []
    host = urlsplit(settings.service.base_url).hostname or ""
    https = settings.service.base_url.startswith("https://")
    if (https or not _loopback(host)) and not settings.web.trusted_proxies:
        warnings.append(("web.trusted_proxies", (
            f"service.base_url is {settings.service.base_url}, so visitors probably come through a reverse "
            "proxy, but no proxy is trusted. Then every visitor has the proxy's address, and the limits per "
            "address (signups, staff logins) become one limit shared by everybody: one attacker could lock "
            "every staff member out. Set web.trusted_proxies to the proxy's address (for a proxy on the same "
            "host: [\"127.0.0.1/32\"]) and let the proxy set X-Forwarded-For. If nothing stands in front of "
            "Budbringer, ignore this.")))
    return warnings


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_config(args) -> int:
    try:
        settings = load_settings(args.config, production=args.production)
    except ConfigError as exc:
        print_problems(exc.problems)
        return 2
    source = args.config if args.config.exists() else "defaults and environment"
    print(f"Configuration OK ({source}): database {settings.database.url.split('@')[-1]}, "
          f"mail via {settings.mail.transport}, {len(settings.sources)} sources.")
    for key, message in deployment_warnings(settings):
        print(f"Warning: {key}: {message}")
    return 0


def config_example(args) -> int:
    from service.settings_doc import config_example as text

    print(text(), end="")
    return 0


def register(sub) -> None:
    p = sub.add_parser("check-config", help="check the configuration and report every problem (exit 2 if any)")
    p.add_argument("--production", action="store_true",
                   help="also refuse a base_url on this machine (the default), as the image's entrypoint does")
    p.set_defaults(func=check_config)
    p = sub.add_parser("config-example", help="print every setting with its description and default (TOML)")
    p.set_defaults(func=config_example)
