"""CSV import of subscribers, the reading and checking: `prepare(db, data, options) -> Prepared`.

- The file may use `;` or `,` (sniffed), UTF-8 (with or without BOM) or Windows-1252.
- Columns are mapped to fields (`email` is required); unmapped headers are guessed from
  Danish and English names (e-mail, navn, organisation, emner, kommuner, sprog, ...).
- A consent source is required: it says where these people gave their consent (e.g.
  "Tilmeldingsliste fra LBR-møde 12.11.2026"); every added subscriber gets a consent row
  with it.
- A file that is not well-formed CSV (a quote that is never closed) or has a control
  character such as NUL in a cell is refused as a whole, naming the line, before anything
  is saved: such a cell cannot be stored (PostgreSQL refuses NUL) and an open quote
  swallows the rows after it.
- Invalid addresses, suppressed addresses, addresses already subscribed, repeated rows
  and rows naming unknown topics or municipalities are skipped, each with its line number
  and reason. A dry run does the same checks and writes nothing.

The checks are pure Python, ~70 µs a row (email-validator for each address): 3½ s for
the allowed 50,000. They run in a worker thread, which lets go of the interpreter lock
every `YIELD_EVERY` rows: a thread doing that much Python otherwise keeps the lock for
its full switch interval each time, and the event loop serving the pages waited for it at
every turn (/healthz took 2½ s). The database is only read here, in short transactions;
`subscribers.import_write` writes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from service.db.engine import Database
from service.db.reference import Audience, Municipality, Topic
from service.errors import Invalid
from subscribers.addresses import normalise
from subscribers.models import FREQUENCIES, Subscriber, Suppression
from subscribers.suppression import email_hash

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
YIELD_EVERY = 20  # rows (~1.5 ms) between two chances for the event loop to take the interpreter lock
# Control characters no cell may hold (tab and line breaks are text in a quoted cell).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_NAMES = {"\x00": "NUL", "\x7f": "DEL"}


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


@dataclass
class Row:
    """A row that passed every check: what `import_write` saves."""

    line: int
    email: str
    values: dict


@dataclass
class Prepared:
    report: ImportReport
    rows: list[Row]
    source: str


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _bad_csv(line: int, exc: csv.Error) -> Invalid:
    text = str(exc)
    if "field limit" in text or "end of data" in text:
        why = 'et anførselstegn (") begynder en celle, men lukkes aldrig'
    elif "expected after" in text:
        why = 'efter et afsluttende anførselstegn (") skal der stå et skilletegn eller et linjeskift'
    else:
        why = f"linjen kan ikke læses som CSV ({text})"
    return Invalid(f"Filen kan ikke importeres: linje {line}: {why}. Ret filen, og prøv igen.",
                   {"file": f"Fejl i linje {line}"})


def read_table(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(headers, [(line where the row begins, cells)]); raises Invalid naming the line."""
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _bad_csv(line, exc) from None
        for cell in cells:
            bad = _CONTROL.search(cell)
            if bad:
                name = _CONTROL_NAMES.get(bad.group(), f"U+{ord(bad.group()):04X}")
                raise Invalid(f"Filen kan ikke importeres: linje {line} har et usynligt styretegn ({name}) i en "
                              "celle, og det kan ikke gemmes. Ret filen, og prøv igen.", {"file": f"Fejl i linje {line}"})
        rows.append((line, cells))
        if len(rows) > MAX_ROWS + 1:
            raise Invalid(f"Filen har mere end {MAX_ROWS} rækker; del den op.", {"file": "For mange rækker"})
        line = reader.line_num + 1
    if not rows:
        raise Invalid("Filen er tom.", {"file": "Tom fil"})
    return [h.strip() for h in rows[0][1]], rows[1:]


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


@dataclass
class _Lookups:
    topics: dict[str, int]
    munis: dict[str, str]
    auds: dict[str, int]


async def _lookups(db: Database) -> _Lookups:
    async with db.reader() as s:
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
        for aid, slug, da, en in (await s.execute(select(Audience.id, Audience.slug, Audience.name_da,
                                                         Audience.name_en))).all():
            for key in (slug, da, en):
                auds[key.strip().lower()] = aid
    return _Lookups(topics, munis, auds)


async def _known(db: Database, emails: list[str]) -> tuple[set[str], set[str]]:
    """(already subscribed, suppressed) among `emails`, read in short transactions."""
    existing: set[str] = set()
    suppressed: set[str] = set()
    for i in range(0, len(emails), CHUNK * 4):
        part = emails[i:i + CHUNK * 4]
        by_hash = {email_hash(e): e for e in part}
        async with db.reader() as s:
            existing.update((await s.scalars(select(Subscriber.email).where(Subscriber.email.in_(part)))).all())
            hits = (await s.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(list(by_hash))))).all()
        suppressed.update(by_hash[h] for h in hits)
    return existing, suppressed


def _normalised(raw: str) -> str | None:
    try:
        return normalise(raw) or None
    except ValueError:
        return None


def _check(data: bytes, opts: ImportOptions, known: _Lookups) -> tuple[ImportReport, list[Row]]:
    """Everything that needs no database: read the file and check each row (in a thread)."""
    headers, rows = read_table(data)
    mapping = guess_mapping(headers, opts.mapping)
    if "email" not in mapping:
        raise Invalid("Vælg, hvilken kolonne der har e-mailadressen.", {"mapping": "Ingen e-mailkolonne"})
    col = {fld: headers.index(h) for fld, h in mapping.items()}
    report = ImportReport(headers=headers, mapping=mapping, dry_run=opts.dry_run)
    cell = lambda row, fld: row[col[fld]].strip() if fld in col and col[fld] < len(row) else ""  # noqa: E731
    topics, munis, auds = known.topics, known.munis, known.auds

    parsed: list[Row] = []
    seen: set[str] = set()
    for i, (n, row) in enumerate(rows):
        if i % YIELD_EVERY == 0:
            time.sleep(0)  # let go of the interpreter lock: the event loop may take it now
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
        parsed.append(Row(n, email, {
            "name": cell(row, "name")[:200], "organisation": cell(row, "organisation")[:200], "language": lang,
            "frequency": freq, "audience_id": auds.get(aud) if aud else None,
            "topic_ids": sorted({topics[t.lower()] for t in names}),
            "codes": sorted({munis[m] for m in places}),
        }))
    return report, parsed


async def prepare(db: Database, data: bytes, opts: ImportOptions) -> Prepared:
    """Read and check the file; raise Invalid (naming the line) for a file that cannot be read."""
    source = opts.consent_source.strip()
    if not source:
        raise Invalid("Skriv, hvor samtykket kommer fra (fx tilmeldingsliste fra et møde).",
                      {"consent_source": "Samtykkekilde mangler"})
    report, parsed = await asyncio.to_thread(_check, data, opts, await _lookups(db))
    existing, suppressed = await _known(db, [r.email for r in parsed])
    good = []
    for row in parsed:
        if row.email in suppressed:
            report.skipped.append(Skipped(row.line, row.email, "på spærrelisten"))
        elif row.email in existing:
            report.skipped.append(Skipped(row.line, row.email, "er allerede abonnent"))
        else:
            good.append(row)
            report.added.append(row.email)
    report.skipped.sort(key=lambda x: x.line)
    return Prepared(report, good, source)
