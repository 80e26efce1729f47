"""The release calendar: imported from the council's file, a moved date shown as moved,
`/kalender.ics` valid iCalendar in Europe/Copenhagen, the public page, the polling
schedule around each moment, and a late release flagged and mailed to the press officers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from service.db.models import Source
from service.db.releases import ReleaseEntry
from service.delivery.worker import Worker
from service.releases.calendar import CalendarProblems, entries, import_calendar, parse_calendar
from service.releases.watch import flag_late
from service.sources.release_windows import next_poll_at
from service.sources.poll import poll_source
from tests.campaign_support import add_user
from tests.conftest import DATA
from tests.integration._sources import add_source
from tests.statbank_standin import made_up_release, standin  # noqa: F401  (the fixture)

CPH = ZoneInfo("Europe/Copenhagen")
FILE = (DATA / "release-calendar.toml").read_bytes()


async def _import(runtime, body: bytes = FILE) -> dict:
    forms = parse_calendar(body, CPH, runtime.settings.calendar)
    async with runtime.db.transaction() as s:
        return await import_calendar(s, forms, runtime.clock.now())


async def _entries(runtime) -> list[ReleaseEntry]:
    async with runtime.db.reader() as s:
        return await entries(s)


async def test_import_the_councils_file_then_a_moved_date(runtime, db_kind):
    assert await _import(runtime) == {"added": 6, "moved": 0, "updated": 0, "unchanged": 0}
    assert await _import(runtime) == {"added": 0, "moved": 0, "updated": 0, "unchanged": 6}
    first = (await _entries(runtime))[0]
    assert (first.period, first.tables) == ("2026M11", ["AUL01", "AUP01"])
    assert first.at == datetime(2026, 12, 22, 7, 0, tzinfo=timezone.utc)  # 08:00 in Copenhagen (winter)
    assert first.follow_up == "Beskæftigelsesrådets kommentar" and first.follow_up_at == first.at + timedelta(minutes=30)
    summer = next(e for e in await _entries(runtime) if e.period == "2027M03")
    assert summer.at == datetime(2027, 4, 29, 6, 0, tzinfo=timezone.utc)  # 08:00 summer time

    moved = FILE.replace(b'at = "2026-12-22T08:00:00"', b'at = "2026-12-23T09:30:00"')
    assert (await _import(runtime, moved))["moved"] == 1
    first = (await _entries(runtime))[0]
    assert first.at.astimezone(CPH) == datetime(2026, 12, 23, 9, 30, tzinfo=CPH)
    assert first.moved_from == datetime(2026, 12, 22, 7, 0, tzinfo=timezone.utc) and first.moves == 1


@pytest.mark.parametrize("body,words", [
    (b'[[releases]]\ntables = ["AUL01"]\nperiod = "2026M13"\nat = "2027-01-28T08:00:00"\n', "2026M13"),
    (b'[[releases]]\ntables = ["AUL01"]\nperiod = "2026M12"\nat = "28.01.2027 kl. 8"\n', "er ikke et tidspunkt"),
    (b'[[releases]]\ntables = ["AUL01"]\nperiod = "2026M12"\nat = "2027-03-28T02:30:00"\n', "findes ikke"),
    (b'[[releases]]\ntables = ["aul 01"]\nperiod = "2026M12"\nat = "2027-01-28T08:00:00"\n', "tabelnavn"),
    (b'[[releases]]\ntables = ["AUL01"]\nperiod = "2026M12"\nat = "2027-01-28T08:00:00"\nwhen = 1\n', "ukendt"),
    (b'releases = 3', "ingen [[releases]]"),
    (b'[[releases]\n', "gyldig TOML"),
])
async def test_a_bad_file_names_its_mistake_and_saves_nothing(runtime, db_kind, body, words):
    good = b'[[releases]]\ntables = ["AUP01"]\nperiod = "2027M06"\nat = "2027-07-29T08:00:00"\n\n'
    with pytest.raises(CalendarProblems) as caught:
        await _import(runtime, good + body if body.startswith(b"[[releases]]\n") else body)
    assert any(words in p for p in caught.value.problems), caught.value.problems
    assert await _entries(runtime) == []


async def test_the_same_table_twice_in_one_period_is_refused(runtime, db_kind):
    twice = FILE + b'\n[[releases]]\ntables = ["AUP01"]\nperiod = "2026M11"\nat = "2026-12-23T08:00:00"\n'
    with pytest.raises(CalendarProblems, match="AUP01 for 2026M11"):
        await _import(runtime, twice)


async def test_kalender_ics_is_valid_icalendar_in_copenhagen_time_and_shows_a_move(runtime, client, db_kind):
    await _import(runtime)
    await _import(runtime, FILE.replace(b'at = "2027-01-28T08:00:00"', b'at = "2027-01-29T08:00:00"'))
    resp = await client.get("/kalender.ics")
    assert resp.status == 200 and resp.content_type == "text/calendar"
    raw = await resp.read()
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and all(len(line) <= 75 for line in lines)  # CRLF, folded at 75 octets
    assert lines[0] == b"BEGIN:VCALENDAR" and b"END:VCALENDAR" in lines[-2:]
    cal = icalendar.Calendar.from_ical(raw)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    (tz,) = cal.walk("VTIMEZONE")
    assert tz["TZID"] == "Europe/Copenhagen" and {c.name for c in tz.subcomponents} == {"STANDARD", "DAYLIGHT"}
    events = cal.walk("VEVENT")
    assert len(events) == 6 and len({str(e["UID"]) for e in events}) == 6
    assert b"DTSTART;TZID=Europe/Copenhagen:20261222T080000" in raw
    first = events[0]
    assert first.decoded("DTSTART") == datetime(2026, 12, 22, 8, 0, tzinfo=CPH)
    assert str(first["SUMMARY"]) == "Ledighedstal for november 2026 (AUL01, AUP01)"
    assert "Beskæftigelsesrådets kommentar kl. 08.30." in str(first["DESCRIPTION"])
    assert all(e.get("DTSTAMP") for e in events)
    moved = next(e for e in events if "december 2026" in str(e["SUMMARY"]))
    assert str(moved["SUMMARY"]).endswith("– flyttet") and int(moved["SEQUENCE"]) == 1
    assert "Flyttet fra 28. januar 2027 kl. 08.00." in str(moved["DESCRIPTION"])
    assert moved.decoded("DTSTART") == datetime(2027, 1, 29, 8, 0, tzinfo=CPH)

    page = await client.get("/kalender")
    html = await page.text()
    assert page.status == 200 and 'href="/kalender.ics"' in html
    assert "tirsdag 22. december 2026" in html and "Beskæftigelsesrådets kommentar kl. 08.30" in html
    assert "Flyttet fra 28. januar 2027 kl. 08.00" in html


async def _statbank_source(runtime, url: str, table: str = "AUL01") -> int:
    return await add_source(runtime, table.lower(), url, kind="statbank", item_kind="figures", topics=["ledighedstal"],
                            options={"table": table})


async def test_polled_at_the_moment_tightly_for_a_window_then_rarely(runtime, standin, db_kind):
    cfg = runtime.settings.calendar
    standin.publish(made_up_release("2026M10", seed=1))
    sid = await _statbank_source(runtime, standin.url)
    await _import(runtime)
    moment = datetime(2026, 12, 22, 7, 0, tzinfo=timezone.utc)
    runtime.clock.set(moment - timedelta(hours=5))

    async def planned(failures: int = 0) -> datetime:
        async with runtime.db.transaction() as s:
            row = await s.get(Source, sid)
            row.consecutive_failures = failures
            default = runtime.clock.now() + timedelta(minutes=row.interval_minutes)
            return await next_poll_at(s, row, runtime.clock.now(), default, cfg)

    now = runtime.clock.now()
    assert await planned() == now + timedelta(minutes=cfg.idle_poll_minutes)  # rarely: once an hour
    runtime.clock.set(moment - timedelta(minutes=20))
    assert await planned() == moment  # never later than the moment itself
    runtime.clock.set(moment + timedelta(seconds=1))
    assert await planned() == runtime.clock.now() + timedelta(seconds=5)  # tightly inside the window
    assert await planned(failures=2) == runtime.clock.now() + timedelta(seconds=20)  # backing off on errors
    assert await planned(failures=9) == runtime.clock.now() + timedelta(minutes=1)

    # The poll that sees November's figures ends the tight polling for this table.
    standin.publish(made_up_release("2026M11", seed=2))
    assert (await poll_source(runtime, sid)).new == 1
    async with runtime.db.reader() as s:
        after = (await s.get(Source, sid)).next_poll_at
    assert after >= runtime.clock.now() + timedelta(minutes=10)  # the next entry is a month away: the idle pace

    runtime.clock.set(moment + timedelta(minutes=cfg.window_minutes, seconds=1))
    assert await planned() > runtime.clock.now() + timedelta(minutes=10)  # the window is over


async def test_a_late_release_is_flagged_on_the_dashboard_and_mailed_to_the_press_officers(
        runtime, standin, smtp_server, db_kind):
    from tests.admin_support import staff_client

    await add_user(runtime, "pia@raadet.example", "press")
    await add_user(runtime, "editor@raadet.example", "editor")
    await _import(runtime)
    moment = datetime(2026, 12, 22, 7, 0, tzinfo=timezone.utc)
    runtime.clock.set(moment + timedelta(minutes=14, seconds=59))
    assert await flag_late(runtime, runtime.clock.now()) == 0
    runtime.clock.set(moment + timedelta(minutes=15))
    assert await flag_late(runtime, runtime.clock.now()) == 1
    assert await flag_late(runtime, runtime.clock.now() + timedelta(minutes=5)) == 0  # once
    await Worker(runtime).drain()
    (mail,) = smtp_server.to("pia@raadet.example")
    assert mail.message["Subject"] == "Forsinket udgivelse: AUL01, AUP01 for november 2026"
    text = mail.message.get_body(("plain",)).get_content()
    assert "22. december 2026 kl. 08.00" in text and "15 minutter" in text and "/admin/calendar" in text
    assert smtp_server.to("editor@raadet.example") == []

    client = await staff_client(runtime)
    html = await (await client.get("/admin/")).text()
    assert 'id="late-releases"' in html and "AUL01, AUP01 for 2026M11" in html and "ikke set endnu" in html

    # The figures come after all: the panel says when.
    standin.publish(made_up_release("2026M11", seed=5))
    for table in ("AUL01", "AUP01"):
        await poll_source(runtime, await _statbank_source(runtime, standin.url, table))
    await flag_late(runtime, runtime.clock.now())
    html = await (await client.get("/admin/")).text()
    await client.close()
    assert "kom 22. december 2026 kl. 08.15" in html
    async with runtime.db.reader() as s:
        entry = await s.scalar(select(ReleaseEntry).where(ReleaseEntry.period == "2026M11"))
    assert entry.seen_at == runtime.clock.now()
