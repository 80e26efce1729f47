"""A stateful property test of the promise Budbringer makes to its readers, on SQLite and
PostgreSQL, through the real entry points and the real send worker to a real SMTP server.

Hypothesis drives random sequences of signups, confirmations (by the link in the mail),
unsubscribes (everything, or one topic), preference changes, suppressions (a staff
entry, a hard bounce, erasure, lifting a suppression), new items (topics and
municipalities from the real taxonomy; some urgent, some under embargo), matching,
daily and weekly digest runs, newsletters, the clock moving on, and the send worker
draining the outbox. A small model, written here independently of the product, keeps
who is what and when. After every step:

1. Nobody unwanted gets mail: every message the SMTP server received went to someone
   who, at the moment it was sent, was not suppressed and had a status that allows that
   kind of mail: a confirmation mail to someone pending (or who has just confirmed);
   anything else (welcome, manage link, alert, digest, newsletter) only to someone active.
2. Nobody matching is left out: an item reaches everyone who, when it was matched, was
   active and not suppressed and whose topics (and municipalities, where they chose some)
   fit it, and who has stayed so since: as an alert at the next send (immediate
   subscribers, and everyone for an urgent item), or in the digest of their frequency
   once that digest has run and been sent. Nobody gets an item that did not fit them,
   and nobody gets one item twice.

The model says exactly which messages each drain of the outbox should deliver; a
message the model does not expect, or an expected one to someone who stayed eligible
that did not arrive, fails the test with the step that caused it.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import re
import shutil
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from service.bounces import audience as bounces
from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.release import release_due
from service.clock import FrozenClock
from service.delivery.worker import Worker
from service.digests.run import run_digest
from service.matching.match import match_pending_items
from service.wiring import build_runtime
from subscribers import lifecycle, suppression
from subscribers.lifecycle import Choices, Evidence
from subscribers.models import Subscriber
from subscribers.tokens import TokenExpired
from tests.conftest import PG_ADMIN_URL, _pg_exec, _pg_url, make_settings
from tests.integration._matching import add_item

DATA = Path(__file__).resolve().parents[2] / "service" / "data"
with open(DATA / "topics.toml", "rb") as fh:
    TOPICS = [t["slug"] for t in tomllib.load(fh)["topics"]]
with open(DATA / "municipalities.csv", newline="", encoding="utf-8") as fh:
    MUNICIPALITIES = [row["code"] for row in csv.DictReader(fh)]

ADDRESSES = ("anna@example.dk", "bo@jobcenter.example", "cecilie@example.dk", "dorthe@kommune.example")
TZ = ZoneInfo("Europe/Copenhagen")
START = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # Monday, 09:00 in Copenhagen
WINDOW = timedelta(minutes=60)  # subscribers.confirm_mail_window_minutes (default)
CONFIRM_TTL = timedelta(days=7)  # subscribers.confirm_token_days (default)
REFERENCE_TABLES = ("topics", "audiences", "municipalities")
EXAMPLES = {"sqlite": 30, "postgres": 20}  # about 15 s and 10 s here

# A few topics and municipalities drawn more often, so subscribers and items meet; the
# whole taxonomy stays in play.
topic = st.sampled_from(TOPICS[:2]) | st.sampled_from(TOPICS[:2]) | st.sampled_from(TOPICS)
municipality = (st.sampled_from(MUNICIPALITIES[:2]) | st.sampled_from(MUNICIPALITIES[:2])
                | st.sampled_from(MUNICIPALITIES))
topics = st.lists(topic, min_size=1, max_size=3, unique=True)
municipalities = st.lists(municipality, max_size=2, unique=True)  # empty: the whole region
frequencies = st.sampled_from(("immediate", "daily", "weekly"))
addresses = st.sampled_from(ADDRESSES)
new_item_lists = st.lists(
    st.tuples(st.lists(topic, min_size=1, max_size=2, unique=True), municipalities,
              st.sampled_from((False, False, True)), st.none() | st.none() | st.integers(1, 48)),  # urgent, embargo
    min_size=1, max_size=3)

# The digest that carries a person's waiting entries, by their frequency when it runs: what
# waited for someone who has since moved to immediate goes with the next daily digest.
DIGEST_OF = {"daily": "daily", "weekly": "weekly", "immediate": "daily"}

# Which statuses may receive which kind of mail (besides: never a suppressed address).
MAY_RECEIVE = {"confirm": {"pending", "active"}}
ACTIVE_ONLY = {"active"}


# ------------------------------------------------------------------ the model


@dataclass
class Person:
    email: str
    id: int | None = None  # the subscriber row, while there is one
    status: str | None = None  # None: no row (never signed up, or erased)
    topics: frozenset[str] = frozenset()
    municipalities: frozenset[str] = frozenset()
    frequency: str = "immediate"
    last_mail_at: datetime | None = None  # the last confirmation or manage mail (the window)
    row: int = 0  # how many subscriber rows this address has had (erasure ends one)
    entries: dict[int, int] = field(default_factory=dict)  # item number -> step matched (waits for a digest)


@dataclass
class ModelItem:
    number: int
    topics: frozenset[str]
    municipalities: frozenset[str]
    urgent: bool
    public_at: datetime | None
    matched: bool = False

    @property
    def title(self) -> str:
        return f"Meddelelse [{self.number}]"


@dataclass
class Expected:
    """A message the model expects the next drain to deliver (unless it was stopped)."""

    kind: str
    email: str
    step: int  # when it was queued
    items: frozenset[int] = frozenset()  # alert: one item; digest: its entries
    title: str = ""  # newsletter

    def allowed(self) -> set[str]:
        return MAY_RECEIVE.get(self.kind, ACTIVE_ONLY)

    @property
    def key(self) -> tuple:
        return self.kind, self.email, self.items, self.title


@dataclass
class Got:
    """A message the SMTP server received, read as the recipient would."""

    kind: str
    email: str
    step: int
    subject: str
    items: frozenset[int]
    body: str
    at: datetime
    subscriber: int | None  # the model's subscriber row of the recipient when it was sent

    @property
    def key(self) -> tuple:
        return self.kind, self.email, self.items, self.subject if self.kind == "newsletter" else ""


ITEM_TITLE = re.compile(r"Meddelelse \[(\d+)\]")


def fits(person: Person, item: ModelItem) -> bool:
    """The matching rule, stated plainly: a common topic, and for a local item a common
    municipality unless the person chose none (then every municipality is theirs)."""
    if not person.topics & item.topics:
        return False
    return not item.municipalities or not person.municipalities or bool(person.municipalities & item.municipalities)


def period(frequency: str, now: datetime) -> str:
    day = now.astimezone(TZ).date()
    if frequency == "daily":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# ------------------------------------------------------------------ the machine


@dataclass
class Env:
    db_kind: str
    db_url: str
    template: Path | None
    tmp_path: Path
    sink: object


class Invariant(RuleBasedStateMachine):
    env: Env  # set by the test

    def __init__(self):
        super().__init__()
        self.loop = asyncio.new_event_loop()
        env = self.env
        env.sink.received.clear()
        self.run(self._reset_database())
        self.clock = FrozenClock(START)
        self.runtime = build_runtime(make_settings(env.db_url, env.tmp_path, env.sink.port), clock=self.clock)
        self.step = 0
        self.people = {e: Person(e) for e in ADDRESSES}
        self.suppressed: set[str] = set()
        # email -> [(step, status, suppressed)], so "what was true when" can be asked later.
        self.history: dict[str, list[tuple[int, str | None, bool]]] = {e: [(0, None, False)] for e in ADDRESSES}
        self.items: dict[int, ModelItem] = {}
        self.periods_run: set[tuple[str, str]] = set()
        # Digest runs of a new period: (step, frequency, each person's frequency at that moment).
        self.runs: list[tuple[int, str, dict[str, str]]] = []
        self.drains: list[int] = []
        self.queue: list[Expected] = []
        self.got: list[Got] = []
        self.delivered: set[tuple[str, int]] = set()  # (email, item number) that arrived
        self.newsletters = 0
        self.welcomed: set[tuple[str, int, datetime]] = set()

    # -------------------------------------------------------------- plumbing

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    async def _reset_database(self):
        env = self.env
        if env.db_kind == "sqlite":
            shutil.copy(env.template, env.db_url.removeprefix("sqlite+aiosqlite:///"))
            return
        from service.db.base import Base
        import service.db.models  # noqa: F401  (every table on the metadata)
        import subscribers.models  # noqa: F401

        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name not in REFERENCE_TABLES)
        await _pg_exec(env.db_url, f"TRUNCATE {names} RESTART IDENTITY CASCADE")

    def teardown(self):
        try:
            self.run(self.runtime.close())
        finally:
            self.loop.close()

    def _tick(self) -> int:
        self.step += 1
        return self.step

    def _set(self, person: Person, status: str | None = ..., suppressed: bool | None = None) -> None:
        if status is not ...:
            person.status = status
        if suppressed is True:
            self.suppressed.add(person.email)
        elif suppressed is False:
            self.suppressed.discard(person.email)
        self.history[person.email].append((self.step, person.status, person.email in self.suppressed))

    def state_at(self, email: str, step: int) -> tuple[str | None, bool]:
        status, sup = None, False
        for at, s, blocked in self.history[email]:
            if at > step:
                break
            status, sup = s, blocked
        return status, sup

    def steady(self, email: str, since: int, until: int, allowed: set[str]) -> bool:
        """Allowed and unsuppressed at `since` and at every change up to `until`."""
        status, sup = self.state_at(email, since)
        if status not in allowed or sup:
            return False
        return all(s in allowed and not blocked for at, s, blocked in self.history[email] if since < at <= until)

    def eligible(self, person: Person) -> bool:
        return person.status == "active" and person.email not in self.suppressed

    async def _id_of(self, email: str) -> int | None:
        async with self.runtime.db.reader() as s:
            return await s.scalar(select(Subscriber.id).where(Subscriber.email == email))

    # -------------------------------------------------------------- audience

    @initialize(people=st.lists(st.tuples(addresses, topics, municipalities, frequencies,
                                          st.sampled_from((True, True, True, False))),
                                min_size=1, max_size=len(ADDRESSES), unique_by=lambda t: t[0]))
    def audience(self, people):
        """Some people sign up and, after the confirmation mail has come, most confirm."""
        for email, chosen, local, frequency, _ in people:
            self._signup(email, False, chosen, local, frequency)
        self._drain()
        for email, *_, confirms in people:
            if confirms:
                self._confirm(email)

    @rule(email=addresses, shout=st.booleans(), topics=topics, municipalities=municipalities, frequency=frequencies)
    def signup(self, email, shout, topics, municipalities, frequency):
        self._signup(email, shout, topics, municipalities, frequency)

    def _signup(self, email, shout, topics, municipalities, frequency):
        step = self._tick()
        p, now = self.people[email], self.clock.now()
        choices = Choices(topics=list(topics), municipalities=list(municipalities), frequency=frequency)
        typed = email.upper() if shout else email

        async def go():
            async with self.runtime.db.transaction() as s:
                return await lifecycle.signup(self.runtime, s, typed, choices, now=now,
                                              evidence=Evidence(ip="127.0.0.1"))

        outcome = self.run(go())
        may_mail = p.last_mail_at is None or now - p.last_mail_at >= WINDOW
        if email in self.suppressed:
            expected = "suppressed"
        elif p.status == "active":
            expected = "manage_sent" if may_mail else "throttled"
        else:
            if p.status is None:
                p.id, p.last_mail_at, p.entries = None, None, {}
                p.row += 1
                may_mail = True
                self._set(p, "pending")
            elif p.status == "unsubscribed" and may_mail:
                self._set(p, "pending")  # throttled, a re-signup changes nothing: they stay unsubscribed
            expected = "confirm_sent" if may_mail else "throttled"
        assert outcome == expected, f"signup of {typed}: the product says {outcome}, the model {expected}"
        if outcome == "manage_sent":
            p.last_mail_at = now
            self.queue.append(Expected("manage", email, step))
        elif outcome == "confirm_sent":
            p.last_mail_at = now
            p.topics, p.municipalities, p.frequency = frozenset(topics), frozenset(municipalities), frequency
            if p.id is None:
                p.id = self.run(self._id_of(email))
            self.queue.append(Expected("confirm", email, step))

    def _with_confirm_mail(self) -> list[str]:
        return sorted({g.email for g in self.got if g.kind == "confirm"})

    @precondition(lambda self: self._with_confirm_mail())
    @rule(pick=st.integers(0, len(ADDRESSES) - 1))
    def confirm_by_link(self, pick):
        """Someone presses the button behind the link in their newest confirmation mail."""
        candidates = self._with_confirm_mail()
        self._confirm(candidates[pick % len(candidates)])

    def _confirm(self, email):
        mails = [g for g in self.got if g.email == email and g.kind == "confirm"]
        if not mails:
            return
        step = self._tick()
        p, now, mail = self.people[email], self.clock.now(), mails[-1]
        token = unquote(re.search(r"/confirm/(\S+)", mail.body).group(1))
        payload = base64.urlsafe_b64decode(token.split(".")[0] + "===").decode()
        purpose, subject_id, version, _, _ = payload.split("|")
        assert purpose == "confirm"
        expired = now >= mail.at + CONFIRM_TTL
        try:
            self.runtime.links.signer.read(token, "confirm")
            product_expired = False
        except TokenExpired:
            product_expired = True
        assert product_expired == expired, f"{email}'s confirm link expired? product {product_expired}, model {expired}"
        if expired:
            return

        async def go():
            async with self.runtime.db.transaction() as s:
                sub = await s.get(Subscriber, int(subject_id))
                if sub is None or sub.token_version != int(version):
                    return "gone"
                done = await lifecycle.confirm(self.runtime, s, sub.id, now=now, evidence=Evidence(ip="127.0.0.1"))
                return "gone" if done is None else done.status

        outcome = self.run(go())
        if p.status is None or p.id != mail.subscriber:
            expected = "gone"  # the link belongs to a subscription erased since
        elif p.status == "active":
            expected = "active"
        elif p.status == "pending" and email not in self.suppressed:
            expected = "active"
            self._set(p, "active")
            # One welcome per subscriber and second (its outbox key): confirming again in the
            # same second, after leaving and coming back, brings no second one.
            if (email, p.row, now) not in self.welcomed:
                self.welcomed.add((email, p.row, now))
                self.queue.append(Expected("welcome", email, step))
        else:
            expected = "gone"
        assert outcome == expected, f"confirm of {email}: the product says {outcome}, the model {expected}"

    def _known(self) -> list[Person]:
        return [p for p in self.people.values() if p.id is not None]

    def _pick(self, pick: int) -> Person:
        known = self._known()
        return known[pick % len(known)]

    @precondition(lambda self: self._known())
    @rule(pick=st.integers(0, len(ADDRESSES) - 1), topic=st.none() | topic)
    def unsubscribe(self, pick, topic):
        p = self._pick(pick)
        email = p.email
        self._tick()
        now = self.clock.now()

        async def go():
            async with self.runtime.db.transaction() as s:
                return await lifecycle.unsubscribe(s, p.id, now, topic=topic, source="web")

        outcome = self.run(go())
        if p.status == "unsubscribed":
            expected = "already"
        elif topic and topic not in p.topics:
            expected = "already"
        elif topic and len(p.topics) > 1:
            expected = "topic_removed"
            p.topics = p.topics - {topic}
        else:
            expected = "unsubscribed"
            self._set(p, "unsubscribed")
        assert outcome == expected, f"unsubscribe of {email} ({topic or 'all'}): product {outcome}, model {expected}"

    @precondition(lambda self: self._known())
    @rule(pick=st.integers(0, len(ADDRESSES) - 1), topics=topics, municipalities=municipalities, frequency=frequencies)
    def change_preferences(self, pick, topics, municipalities, frequency):
        p = self._pick(pick)
        self._tick()
        choices = Choices(topics=list(topics), municipalities=list(municipalities), frequency=frequency)

        async def go():
            async with self.runtime.db.transaction() as s:
                await lifecycle.change_preferences(self.runtime, s, p.id, choices, now=self.clock.now(),
                                                   evidence=Evidence(ip="127.0.0.1"))

        self.run(go())
        p.topics, p.municipalities, p.frequency = frozenset(topics), frozenset(municipalities), frequency

    @rule(email=addresses, action=st.sampled_from(("staff_suppresses", "hard_bounce", "staff_lifts", "erase")))
    def suppression_list(self, email, action):
        """The suppression list: a staff entry (the subscription itself is left as it is), a
        hard bounce (what the bounce handler does: suppress and end the subscription), staff
        lifting an entry, or the person's erasure (a suppression entry is all that is left)."""
        p, now = self.people[email], self.clock.now()
        if action == "erase" and p.id is None:
            return
        self._tick()

        async def go():
            async with self.runtime.db.transaction() as s:
                if action == "staff_suppresses":
                    return await suppression.suppress(s, email, reason="manual", now=now, by="staff")
                if action == "hard_bounce":
                    return await bounces.suppress(s, email, reason="hard_bounce", now=now)
                if action == "staff_lifts":
                    return await suppression.unsuppress(s, email, by="staff")
                return await lifecycle.erase(s, p.id, now=now, by="staff")

        outcome = self.run(go())
        if action == "staff_suppresses":
            assert outcome == (email not in self.suppressed)
            self._set(p, suppressed=True)
        elif action == "hard_bounce":
            self._set(p, "unsubscribed" if p.status in ("pending", "active") else p.status, suppressed=True)
        elif action == "staff_lifts":
            assert outcome == (email in self.suppressed)
            self._set(p, suppressed=False)
        else:
            assert outcome
            p.id, p.entries = None, {}
            self._set(p, None, suppressed=True)

    # -------------------------------------------------------------- items, matching, digests, campaigns

    @initialize(items=new_item_lists)
    def first_items(self, items):
        self._add_items(items)

    @rule(items=new_item_lists)
    def new_items(self, items):
        """Items arrive: topics and municipalities from the taxonomy; some urgent, some under embargo."""
        self._add_items(items)

    def _add_items(self, items):
        for chosen, local, urgent, embargo_hours in items:
            self._tick()
            now = self.clock.now()
            item = ModelItem(len(self.items) + 1, frozenset(chosen), frozenset(local), urgent,
                             now + timedelta(hours=embargo_hours) if embargo_hours else None)
            self.items[item.number] = item
            self.run(add_item(
                self.runtime, item.title, topics=tuple(chosen), municipalities=tuple(local), urgent=urgent,
                public_at=item.public_at, summary=f"Om {', '.join(sorted(chosen))}."))

    @rule(hours=st.sampled_from((6, 24, 24, 24 * 7)))
    def scheduler_round(self, hours):
        """What the running service does on its own: time passes, new items are matched,
        the digests of the day (and week) run, and the worker sends."""
        self._advance(hours)
        self._match()
        self._digest("daily")
        self._digest("weekly")
        self._drain()

    @rule()
    def match(self):
        self._match()

    def _match(self):
        step = self._tick()
        now = self.clock.now()
        matched = self.run(match_pending_items(self.runtime))
        due = [i for i in self.items.values() if not i.matched and (i.public_at is None or i.public_at <= now)]
        assert matched == len(due), f"matched {matched} items, the model {len(due)}"
        for item in due:
            item.matched = True
            for p in self.people.values():
                if not self.eligible(p) or not fits(p, item):
                    continue
                if item.urgent or p.frequency == "immediate":
                    self.queue.append(Expected("alert", p.email, step, frozenset({item.number})))
                else:
                    p.entries[item.number] = step

    @rule(frequency=st.sampled_from(("daily", "weekly")))
    def digest_run(self, frequency):
        self._digest(frequency)

    def _digest(self, frequency):
        step = self._tick()
        now = self.clock.now()
        queued = self.run(run_digest(self.runtime, frequency))
        key = (frequency, period(frequency, now))
        expected = 0
        if key not in self.periods_run:
            self.periods_run.add(key)
            self.runs.append((step, frequency, {p.email: p.frequency for p in self.people.values()}))
            for p in self.people.values():
                if DIGEST_OF[p.frequency] == frequency and self.eligible(p) and p.entries:
                    self.queue.append(Expected("digest", p.email, step, frozenset(p.entries)))
                    p.entries = {}
                    expected += 1
        assert queued == expected, f"{frequency} digest {key[1]} queued {queued}, the model {expected}"

    @rule(topics=st.lists(topic, min_size=1, max_size=2, unique=True))
    def newsletter(self, topics):
        step = self._tick()
        now = self.clock.now()
        self.newsletters += 1
        title = f"Nyhedsbrev [{self.newsletters}]"
        form = CampaignForm(kind="newsletter", title=title, lead="Nyt fra rådet.", body_md="Månedens nyheder.",
                            topics=list(topics))

        async def go():
            from service.campaigns.schedule import schedule

            async with self.runtime.db.transaction() as s:
                cid = await create_campaign(s, form, now=now, templates_root=self.runtime.templates.root)
                await schedule(s, cid, scheduled_at=now, embargo_until=None, now=now)
            return await release_due(self.runtime)

        queued = self.run(go())
        readers = [p for p in self.people.values() if self.eligible(p) and p.topics & set(topics)]
        self.queue.extend(Expected("newsletter", p.email, step, title=title) for p in readers)
        assert queued == len(readers), f"{title} queued {queued}, the model {len(readers)}"

    @rule(hours=st.sampled_from((1, 6, 23, 24, 24 * 7)))
    def time_passes(self, hours):
        self._advance(hours)

    def _advance(self, hours):
        self._tick()
        self.clock.advance(hours=hours)

    # -------------------------------------------------------------- sending

    @rule()
    def drain(self):
        self._drain()

    def _drain(self):
        step = self._tick()
        before = len(self.env.sink.received)
        self.run(Worker(self.runtime).drain())
        arrived = [self._read(r, step) for r in self.env.sink.received[before:]]
        self.got.extend(arrived)
        self.drains.append(step)
        self._check_safety(arrived)
        waiting, self.queue = self.queue, []
        # Per message (kind, person, content): what must arrive (queued for someone who has
        # stayed allowed to get it since) and what may (it may have been stopped on the way).
        must: Counter = Counter()
        may: Counter = Counter()
        for e in waiting:
            (must if self.steady(e.email, e.step, step, e.allowed()) else may)[e.key] += 1
        got = Counter(g.key for g in arrived)
        for key in must.keys() | may.keys() | got.keys():
            kind, email, items, title = key
            what = f"{kind} {sorted(items) or title}".strip()
            assert got[key] <= must[key] + may[key], (
                f"step {step}: {email} got {got[key]} {what} but the model expected at most {must[key] + may[key]}; "
                f"it expected {sorted((e.kind, e.email, sorted(e.items), e.title) for e in waiting)}")
            assert got[key] >= must[key], (
                f"step {step}: {email} stayed {self.state_at(email, step)[0]} since it was queued, "
                f"yet {must[key] - got[key]} {what} never arrived")
        for g in arrived:
            for n in g.items:
                assert (g.email, n) not in self.delivered, f"{g.email} got item {n} twice"
                self.delivered.add((g.email, n))

    def _read(self, received, step: int) -> Got:
        assert len(received.rcpt_tos) == 1, received.rcpt_tos
        msg = received.message
        kind = msg["X-Budbringer-Kind"]
        body = msg.get_body(("plain",)).get_content()
        subject = str(msg["Subject"])
        if kind == "alert":
            items = frozenset(int(n) for n in ITEM_TITLE.findall(subject))
        elif kind == "digest":
            items = frozenset(int(n) for n in ITEM_TITLE.findall(body))
        else:
            items = frozenset()
        email = received.rcpt_tos[0]
        person = self.people.get(email)
        return Got(kind, email, step, subject, items, body, self.clock.now(), person.id if person else None)

    def _check_safety(self, arrived: list[Got]) -> None:
        for g in arrived:
            assert g.email in self.people, f"mail to an address nobody signed up with: {g.email}"
            status, sup = self.state_at(g.email, g.step)
            assert not sup, f"step {g.step}: a {g.kind} went to the suppressed address {g.email}"
            allowed = MAY_RECEIVE.get(g.kind, ACTIVE_ONLY)
            assert status in allowed, f"step {g.step}: a {g.kind} ({g.subject!r}) went to {g.email}, who is {status}"
            if g.kind in ("alert", "digest"):
                assert g.items, f"a {g.kind} without a recognisable item: {g.subject!r}"

    # -------------------------------------------------------------- after every step

    @invariant()
    def nobody_unwanted_got_mail(self):
        """Every message ever received, against what was true when it was sent."""
        self._check_safety(self.got)

    @invariant()
    def nobody_matching_is_left_out(self):
        """An entry waiting for a digest waits for the next digest of the person's frequency
        as it is when that digest runs (immediate: the daily one). Once such a digest has run
        since the match, and the outbox was drained after it, everyone still eligible since
        the match must have the item."""
        for p in self.people.values():
            for n, at in p.entries.items():
                if not self.steady(p.email, at, self.step, ACTIVE_ONLY):
                    continue
                for run, frequency, theirs in self.runs:
                    if run > at and DIGEST_OF[theirs[p.email]] == frequency and any(d > run for d in self.drains):
                        raise AssertionError(
                            f"{p.email} ({theirs[p.email]}) has waited since step {at} for item {n} "
                            f"({self.items[n].title}) through the {frequency} digest of step {run} and a send")


