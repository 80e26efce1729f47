"""Attachments: PDF, CSV and XLSX only, checked by content as well as by name, size-capped."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns.compose import load_editable
from service.db.campaigns import CampaignAttachment
from service.errors import Invalid

TYPES = {
    ".pdf": "application/pdf",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def safe_filename(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- æøåÆØÅ]", "_", base).strip(" .")[:150]
    return base or "bilag"


def check_content(filename: str, data: bytes) -> str:
    """The content type for an allowed file, or Invalid."""
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in TYPES:
        raise Invalid("Kun PDF, CSV og XLSX kan vedhæftes.", {"attachment": "Filtypen er ikke tilladt"})
    ok = True
    if ext == ".pdf":
        ok = data.startswith(b"%PDF-")
    elif ext == ".xlsx":
        try:
            ok = "[Content_Types].xml" in zipfile.ZipFile(BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            ok = False
    else:
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            ok = False
        ok = ok and b"\x00" not in data
    if not ok:
        raise Invalid("Filens indhold passer ikke til dens type.", {"attachment": "Filen ser ikke ud som en " + ext[1:].upper()})
    return TYPES[ext]


async def add_attachment(
    session: AsyncSession, campaign_id: int, filename: str, data: bytes, *, max_bytes: int, total_bytes: int
) -> int:
    await load_editable(session, campaign_id)
    name = safe_filename(filename)
    if len(data) > max_bytes:
        raise Invalid(f"Filen er for stor (højst {max_bytes // 1_000_000} MB).", {"attachment": "For stor"})
    if not data:
        raise Invalid("Filen er tom.", {"attachment": "Tom fil"})
    content_type = check_content(name, data)
    used = await session.scalar(
        select(func.coalesce(func.sum(CampaignAttachment.size), 0)).where(CampaignAttachment.campaign_id == campaign_id)
    )
    if used + len(data) > total_bytes:
        raise Invalid(f"Bilagene fylder tilsammen for meget (højst {total_bytes // 1_000_000} MB).", {"attachment": "For stor"})
    att = CampaignAttachment(campaign_id=campaign_id, filename=name, content_type=content_type, data=data, size=len(data))
    session.add(att)
    await session.flush()
    return att.id


async def remove_attachment(session: AsyncSession, campaign_id: int, attachment_id: int) -> None:
    await load_editable(session, campaign_id)
    await session.execute(
        delete(CampaignAttachment).where(CampaignAttachment.id == attachment_id, CampaignAttachment.campaign_id == campaign_id)
    )
