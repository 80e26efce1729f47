"""The press contact list: list (with segment filters), add, edit, CSV import and export.

CSV: semicolon or comma separated, UTF-8 (with or without BOM), header row with
`email;name;outlet;media_type;region;beats;status` (beats separated by "|" or ","). Import
adds new addresses and updates known ones. Export neutralises cells a spreadsheet would
run as a formula (a leading = + - @ TAB CR gets a leading apostrophe).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.compose import MEDIA_TYPES
from service.db.campaigns import PressContact
from service.errors import Conflict, Invalid, NotFound

STATUSES = ("active", "inactive", "bounced", "complained")  # words in templates/labels.toml [press_status]
COLUMNS = ("email", "name", "outlet", "media_type", "region", "beats", "status")
MEDIA_ALIASES = {"landsdækkende": "national", "regional": "regional", "lokal": "local", "fagblad": "trade",
                 "fagmedie": "trade", "fag": "trade", "bureau": "agency", "nyhedsbureau": "agency", "tv": "broadcast",
                 "radio": "broadcast", "tv og radio": "broadcast", "tv/radio": "broadcast"}
MAX_ROWS = 20_000


@dataclass
class ContactForm:
    email: str
    name: str = ""
    outlet: str = ""
    media_type: str = "regional"
    region: str = ""
    beats: list[str] = field(default_factory=list)
    status: str = "active"


@dataclass
class Segment:
    media_types: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    beats: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    search: str = ""


def clean(form: ContactForm) -> ContactForm:
    problems = {}
    try:
        form.email = validate_email(form.email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        problems["email"] = "Ugyldig e-mailadresse"
    form.media_type = MEDIA_ALIASES.get(form.media_type.strip().lower(), form.media_type.strip().lower())
    if form.media_type not in MEDIA_TYPES:
        problems["media_type"] = "Medietype skal være en af: " + ", ".join(MEDIA_TYPES)
    if form.status not in STATUSES:
        problems["status"] = "Status skal være en af: " + ", ".join(STATUSES)
    form.beats = sorted({b.strip() for b in form.beats if b.strip()})
    for attr, limit in (("name", 200), ("outlet", 200), ("region", 100)):
        setattr(form, attr, getattr(form, attr).strip()[:limit])
    if problems:
        raise Invalid("Ret de markerede felter.", problems)
    return form


async def list_contacts(session: AsyncSession, seg: Segment, *, limit: int = 500) -> list[PressContact]:
    q = select(PressContact)
    if seg.media_types:
        q = q.where(PressContact.media_type.in_(seg.media_types))
    if seg.regions:
        q = q.where(PressContact.region.in_(seg.regions))
    if seg.statuses:
        q = q.where(PressContact.status.in_(seg.statuses))
    if seg.search:
        like = f"%{seg.search.lower()}%"
        q = q.where(or_(func.lower(PressContact.email).like(like), func.lower(PressContact.name).like(like),
                        func.lower(PressContact.outlet).like(like)))
    rows = list((await session.scalars(q.order_by(PressContact.outlet, PressContact.name).limit(limit * 4))).all())
    if seg.beats:
        rows = [r for r in rows if set(seg.beats) & set(r.beats or [])]
    return rows[:limit]


async def regions(session: AsyncSession) -> list[str]:
    return [r for r in (await session.scalars(select(PressContact.region).distinct().order_by(PressContact.region))).all() if r]


async def add_contact(session: AsyncSession, form: ContactForm, *, now: datetime) -> int:
    form = clean(form)
    if await session.scalar(select(PressContact.id).where(PressContact.email == form.email)):
        raise Conflict("Adressen står allerede på presselisten.")
    pc = PressContact(**vars(form), created_at=now, updated_at=now)
    session.add(pc)
    await session.flush()
    return pc.id


async def edit_contact(session: AsyncSession, contact_id: int, form: ContactForm, *, now: datetime) -> None:
    form = clean(form)
    pc = await session.get(PressContact, contact_id)
    if pc is None:
        raise NotFound("Kontakten findes ikke.")
    other = await session.scalar(select(PressContact.id).where(PressContact.email == form.email, PressContact.id != contact_id))
    if other:
        raise Conflict("En anden kontakt har allerede den adresse.")
    for k, v in vars(form).items():
        setattr(pc, k, v)
    pc.updated_at = now


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def _split_beats(text: str) -> list[str]:
    return [b for b in (p.strip() for p in text.replace("|", ",").split(",")) if b]


async def import_csv(session: AsyncSession, data: bytes, *, now: datetime) -> ImportResult:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("Filen skal være UTF-8.", {"file": "Ikke UTF-8"}) from None
    first = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if first.count(";") >= first.count(",") else ",")
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise Invalid("Første linje skal være overskrifter, mindst kolonnen »email«.", {"file": "Mangler email-kolonnen"})
    reader.fieldnames = fields
    result = ImportResult()
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            result.errors.append((n, f"Højst {MAX_ROWS} rækker ad gangen"))
            break
        row = {k: _unformula((v or "").strip()) for k, v in row.items() if k}
        form = ContactForm(email=row.get("email", ""), name=row.get("name", ""), outlet=row.get("outlet", ""),
                           media_type=row.get("media_type") or "regional", region=row.get("region", ""),
                           beats=_split_beats(row.get("beats", "")), status=row.get("status") or "active")
        try:
            form = clean(form)
        except Invalid as exc:
            result.errors.append((n, "; ".join(f"{k}: {v}" for k, v in exc.fields.items())))
            continue
        pc = await session.scalar(select(PressContact).where(PressContact.email == form.email))
        if pc is None:
            session.add(PressContact(**vars(form), created_at=now, updated_at=now))
            result.added += 1
        else:  # only the columns the file has; a file with email;name leaves beats alone
            for k, v in vars(form).items():
                if k in fields:
                    setattr(pc, k, v)
            pc.updated_at = now
            result.updated += 1
        await session.flush()
    return result


def _unformula(value: str) -> str:
    """An imported cell that starts with an apostrophe-guard comes back as written."""
    return value[1:] if value.startswith("'") and value[1:2] in ("=", "+", "-", "@") else value


def safe_cell(value: str) -> str:
    return "'" + value if value and value[0] in ("=", "+", "-", "@", "\t", "\r") else value


async def export_csv(session: AsyncSession, seg: Segment | None = None) -> bytes:
    rows = await list_contacts(session, seg or Segment(), limit=MAX_ROWS * 10)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([safe_cell(v) for v in (r.email, r.name, r.outlet, r.media_type, r.region, "|".join(r.beats or []), r.status)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def mark_bounced(session: AsyncSession, email: str, *, now: datetime, reason: str = "hard_bounce") -> bool:
    """For the bounce handler: a press address that bounced for good is marked "bounced", one
    whose owner complained (marked the mail as spam) "complained"; neither gets releases."""
    status = "complained" if reason == "complaint" else "bounced"
    pc = await session.scalar(select(PressContact).where(func.lower(PressContact.email) == email.strip().lower()))
    if pc is None or pc.status == status:
        return False
    pc.status, pc.updated_at = status, now
    return True
