"""Digests on SQLite and PostgreSQL, through the send worker to a real SMTP server.

The clock fixture stands at Monday 23 November 2026, 09:00 in Copenhagen (08:00 UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from service.db.models import DigestRun, Match
from service.delivery.worker import Worker
from service.digests import run as digest_run
from service.digests.run import run_digest
from service.matching.match import match_pending_items
from service.scheduler import digest_job
from tests.integration._matching import add_item, add_subscriber, deliveries

UTC = timezone.utc


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def html_of(received) -> str:
    return received.message.get_body(("html",)).get_content()


async def test_one_digest_at_seven_none_on_an_empty_day_one_catch_up(runtime, clock, smtp_server, db_kind):
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily")
    # Monday 23 Nov, 07:00 local ran with nothing to send.
    clock.set(datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
    assert await digest_job(runtime, "daily") == 0

    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    await add_item(runtime, "Mandagens nyhed")
    await match_pending_items(runtime)
    clock.set(datetime(2026, 11, 24, 5, 59, tzinfo=UTC))  # 06:59 Tuesday in Copenhagen: not yet
    assert await digest_job(runtime, "daily") == 0
    await Worker(runtime).drain()
    assert smtp_server.received == []

    clock.set(datetime(2026, 11, 24, 6, 0, tzinfo=UTC))  # 07:00 Tuesday
    assert await digest_job(runtime, "daily") == 1
    assert await digest_job(runtime, "daily") == 0  # the scheduler firing twice sends nothing twice
    await Worker(runtime).drain()
    (mail,) = smtp_server.to("daglig@example.dk")
    assert "Mandagens nyhed" in text_of(mail)
    assert mail.message["Subject"] == "Dit daglige overblik: 1 ny meddelelse"

    # An empty day: no mail on Wednesday.
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    assert await digest_job(runtime, "daily") == 0
    await Worker(runtime).drain()
    assert len(smtp_server.to("daglig@example.dk")) == 1

    # Down from Wednesday 07:00 to Saturday 09:00: items arrived on three days; one catch-up digest.
    for day, title in ((25, "Onsdag"), (26, "Torsdag"), (27, "Fredag")):
        clock.set(datetime(2026, 11, day, 12, 0, tzinfo=UTC))
        await add_item(runtime, f"Nyhed {title}")
        await match_pending_items(runtime)
    clock.set(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    assert await digest_job(runtime, "daily") == 1
    await Worker(runtime).drain()
    mails = smtp_server.to("daglig@example.dk")
    assert len(mails) == 2
    text = text_of(mails[1])
    assert all(f"Nyhed {t}" in text for t in ("Onsdag", "Torsdag", "Fredag")) and "Mandagens" not in text
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(Match.id)).where(Match.delivery_id.is_(None))) == 0
        runs = (await s.execute(select(DigestRun.period_key, DigestRun.status, DigestRun.deliveries)
                                .order_by(DigestRun.period_key))).all()
    assert [tuple(r) for r in runs] == [("2026-11-23", "done", 0), ("2026-11-24", "done", 1),
                                        ("2026-11-25", "done", 0), ("2026-11-28", "done", 1)]


async def test_run_twice_one_mail_and_weekly_apart(runtime, smtp_server, db_kind):
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily")
    await add_subscriber(runtime, "ugentlig@example.dk", frequency="weekly")
    await add_item(runtime, "Nyhed")
    await match_pending_items(runtime)
    assert await run_digest(runtime, "daily", "2026-11-23") == 1
    assert await run_digest(runtime, "daily", "2026-11-23") == 0
    assert await run_digest(runtime, "weekly", "2026-W48") == 1
    assert await run_digest(runtime, "weekly", "2026-W48") == 0
    await Worker(runtime).drain()
    assert len(smtp_server.to("daglig@example.dk")) == 1
    (weekly,) = smtp_server.to("ugentlig@example.dk")
    assert weekly.message["Subject"] == "Dit ugentlige overblik: 1 ny meddelelse"


async def test_crash_mid_run_resumes_without_duplicates(runtime, smtp_server, db_kind, monkeypatch):
    for n in range(7):
        await add_subscriber(runtime, f"d{n}@example.dk", frequency="daily")
    await add_item(runtime, "Første")
    await add_item(runtime, "Anden")
    await match_pending_items(runtime)

    real = digest_run.queue_chunk
    calls = []

    async def crash_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise ConnectionError("the process died here")
        return await real(*args, **kwargs)

    monkeypatch.setattr(digest_run, "queue_chunk", crash_on_third)
    with pytest.raises(ConnectionError):
        await run_digest(runtime, "daily", "2026-11-23", chunk_size=2)
    assert len(await deliveries(runtime, "digest")) == 4  # two chunks were committed
    await Worker(runtime).drain()  # and sent, before the restart
    monkeypatch.setattr(digest_run, "queue_chunk", real)

    assert await run_digest(runtime, "daily", "2026-11-23", chunk_size=2) == 3
    assert await run_digest(runtime, "daily", "2026-11-23", chunk_size=2) == 0
    await Worker(runtime).drain()
    for n in range(7):
        (mail,) = smtp_server.to(f"d{n}@example.dk")
        assert "Første" in text_of(mail) and "Anden" in text_of(mail)
    async with runtime.db.reader() as s:
        per_delivery = (await s.execute(select(Match.delivery_id, func.count()).group_by(Match.delivery_id))).all()
    assert sorted(n for _, n in per_delivery) == [2] * 7


async def test_operator_runs_one_subscriber_then_the_period_reaches_the_rest(runtime, smtp_server, db_kind):
    one = await add_subscriber(runtime, "en@example.dk", frequency="daily")
    await add_subscriber(runtime, "anden@example.dk", frequency="daily")
    await add_item(runtime, "Nyhed")
    await match_pending_items(runtime)
    assert await run_digest(runtime, "daily", "2026-11-23", subscriber_id=one) == 1
    assert await run_digest(runtime, "daily", "2026-11-23") == 1
    await Worker(runtime).drain()
    assert len(smtp_server.to("en@example.dk")) == 1 and len(smtp_server.to("anden@example.dk")) == 1


async def test_digest_grouped_by_topic_with_summary_feedback_and_footer(runtime, smtp_server, db_kind):
    await add_subscriber(runtime, "politiker@example.dk", frequency="daily", audience="politiker",
                         topics=("ledighedstal", "analyser", "best-practice"), municipalities=("751",))
    await add_subscriber(runtime, "reader@example.com", frequency="daily", language="en", topics=("analyser",))
    await add_item(runtime, "Analyse af ungeledighed", topics=("analyser",))
    await add_item(runtime, "Godt eksempel fra Skive", topics=("best-practice",))
    await add_item(runtime, "Ny analyse af langtidsledige", topics=("analyser", "ledighedstal"))
    await match_pending_items(runtime)
    assert await run_digest(runtime, "daily", "2026-11-23") == 2
    await Worker(runtime).drain()

    (mail,) = smtp_server.to("politiker@example.dk")
    text = text_of(mail)
    import os
    if os.environ.get("SHOW"):
        print(text, html_of(mail))
    # Leads with a short summary, then groups by topic in the taxonomy's order.
    assert text.index("KORT FORTALT") < text.index("== Ledighedstal ==") < text.index("== Analyser og overvågning ==") \
        < text.index("== Best practice ==")
    # "Ny analyse …" is filed under the subscriber's first chosen topic (ledighedstal).
    assert text.index("== Ledighedstal ==") < text.rindex("Ny analyse af langtidsledige") < text.index("== Analyser og")
    assert text.count("Var det nyttigt? Ja: http://127.0.0.1:8080/feedback/") == 3
    assert "Ret dit abonnement: http://127.0.0.1:8080/preferences/" in text
    html = html_of(mail)
    assert "<style" not in html and 'style="' in html  # CSS inlined
    assert html.count(">Ja</a>") == 3 and "Kort fortalt" in html

    (en,) = smtp_server.to("reader@example.com")
    assert en.message["Subject"] == "Your daily digest: 2 new items"
    text = text_of(en)
    assert "Was this useful? Yes:" in text and "Unsubscribe: http://127.0.0.1:8080/unsubscribe/" in text
    assert "Godt eksempel" not in text and "In short" not in text
