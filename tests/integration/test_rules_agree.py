"""Each matching rule says the same thing twice: its SQL form (`where`, used to fan an item
out in one INSERT … SELECT) and its Python form (`check`, used by `explain`). Hypothesis
draws an item and a population of subscribers, writes them to a real database (SQLite and
PostgreSQL), and the subscribers the SQL lets through must be exactly those for whom every
`check` passes: rule by rule, and all rules together (with suppression tested in SQL and
as the list of ids the matcher precomputes)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from service.db.dialect import dialect_of, prepare
from service.db.engine import Database
from service.db.models import Delivery, Match
from service.db.reference import Municipality, Topic
from service.matching.rules import (
    RULES, ItemFacts, RevisionScope, SqlContext, SubscriberFacts, evaluate, subscriber_condition,
)
from service.settings import DatabaseSettings
from subscribers.models import STATUSES, Subscriber, Suppression, subscriber_municipalities, subscriber_topics
from subscribers.suppression import email_hash, suppressed_active_ids
from tests.conftest import PG_ADMIN_URL, _pg_exec, _pg_url

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
TOPICS = 4  # the first topics and municipalities of the seeded reference data are drawn from
MUNICIPALITIES = 4
REGION = "082"

people = st.lists(
    st.fixed_dictionaries({
        "status": st.sampled_from(STATUSES),
        "suppressed": st.booleans(),
        "topics": st.sets(st.integers(0, TOPICS - 1)),
        "municipalities": st.sets(st.integers(0, MUNICIPALITIES - 1)),
    }),
    min_size=1, max_size=12,
)
items = st.fixed_dictionaries({
    "topics": st.sets(st.integers(0, TOPICS - 1)),
    "municipalities": st.sets(st.integers(0, MUNICIPALITIES - 1)),
    "public_in_minutes": st.one_of(st.none(), st.integers(-120, 120)),
    "urgent": st.booleans(),
    # a figures revision being announced: which of the municipalities changed, and the region's total
    "revised": st.one_of(st.none(), st.tuples(st.sets(st.integers(0, MUNICIPALITIES - 1)), st.booleans())),
})


class Population:
    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.db = Database(DatabaseSettings(url=url, connect_retries=0))
        self.topics, self.codes = self.run(self._reference())

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()

    async def _reference(self):
        async with self.db.reader() as s:
            topics = list(await s.scalars(select(Topic.id).order_by(Topic.id).limit(TOPICS)))
            codes = list(await s.scalars(select(Municipality.code).order_by(Municipality.code).limit(MUNICIPALITIES)))
        return topics, codes

    async def write(self, drawn: list[dict]) -> list[SubscriberFacts]:
        facts = []
        async with self.db.transaction() as s:
            for table in (Match, Delivery, subscriber_topics, subscriber_municipalities, Suppression, Subscriber):
                await s.execute(delete(table))
            for n, p in enumerate(drawn):
                email = f"person{n}@example.dk"
                sid = await s.scalar(insert(Subscriber).values(email=email, status=p["status"], created_at=NOW)
                                     .returning(Subscriber.id))
                topics = frozenset(self.topics[t] for t in p["topics"])
                codes = frozenset(self.codes[m] for m in p["municipalities"])
                if topics:
                    await s.execute(insert(subscriber_topics), [{"subscriber_id": sid, "topic_id": t} for t in topics])
                if codes:
                    await s.execute(insert(subscriber_municipalities),
                                    [{"subscriber_id": sid, "municipality_code": c} for c in codes])
                if p["suppressed"]:
                    s.add(Suppression(email_hash=email_hash(email.upper()), reason="manual", created_at=NOW))
                facts.append(SubscriberFacts(id=sid, status=p["status"], suppressed=p["suppressed"],
                                             topic_ids=topics, municipalities=codes))
        return facts

    async def through(self, item: ItemFacts, rules, precomputed: bool) -> set[int]:
        async with self.db.reader() as s:
            await prepare(s)
            ids = await suppressed_active_ids(s) if precomputed else None
            ctx = SqlContext(dialect_of(s), NOW, ids)
            return set(await s.scalars(select(Subscriber.id).where(subscriber_condition(item, ctx, rules))))


def _item(drawn: dict, pop: Population) -> ItemFacts:
    minutes = drawn["public_in_minutes"]
    return ItemFacts(
        id=1, topic_ids=frozenset(pop.topics[t] for t in drawn["topics"]),
        municipalities=frozenset(pop.codes[m] for m in drawn["municipalities"]),
        public_at=None if minutes is None else NOW + timedelta(minutes=minutes), urgent=drawn["urgent"],
        revision=None if drawn["revised"] is None else RevisionScope(
            frozenset(pop.codes[m] for m in drawn["revised"][0]) | ({REGION} if drawn["revised"][1] else set()), REGION),
    )


@pytest.fixture
def population(db_kind, request, tmp_path):
    if db_kind == "sqlite":
        import shutil

        target = tmp_path / "rules.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        pop = Population(f"sqlite+aiosqlite:///{target}")
        yield pop
        pop.close()
        return
    import uuid

    template = request.getfixturevalue("pg_template")
    name = f"bb_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    pop = Population(_pg_url(name))
    try:
        yield pop
    finally:
        pop.close()
        asyncio.run(_pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn_people=people, drawn_item=items)
def test_every_rules_sql_and_check_agree(population, drawn_people, drawn_item):
    subs = population.run(population.write(drawn_people))
    item = _item(drawn_item, population)
    for rule in RULES:
        expected = {s.id for s in subs if rule.check(item, s, NOW).ok}
        assert population.run(population.through(item, (rule,), precomputed=False)) == expected, rule.name
    everyone = {s.id for s in subs if all(v.ok for v in evaluate(item, s, NOW))}
    assert population.run(population.through(item, RULES, precomputed=False)) == everyone
    assert population.run(population.through(item, RULES, precomputed=True)) == everyone