# ------------------------------------------------------------------ what the machine found


def _link(received, path: str) -> str:
    text = received.message.get_body(("plain",)).get_content()
    return re.search(rf"http://127\.0\.0\.1:8080(/{path}/\S+)", text).group(1)


async def _csrf(client) -> str:
    page = await client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)


async def _signup(runtime, email: str) -> int:
    async with runtime.db.transaction() as s:
        assert await lifecycle.signup(runtime, s, email, Choices(topics=["ledighedstal"]), now=runtime.clock.now(),
                                      evidence=Evidence(ip="127.0.0.1")) == "confirm_sent"
    async with runtime.db.reader() as s:
        return await s.scalar(select(Subscriber.id).where(Subscriber.email == email))


async def _status(runtime, subscriber_id: int) -> str:
    async with runtime.db.reader() as s:
        return (await s.get(Subscriber, subscriber_id)).status


async def test_an_erased_persons_old_links_never_open_the_next_signup(client, runtime, smtp_server, db_kind):
    """SQLite gives the id of a deleted row to the next insert. When the newest subscriber was
    erased, the next signup got their id, and with it their links (same id, token version 1):
    the erased person's preferences link showed the newcomer's address and choices, their
    unsubscribe link ended the newcomer's subscription, their confirmation link confirmed it;
    and the newcomer's confirmation mail, keyed by id and hour, was never sent."""
    first = await _signup(runtime, "foerste@example.dk")
    await Worker(runtime).drain()
    confirm_link = _link(smtp_server.to("foerste@example.dk")[-1], "confirm")
    async with runtime.db.transaction() as s:
        await lifecycle.confirm(runtime, s, first, now=runtime.clock.now(), evidence=Evidence(ip="127.0.0.1"))
    await Worker(runtime).drain()
    welcome = smtp_server.to("foerste@example.dk")[-1]
    old = {"preferences": _link(welcome, "preferences"), "unsubscribe": _link(welcome, "unsubscribe")}
    async with runtime.db.transaction() as s:
        assert await lifecycle.erase(s, first, now=runtime.clock.now(), by="foerste@example.dk")

    second = await _signup(runtime, "anden@example.dk")
    if db_kind == "sqlite":
        assert second == first  # the situation: the id is handed on
    await Worker(runtime).drain()
    assert [m.message["Subject"] for m in smtp_server.to("anden@example.dk")] == ["Bekræft dit abonnement"]

    r = await client.post(confirm_link, data={"csrf_token": await _csrf(client)})
    assert r.status in (400, 404) and await _status(runtime, second) == "pending"
    async with runtime.db.transaction() as s:
        await lifecycle.confirm(runtime, s, second, now=runtime.clock.now(), evidence=Evidence(ip="127.0.0.1"))

    page = await client.get(old["preferences"])
    assert page.status in (400, 404) and "anden@example.dk" not in await page.text()
    page = await client.get(old["unsubscribe"])
    assert page.status in (400, 404) and "anden@example.dk" not in await page.text()
    r = await client.post(old["unsubscribe"], data="List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400 and await _status(runtime, second) == "active"


async def test_entries_waiting_for_a_digest_still_come_after_a_switch_to_immediate(runtime, clock, smtp_server,
                                                                                  db_kind):
    """A daily subscriber with an item waiting for tomorrow's digest moves to "immediate":
    no alert was ever queued for that item, and the digest runs skipped them, so it never came."""
    from tests.integration._matching import add_subscriber

    sub = await add_subscriber(runtime, "skifter@example.dk", frequency="daily")
    await add_item(runtime, "Ventede på overblikket")
    await match_pending_items(runtime)
    async with runtime.db.transaction() as s:
        await lifecycle.change_preferences(runtime, s, sub, Choices(topics=["ledighedstal"], frequency="immediate"),
                                           now=clock.now(), evidence=Evidence(ip="127.0.0.1"))
    await add_item(runtime, "Kom efter skiftet")
    await match_pending_items(runtime)
    await Worker(runtime).drain()
    assert [m.message["Subject"] for m in smtp_server.to("skifter@example.dk")] == ["Kom efter skiftet"]

    clock.advance(days=1)
    assert await run_digest(runtime, "daily") == 1
    await Worker(runtime).drain()
    mails = smtp_server.to("skifter@example.dk")
    assert len(mails) == 2 and mails[1].message["X-Budbringer-Kind"] == "digest"
    text = mails[1].message.get_body(("plain",)).get_content()
    assert "Ventede på overblikket" in text and "Kom efter skiftet" not in text
    clock.advance(days=1)
    assert await run_digest(runtime, "daily") == 0  # once


@pytest.fixture
def state_db(db_kind, request, tmp_path):
    """(url, sqlite template or None): one database; each example starts it afresh."""
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bb.db'}", request.getfixturevalue("sqlite_template")
        return
    template = request.getfixturevalue("pg_template")
    name = f"bb_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(name), None
    finally:
        asyncio.run(_pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_nobody_unwanted_gets_mail_and_nobody_matching_is_left_out(db_kind, state_db, tmp_path, smtp_server):
    url, template = state_db
    machine = type("Machine", (Invariant,), {"env": Env(db_kind, url, template, tmp_path, smtp_server)})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES[db_kind], stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
