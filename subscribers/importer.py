"""CSV import of subscribers: `import_csv(session, data, options) -> ImportReport`.

- The file may use `;` or `,` (sniffed), UTF-8 (with or without BOM) or Windows-1252.
- Columns are mapped to fields (`email` is required); unmapped headers are guessed from
  Danish and English names (e-mail, navn, organisation, emner, kommuner, sprog, ...).
- A consent source is required: it says where these people gave their consent (e.g.
  "Tilmeldingsliste fra LBR-møde 12.11.2026"); every added subscriber gets a consent row
  with it.
- Invalid addresses, suppressed addresses, addresses already subscribed, repeated rows
  and rows naming unknown topics or municipalities are skipped, each with its line number
  and reason. A dry run does the same checks and writes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Invalid
from subscribers.addresses import normalise
from service.db.reference import Audience, Municipality, Topic
from subscribers.models import FREQUENCIES, Consent, Subscriber, subscriber_municipalities, subscriber_topics
from subscribers.suppression import email_hash
from subscribers.models import Suppression

FIELDS = ("email", "name", "organisation", "topics", "municipalities", "language", "frequency", "audience")
GUESSES = {
    "email": ("email", "e-mail", "mail", "e-mailadresse", "emailadresse", "adresse"),
    "name": ("name", "navn", "fulde navn"),
    "organisation": ("organisation", "organization", "org", "arbejdsplads", "virksomhed"),
    "topics": ("topics", "emner", "emne", "topic"),
    "municipalities": ("municipalities", "kommuner", "kommune", "municipality"),
    "language": ("language", "sprog", "lang"),
    "frequency": ("frequency", "hyppighed", "frekvens"),
    "audience": ("audience", "rolle", "målgruppe", "role"),
}
FREQ_ALIASES = {"straks": "immediate", "dagligt": "daily", "daglig": "daily", "ugentligt": "weekly", "ugentlig": "weekly"}
MAX_ROWS = 50_000
CHUNK = 500


@dataclass
class ImportOptions:
    consent_source: str
    consent_version: str
    now: datetime
    by: str  # who imports: "admin:<email>" or "cli"
    mapping: dict[str, str] = field(default_factory=dict)  # field -> header in the file
    default_topics: list[str] = field(default_factory=list)  # slugs, for rows that name none
    dry_run: bool = False
    filename: str = ""


@dataclass
class Skipped:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    headers: list[str]
    mapping: dict[str, str]
    added: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "ville blive tilføjet" if self.dry_run else "tilføjet"
        return f"{len(self.added)} {verb}, {len(self.skipped)} sprunget over"


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_table(data: bytes) -> tuple[list[str], list[list[str]]]:
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise Invalid("Filen er tom.", {"file": "Tom fil"})
    if len(rows) > MAX_ROWS + 1:
        raise Invalid(f"Filen har mere end {MAX_ROWS} rækker; del den op.", {"file": "For mange rækker"})
    return [h.strip() for h in rows[0]], rows[1:]


def guess_mapping(headers: list[str], given: dict[str, str] | None = None) -> dict[str, str]:
    """field -> header: what the admin chose, else a guess from the header's name."""
    given = {k: v for k, v in (given or {}).items() if k in FIELDS and v in headers}
    lower = {h.lower(): h for h in headers}
    for fld, names in GUESSES.items():
        if fld not in given:
            hit = next((lower[n] for n in names if n in lower), None)
            if hit is not None and hit not in given.values():
                given[fld] = hit
    return given


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.replace("|", ",").replace(";", ",").split(",") if p.strip()]


async def _lookups(s: AsyncSession) -> tuple[dict, dict, dict]:
    topics: dict[str, int] = {}
    for tid, slug, da, en in (await s.execute(select(Topic.id, Topic.slug, Topic.name_da, Topic.name_en)
                                              .where(Topic.retired.is_(False)))).all():
        for key in (slug, da, en):
            topics[key.strip().lower()] = tid
    munis: dict[str, str] = {}
    for code, name in (await s.execute(select(Municipality.code, Municipality.name))).all():
        munis[code] = code
        munis[name.strip().lower()] = code
        munis[name.strip().lower().removesuffix(" kommune")] = code
    auds: dict[str, int] = {}
    for aid, slug, da, en in (await s.execute(select(Audience.id, Audience.slug, Audience.name_da, Audience.name_en))).all():
        for key in (slug, da, en):
            auds[key.strip().lower()] = aid
    return topics, munis, auds


