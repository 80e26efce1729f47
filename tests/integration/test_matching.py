"""Matching on SQLite and PostgreSQL: who gets an item, how (alert or digest entry), once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from service.db.campaigns import Campaign
from service.db.models import Item
from service.matching.match import explain, match_pending_items
from tests.integration._matching import add_item, add_subscriber, deliveries, matches, recipients, revise


async def test_topic_and_municipality_rules(runtime, db_kind):
    await add_subscriber(runtime, "aarhus@example.dk", municipalities=("751",))
    await add_subscriber(runtime, "alle@example.dk")  # chose no municipality: gets every local item
    await add_subscriber(runtime, "samsoe@example.dk", municipalities=("741",))
    await add_subscriber(runtime, "andet-emne@example.dk", topics=("analyser",))
    await add_subscriber(runtime, "begge@example.dk", topics=("analyser", "ledighedstal"), municipalities=("741", "751"))

    await add_item(runtime, "Ny indsats i Aarhus", municipalities=("751",))
    await add_item(runtime, "Regional nyhed")  # not local: every ledighedstal subscriber

    assert await match_pending_items(runtime) == 2
    alerts = await deliveries(runtime, "alert")
    got = {}
    for d in alerts:
        got.setdefault(d.item_id, set()).add(d.recipient)
    local, regional = sorted(got)
    assert got[local] == {"aarhus@example.dk", "alle@example.dk", "begge@example.dk"}
    assert got[regional] == {"aarhus@example.dk", "alle@example.dk", "samsoe@example.dk", "begge@example.dk"}
    # Every immediate match points at its alert; the keys and Message-IDs follow the outbox's rules.
    from service.delivery.outbox import message_id_for

    by_id = {d.id: d for d in alerts}
    ms = await matches(runtime)
    assert len(ms) == 7 and all(m.delivery_id in by_id for m in ms)
    for m in ms:
        d = by_id[m.delivery_id]
        assert d.key == f"alert:{m.item_id}:{m.subscriber_id}:1" and d.subscriber_id == m.subscriber_id
        assert d.message_id == message_id_for(d.key, "budbringer.example") and d.status == "queued"


async def test_only_active_unsuppressed_subscribers(runtime, db_kind):
    from subscribers.suppression import email_hash
    from subscribers.models import Suppression

    await add_subscriber(runtime, "aktiv@example.dk")
    await add_subscriber(runtime, "ubekraeftet@example.dk", status="pending")
    await add_subscriber(runtime, "afmeldt@example.dk", status="unsubscribed")
    await add_subscriber(runtime, "blokeret@example.dk", status="blocked")
    sup = await add_subscriber(runtime, "spaerret@example.dk")
    await add_subscriber(runtime, "daglig-spaerret@example.dk", frequency="daily")
    async with runtime.db.transaction() as s:
        for e in ("spaerret@example.dk", "daglig-spaerret@example.dk"):
            s.add(Suppression(email_hash=email_hash(e), reason="manual", created_at=runtime.clock.now()))
    item = await add_item(runtime, "Nyhed")

    await match_pending_items(runtime)
    assert await recipients(runtime) == ["aktiv@example.dk"]
    assert [m.subscriber_id for m in await matches(runtime)] != []
    assert len(await matches(runtime)) == 1
    async with runtime.db.reader() as s:
        why = {v.rule: v for v in await explain(s, item, sup, runtime.clock.now())}
    assert not why["not_suppressed"].ok and why["topic"].ok


async def test_daily_and_weekly_get_pending_entries_urgent_goes_out_at_once(runtime, db_kind):
    await add_subscriber(runtime, "straks@example.dk")
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily")
    await add_subscriber(runtime, "ugentlig@example.dk", frequency="weekly")

    await add_item(runtime, "Almindelig nyhed")
    await match_pending_items(runtime)
    assert await recipients(runtime) == ["straks@example.dk"]
    pending = [m for m in await matches(runtime) if m.delivery_id is None]
    assert sorted(m.frequency for m in pending) == ["daily", "weekly"]

    await add_item(runtime, "Vigtig ændring", urgent=True)
    await match_pending_items(runtime)
    urgent = [d for d in await deliveries(runtime, "alert") if d.item_id == 2]
    assert sorted(d.recipient for d in urgent) == ["daglig@example.dk", "straks@example.dk", "ugentlig@example.dk"]


async def test_each_alert_is_linked_from_its_match_and_each_digest_entry_from_none(runtime, db_kind):
    """PostgreSQL writes matches and alerts in one statement, SQLite in three: the same rows."""
    for email, frequency in (("straks@example.dk", "immediate"), ("daglig@example.dk", "daily"),
                             ("ugentlig@example.dk", "weekly"), ("straks2@example.dk", "immediate")):
        await add_subscriber(runtime, email, frequency=frequency)
    await add_subscriber(runtime, "andet@example.dk", topics=("analyser",))
    item = await add_item(runtime, "Nyhed")
    assert await match_pending_items(runtime) == 1
    alerts = {d.id: d for d in await deliveries(runtime, "alert")}
    rows = await matches(runtime)
    assert len(rows) == 4 and {m.item_id for m in rows} == {item}
    linked = {m.delivery_id: m for m in rows if m.delivery_id is not None}
    assert set(linked) == set(alerts)
    for delivery_id, m in linked.items():
        assert m.frequency == "immediate" and alerts[delivery_id].subscriber_id == m.subscriber_id
        assert alerts[delivery_id].key == f"alert:{item}:{m.subscriber_id}:1"
    assert sorted(m.frequency for m in rows if m.delivery_id is None) == ["daily", "weekly"]


async def test_never_twice_and_revisions(runtime, db_kind):
    await add_subscriber(runtime, "straks@example.dk")
    await add_subscriber(runtime, "daglig@example.dk", frequency="daily")
    item = await add_item(runtime, "Nyhed")

    assert await match_pending_items(runtime) == 1
    assert await match_pending_items(runtime) == 0  # nothing new
    assert len(await deliveries(runtime)) == 1 and len(await matches(runtime)) == 2

    # An edit the source does not announce: nobody hears of it again.
    await revise(runtime, item, title="Nyhed (rettet)", announce=False)
    assert await match_pending_items(runtime) == 1
    assert len(await deliveries(runtime)) == 1
    # Mark the daily entry as delivered, as a digest run would.
    async with runtime.db.transaction() as s:
        from service.db.models import Match

        daily = await s.scalar(select(Match).where(Match.frequency == "daily"))
        daily.delivery_id = (await deliveries(runtime))[0].id

    # An announced edit: the immediate subscriber gets a new alert, the daily one a new entry.
    await revise(runtime, item, title="Nyhed (vigtig rettelse)", announce=True)
    assert await match_pending_items(runtime) == 1
    keys = [d.key for d in await deliveries(runtime)]
    assert keys == [f"alert:{item}:1:1", f"alert:{item}:1:3"]
    ms = {m.frequency: m for m in await matches(runtime)}
    assert ms["daily"].delivery_id is None and ms["immediate"].delivery_id == (await deliveries(runtime))[1].id
    assert await match_pending_items(runtime) == 0


async def test_a_match_there_before_the_first_fan_out_is_kept_and_everyone_else_still_matched(runtime, db_kind):
    """PostgreSQL's first fan-out runs without its ON CONFLICT guards (nothing else writes an
    item's matches): should one be there after all, the fan-out is run again with them, so
    it neither fails nor writes a subscriber's match twice."""
    from service.db.models import Match

    early = await add_subscriber(runtime, "tidlig@example.dk", frequency="daily")
    await add_subscriber(runtime, "straks@example.dk")
    await add_subscriber(runtime, "straks2@example.dk")
    item = await add_item(runtime, "Nyhed")
    async with runtime.db.transaction() as s:
        s.add(Match(subscriber_id=early, item_id=item, frequency="daily", reason="topic",
                    created_at=runtime.clock.now()))

    assert await match_pending_items(runtime) == 1
    rows = await matches(runtime)
    assert sorted(m.subscriber_id for m in rows) == sorted({m.subscriber_id for m in rows}) and len(rows) == 3
    assert await recipients(runtime) == ["straks2@example.dk", "straks@example.dk"]
    assert len(await deliveries(runtime, "alert")) == 2
    async with runtime.db.reader() as s:
        assert await s.scalar(select(Item.matched_revision).where(Item.id == item)) == 1


