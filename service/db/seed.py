"""Reference data bundled with the service: topics, audiences, the 19 municipalities."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data"


def taxonomy() -> dict[str, Any]:
    return tomllib.loads((DATA / "topics.toml").read_text(encoding="utf-8"))


def topic_rows() -> list[dict[str, Any]]:
    return [
        {
            "slug": t["slug"],
            "name_da": t["da"],
            "name_en": t["en"],
            "description_da": t.get("description_da", ""),
            "description_en": t.get("description_en", ""),
            "position": i,
            "retired": False,
        }
        for i, t in enumerate(taxonomy()["topics"])
    ]


def audience_rows() -> list[dict[str, Any]]:
    return [
        {"slug": a["slug"], "name_da": a["da"], "name_en": a["en"], "position": i}
        for i, a in enumerate(taxonomy()["audiences"])
    ]


def item_kind_names() -> dict[str, dict[str, str]]:
    return taxonomy()["kinds"]


def municipality_rows() -> list[dict[str, str]]:
    with (DATA / "municipalities.csv").open(encoding="utf-8", newline="") as fh:
        return [{"code": r["code"], "name": r["name"], "region_code": r["region_code"]} for r in csv.DictReader(fh)]


REGION_CODE = "082"  # StatBank's area code for Region Midtjylland
COUNTRY_CODE = "000"
