"""StatBank's CSV and metadata, read strictly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.sources.statbank import (
    StatbankError, data_url, parse_csv, parse_tableinfo, parse_value, shift_period,
)
from tests.conftest import DATA


def test_fixture_csv_bom_crlf_code_and_value():
    cells = parse_csv((DATA / "statbank" / "data-AUL01-2026M09.csv").read_bytes())
    assert len(cells) == 63
    first = cells[0]
    assert (first.area, first.area_name, first.period, first.value) == ("000", "Hele landet", "2025M09", Decimal(87271))
    samso = next(c for c in cells if c.area == "741" and c.period == "2025M09")
    assert samso.area_name == "Samsø" and samso.value is None


def test_decimal_comma_and_missing():
    body = "\ufeffOMRÅDE;TID;INDHOLD\r\n751 Aarhus;2026M09;4,5\r\n730 Randers;2026M09;..\r\n".encode()
    cells = parse_csv(body)
    assert cells[0].value == Decimal("4.5") and cells[1].value is None
    assert parse_value("..") is None and parse_value("0") == Decimal(0)


@pytest.mark.parametrize("body,message", [
    (b"", "empty"),
    ("OMRÅDE;INDHOLD\r\n000 Hele landet;1\r\n".encode(), "column"),
    ("OMRÅDE;TID;INDHOLD\r\n000 Hele landet;2026M09\r\n".encode(), "fields"),
    ("OMRÅDE;TID;INDHOLD\r\n000 Hele landet;2026M09;abc\r\n".encode(), "not a number"),
    ("OMRÅDE;TID;INDHOLD\r\n000 x;2026M09;1\r\n000 x;2026M09;2\r\n".encode(), "several values"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
])
def test_malformed_csv_refused(body, message):
    with pytest.raises(StatbankError, match=message):
        parse_csv(body)


def test_tableinfo_and_errors():
    info = parse_tableinfo((DATA / "statbank" / "tableinfo-AUL01-2026M10.json").read_bytes())
    assert info.updated == "2026-11-26T08:00:00" and info.unit == "Antal"
    assert info.time_variable().id == "Tid" and info.variable("område").id == "OMRÅDE"
    with pytest.raises(StatbankError, match="error"):
        parse_tableinfo(b'{"errorTypeCode": "TABLE_NOT_FOUND", "message": "Tabellen findes ikke"}')
    with pytest.raises(StatbankError, match="JSON"):
        parse_tableinfo(b"<html>")
    with pytest.raises(StatbankError, match="field"):
        parse_tableinfo(b'{"id": "AUL01"}')


def test_periods_and_url():
    assert shift_period("2026M01", -1) == "2025M12" and shift_period("2026M09", -12) == "2025M09"
    url = data_url("https://api.statbank.dk/v1/", "AUL01", {"OMRÅDE": ["000", "751"], "Tid": ["2026M09"]})
    assert url == ("https://api.statbank.dk/v1/data/AUL01/CSV?lang=da&valuePresentation=CodeAndValue"
                   "&OMR%C3%85DE=000,751&Tid=2026M09")