async def _known(s: AsyncSession, emails: list[str]) -> tuple[set[str], set[str]]:
    """(already subscribed, suppressed) among `emails`."""
    existing: set[str] = set()
    suppressed: set[str] = set()
    for i in range(0, len(emails), CHUNK):
        part = emails[i:i + CHUNK]
        existing.update((await s.scalars(select(Subscriber.email).where(Subscriber.email.in_(part)))).all())
        by_hash = {email_hash(e): e for e in part}
        hits = (await s.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash))))).all()
        suppressed.update(by_hash[h] for h in hits)
    return existing, suppressed


def _normalised(raw: str) -> str | None:
    try:
        return normalise(raw) or None
    except ValueError:
        return None


async def import_csv(s: AsyncSession, data: bytes, opts: ImportOptions) -> ImportReport:
    source = opts.consent_source.strip()
    if not source:
        raise Invalid("Skriv, hvor samtykket kommer fra (fx tilmeldingsliste fra et møde).",
                      {"consent_source": "Samtykkekilde mangler"})
    headers, rows = read_table(data)
    mapping = guess_mapping(headers, opts.mapping)
    if "email" not in mapping:
        raise Invalid("Vælg, hvilken kolonne der har e-mailadressen.", {"mapping": "Ingen e-mailkolonne"})
    col = {fld: headers.index(h) for fld, h in mapping.items()}
    report = ImportReport(headers=headers, mapping=mapping, dry_run=opts.dry_run)
    topics, munis, auds = await _lookups(s)
    cell = lambda row, fld: row[col[fld]].strip() if fld in col and col[fld] < len(row) else ""  # noqa: E731

    parsed: list[tuple[int, str, dict]] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=2):
        if not any(c.strip() for c in row):
            continue
        raw = cell(row, "email")
        email = _normalised(raw)
        if email is None:
            report.skipped.append(Skipped(n, raw[:320], "ugyldig e-mailadresse"))
            continue
        if email in seen:
            report.skipped.append(Skipped(n, email, "står flere gange i filen"))
            continue
        seen.add(email)
        names = _split(cell(row, "topics")) or list(opts.default_topics)
        unknown = [t for t in names if t.lower() not in topics]
        if unknown:
            report.skipped.append(Skipped(n, email, f"ukendt emne: {', '.join(unknown)}"))
            continue
        places = [m.lower().removesuffix(" kommune").strip() for m in _split(cell(row, "municipalities"))]
        bad = [m for m in places if m not in munis]
        if bad:
            report.skipped.append(Skipped(n, email, f"ukendt kommune: {', '.join(bad)}"))
            continue
        lang = (cell(row, "language") or "da").lower()[:2]
        freq = cell(row, "frequency").lower() or "immediate"
        freq = FREQ_ALIASES.get(freq, freq)
        aud = cell(row, "audience").lower()
        if lang not in ("da", "en") or freq not in FREQUENCIES or (aud and aud not in auds):
            report.skipped.append(Skipped(n, email, "ukendt sprog, hyppighed eller rolle"))
            continue
        parsed.append((n, email, {
            "name": cell(row, "name")[:200], "organisation": cell(row, "organisation")[:200], "language": lang,
            "frequency": freq, "audience_id": auds.get(aud) if aud else None,
            "topic_ids": sorted({topics[t.lower()] for t in names}),
            "codes": sorted({munis[m] for m in places}),
        }))

    existing, suppressed = await _known(s, [e for _, e, _ in parsed])
    good = []
    for n, email, values in parsed:
        if email in suppressed:
            report.skipped.append(Skipped(n, email, "på spærrelisten"))
        elif email in existing:
            report.skipped.append(Skipped(n, email, "er allerede abonnent"))
        else:
            good.append((n, email, values))
            report.added.append(email)
    report.skipped.sort(key=lambda x: x.line)
    if not opts.dry_run:
        await _write(s, good, opts, source)
    return report


async def _write(s: AsyncSession, good: list[tuple[int, str, dict]], opts: ImportOptions, source: str) -> None:
    for n, email, v in good:
        sub = Subscriber(email=email, name=v["name"], organisation=v["organisation"], language=v["language"],
                         frequency=v["frequency"], audience_id=v["audience_id"], status="active",
                         created_at=opts.now, confirmed_at=opts.now, soft_bounces=0)
        s.add(sub)
        await s.flush()
        if v["topic_ids"]:
            await s.execute(insert(subscriber_topics), [{"subscriber_id": sub.id, "topic_id": t} for t in v["topic_ids"]])
        if v["codes"]:
            await s.execute(insert(subscriber_municipalities),
                            [{"subscriber_id": sub.id, "municipality_code": c} for c in v["codes"]])
        s.add(Consent(subscriber_id=sub.id, action="import", consent_version=opts.consent_version,
                      source=f"import:{source}"[:200], at=opts.now,
                      detail={"file": opts.filename[:200], "line": n, "by": opts.by}))
