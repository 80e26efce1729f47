"""The matching rules: small, named, and each able to say why it matched.

Every rule answers twice, the same way:

- `where(item, ctx)`: a SQL condition on `subscribers` for one item, so the matcher can
  fan an item out to 100,000 subscribers in one `INSERT … SELECT` (None: no condition);
- `check(item, sub, now)`: a `Verdict` for one subscriber, in words, for `explain`.

A subscriber matches an item when every rule passes. The order of `RULES` is the order
in which `explain` tells the story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from service.clock import as_utc
from subscribers.suppression import not_suppressed
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics


@dataclass(frozen=True)
class RevisionScope:
    """Which areas an announced revision of figures changed by at least the configured amount."""

    changed: frozenset[str]  # area codes (municipalities, and the region's code if its total moved)
    region: str  # the region's code: what a subscriber without a municipality follows


@dataclass(frozen=True)
class ItemFacts:
    id: int
    topic_ids: frozenset[int]
    municipalities: frozenset[str]
    public_at: datetime | None = None
    urgent: bool = False
    topic_names: dict[int, str] = field(default_factory=dict)  # for reasons
    revision: RevisionScope | None = None  # set when a figures revision is being announced


@dataclass(frozen=True)
class SubscriberFacts:
    id: int
    status: str
    suppressed: bool
    topic_ids: frozenset[int]
    municipalities: frozenset[str]
    audience: str | None = None
    frequency: str = "immediate"


@dataclass(frozen=True)
class Verdict:
    rule: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class SqlContext:
    dialect: str
    now: datetime
    # Active subscribers known to be suppressed (computed once per run); None: test in SQL.
    suppressed_ids: list[int] | None = None


class Rule(Protocol):
    name: str
    description: str

    def where(self, item: ItemFacts, ctx: SqlContext) -> ColumnElement[bool] | None: ...

    def check(self, item: ItemFacts, sub: SubscriberFacts, now: datetime) -> Verdict: ...


class Active:
    name = "active"
    description = "The subscriber has confirmed and not left (status active)."

    def where(self, item, ctx):
        return Subscriber.status == "active"

    def check(self, item, sub, now):
        return Verdict(self.name, sub.status == "active", f"status is {sub.status}")


class NotSuppressed:
    name = "not_suppressed"
    description = "The address is not on the suppression list."

    def where(self, item, ctx):
        if ctx.suppressed_ids is None:
            return not_suppressed(ctx.dialect)
        return Subscriber.id.not_in(ctx.suppressed_ids) if ctx.suppressed_ids else None

    def check(self, item, sub, now):
        return Verdict(self.name, not sub.suppressed,
                       "the address is suppressed" if sub.suppressed else "the address is not suppressed")


class Embargo:
    name = "embargo"
    description = "The item is public (no embargo, or the embargo has ended)."

    def where(self, item, ctx):
        return true() if _public(item, ctx.now) else false()

    def check(self, item, sub, now):
        if _public(item, now):
            return Verdict(self.name, True, "the item is public")
        return Verdict(self.name, False, f"under embargo until {as_utc(item.public_at):%Y-%m-%d %H:%M} UTC")


class TopicOverlap:
    name = "topic"
    description = "The item has a topic the subscriber chose."

    def where(self, item, ctx):
        if not item.topic_ids:
            return false()
        return exists(select(subscriber_topics.c.topic_id).where(
            subscriber_topics.c.subscriber_id == Subscriber.id,
            subscriber_topics.c.topic_id.in_(sorted(item.topic_ids)),
        ))

    def check(self, item, sub, now):
        common = item.topic_ids & sub.topic_ids
        if not common:
            return Verdict(self.name, False, "no topic in common")
        names = ", ".join(sorted(item.topic_names.get(t, str(t)) for t in common))
        return Verdict(self.name, True, f"topic: {names}")


class MunicipalityOverlap:
    name = "municipality"
    description = "A local item reaches subscribers who chose one of its municipalities, or chose none."

    def where(self, item, ctx):
        if not item.municipalities:
            return None
        return or_(not_(_chose_any()), _chose_one_of(item.municipalities))

    def check(self, item, sub, now):
        if not item.municipalities:
            return Verdict(self.name, True, "the item is not local")
        if not sub.municipalities:
            return Verdict(self.name, True, "the subscriber chose no municipality (gets all)")
        common = item.municipalities & sub.municipalities
        if common:
            return Verdict(self.name, True, f"municipality: {', '.join(sorted(common))}")
        return Verdict(self.name, False, "no municipality in common")


class Role:
    """Never excludes: the role (audience) tailors what a message leads with."""

    name = "audience"
    description = "The subscriber's role decides what the message leads with (never excludes)."

    def where(self, item, ctx):
        return None

    def check(self, item, sub, now):
        if sub.audience == "politiker":
            return Verdict(self.name, True, "role politiker: the message leads with a short summary")
        return Verdict(self.name, True, f"role {sub.audience}" if sub.audience else "no role chosen")


class RevisedAreas:
    """A revision of figures is news only where the numbers moved (service.matching.revision)."""

    name = "revised_areas"
    description = ("A revision of figures reaches subscribers whose own municipalities changed, or, for those "
                   "who chose none, the region's total.")

    def where(self, item, ctx):
        scope = item.revision
        if scope is None:
            return None
        munis = scope.changed - {scope.region}
        own = _chose_one_of(munis) if munis else false()
        return or_(own, not_(_chose_any())) if scope.region in scope.changed else own

    def check(self, item, sub, now):
        scope = item.revision
        if scope is None:
            return Verdict(self.name, True, "not a revision")
        if not sub.municipalities:
            ok = scope.region in scope.changed
            return Verdict(self.name, ok, "the region's total changed" if ok else "the region's total did not change")
        common = sub.municipalities & scope.changed
        if common:
            return Verdict(self.name, True, f"changed: {', '.join(sorted(common))}")
        return Verdict(self.name, False, "none of the subscriber's municipalities changed")


RULES: tuple[Rule, ...] = (Embargo(), Active(), NotSuppressed(), TopicOverlap(), MunicipalityOverlap(), Role(),
                           RevisedAreas())


def _chose_any() -> ColumnElement[bool]:
    """The subscriber chose at least one municipality. Written as `id IN (subquery)`, not as
    a correlated EXISTS: PostgreSQL then hashes the subquery's ids once instead of looking
    them up for each of 100,000 subscribers (choosing them went from 0.41 to 0.16 s)."""
    return Subscriber.id.in_(select(subscriber_municipalities.c.subscriber_id))


def _chose_one_of(codes) -> ColumnElement[bool]:
    """The subscriber chose one of `codes` (the same uncorrelated form as `_chose_any`)."""
    return Subscriber.id.in_(select(subscriber_municipalities.c.subscriber_id).where(
        subscriber_municipalities.c.municipality_code.in_(sorted(codes))))


def _public(item: ItemFacts, now: datetime) -> bool:
    return item.public_at is None or as_utc(item.public_at) <= now


def subscriber_condition(item: ItemFacts, ctx: SqlContext, rules: tuple[Rule, ...] = RULES) -> ColumnElement[bool]:
    """All rules as one WHERE clause on `subscribers`."""
    parts = [c for c in (r.where(item, ctx) for r in rules) if c is not None]
    return and_(true(), *parts)  # no condition at all: every subscriber


def evaluate(item: ItemFacts, sub: SubscriberFacts, now: datetime, rules: tuple[Rule, ...] = RULES) -> list[Verdict]:
    return [r.check(item, sub, now) for r in rules]


def match_reason(item: ItemFacts) -> ColumnElement[str] | str:
    """The short reason stored on the match row (a CASE for local items)."""
    from sqlalchemy import case

    if not item.municipalities:
        return "topic"
    return case((_chose_one_of(item.municipalities), "topic+municipality"), else_="topic+all-municipalities")
