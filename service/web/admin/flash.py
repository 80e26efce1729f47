"""Flash messages after a redirect: the address carries a key (`?ok=<key>`, a count as
`&n=<digits>`), the text comes from this fixed table. Anything else in the address shows
nothing, so no one can put words of their own in the console's mouth with a link."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web

MESSAGES: dict[str, str] = {
    "retried": "{n} fejlede forsendelser er sat i kø igen.",
    "suppression-added": "Adressen er sat på spærrelisten.",
    "suppression-removed": "Adressen er fjernet fra spærrelisten.",
    "subscriber-saved": "Ændringerne er gemt.",
    "subscriber-deleted": "Abonnenten er slettet.",
    "campaign-created": "Kladden er gemt.",
    "campaign-saved": "Ændringerne er gemt.",
    "campaign-test-sent": "Testmailen er sendt til din egen adresse.",
    "campaign-scheduled": "Udsendelsen er planlagt.",
    "campaign-unscheduled": "Udsendelsen er sat tilbage til kladde.",
    "campaign-cancelled": "Udsendelsen er annulleret.",
    "campaign-attached": "Bilaget er vedhæftet.",
    "campaign-detached": "Bilaget er fjernet.",
    "contact-added": "Kontakten er tilføjet presselisten.",
    "contact-saved": "Kontakten er gemt.",
    "segment-saved": "Segmentet er gemt.",
    "segment-deleted": "Segmentet er slettet.",
    "topic-saved": "Emnet er gemt.",
    "user-saved": "Brugeren er gemt.",
    "user-added": "Brugeren er oprettet.",
    "source-saved": "Kilden er gemt.",
    "release-added": "Udgivelsen er føjet til kalenderen.",
    "release-saved": "Udgivelsen er gemt.",
    "release-deleted": "Udgivelsen er slettet fra kalenderen.",
    "calendar-imported": "Kalenderen er indlæst: {n} udgivelser tilføjet eller ændret.",
}


def redirect(location: str, key: str, n: int | None = None) -> web.HTTPSeeOther:
    """A 303 to `location` that shows MESSAGES[key] there (raise it)."""
    if key not in MESSAGES:
        raise KeyError(f"unknown flash key {key!r}")
    query = {"ok": key} | ({"n": str(int(n))} if n is not None else {})
    path, _, fragment = location.partition("#")
    sep = "&" if "?" in path else "?"
    return web.HTTPSeeOther(f"{path}{sep}{urlencode(query)}" + (f"#{fragment}" if fragment else ""))


def message(query: Mapping[str, str]) -> str:
    """The text for the address's flash key, or "" (unknown key, or a count that is not a number)."""
    text = MESSAGES.get(str(query.get("ok", "")))
    if text is None:
        return ""
    if "{n}" in text:
        n = str(query.get("n", ""))
        if not n.isdigit() or len(n) > 9:
            return ""
        return text.replace("{n}", n)
    return text