async def test_embargo_waits_until_public(runtime, clock, db_kind):
    await add_subscriber(runtime, "straks@example.dk")
    await add_item(runtime, "Under embargo", public_at=clock.now() + timedelta(hours=2))
    assert await match_pending_items(runtime) == 0
    assert await deliveries(runtime) == []
    clock.advance(hours=2)
    assert await match_pending_items(runtime) == 1
    assert await recipients(runtime) == ["straks@example.dk"]


async def test_explain_says_why(runtime, db_kind):
    sub = await add_subscriber(runtime, "samsoe@example.dk", municipalities=("741",), audience="politiker")
    local = await add_item(runtime, "Aarhus", municipalities=("751",))
    regional = await add_item(runtime, "Region")
    async with runtime.db.reader() as s:
        no = await explain(s, local, sub, runtime.clock.now())
        yes = await explain(s, regional, sub, runtime.clock.now())
    assert not all(v.ok for v in no)
    assert [v.reason for v in no if not v.ok] == ["no municipality in common"]
    assert all(v.ok for v in yes)
    reasons = {v.rule: v.reason for v in yes}
    assert reasons["topic"] == "topic: ledighedstal" and reasons["municipality"] == "the item is not local"
    assert "summary" in reasons["audience"]


async def test_matching_drafts_nothing_the_step_after_it_does_and_a_failure_there_is_tried_again(
        runtime, db_kind, monkeypatch, caplog):
    import service.campaigns.draft_step as step
    from service.campaigns.drafts import draft_from_figures
    from service.scheduler import match

    calls = []

    async def broken(rt, item_id):
        calls.append(item_id)
        raise RuntimeError("draft store down")

    await add_subscriber(runtime, "straks@example.dk")
    item = await add_item(runtime, "Ledighedstal", kind="figures", data={"areas": []})
    await add_item(runtime, "Nyhed")
    assert await match_pending_items(runtime) == 2  # matching alone: mail, no draft
    assert len(await deliveries(runtime)) == 2
    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count(Campaign.id))) == 0
    monkeypatch.setattr(step, "draft_from_figures", broken)
    await match(runtime)  # the scheduler's job: match (nothing new), then the figures step
    assert calls == [item]  # the figures item only
    assert "press draft for figures item" in caplog.text
    async with runtime.db.reader() as s:
        assert (await s.get(Item, item)).matched_revision == 1
    monkeypatch.setattr(step, "draft_from_figures", draft_from_figures)
    await match(runtime)  # the next round makes the draft ...
    await match(runtime)  # ... once
    async with runtime.db.reader() as s:
        assert list(await s.scalars(select(Campaign.figures_item_id))) == [item]
