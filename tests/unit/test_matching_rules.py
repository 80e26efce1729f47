"""The matching rules' Python side (service.matching.rules): each says why, in words.
Their SQL side is held to the same answers in tests/integration/test_rules_agree.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from service.matching.rules import RULES, ItemFacts, SubscriberFacts, evaluate

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
ITEM = ItemFacts(id=7, topic_ids=frozenset({1, 2}), municipalities=frozenset(), topic_names={1: "ledighedstal", 2: "analyser"})
SUB = SubscriberFacts(id=3, status="active", suppressed=False, topic_ids=frozenset({2, 9}), municipalities=frozenset())


def _verdicts(item=ITEM, sub=SUB, now=NOW) -> dict[str, tuple[bool, str]]:
    return {v.rule: (v.ok, v.reason) for v in evaluate(item, sub, now)}


def test_the_rules_tell_the_story_in_order():
    assert [r.name for r in RULES] == ["embargo", "active", "not_suppressed", "topic", "municipality", "audience",
                                       "revised_areas"]
    assert all(ok for ok, _ in _verdicts().values())
    assert _verdicts()["topic"] == (True, "topic: analyser")


def test_an_item_under_embargo_matches_nobody_until_it_ends():
    later = ItemFacts(**{**ITEM.__dict__, "public_at": NOW + timedelta(minutes=5)})
    assert _verdicts(later)["embargo"] == (False, "under embargo until 2026-11-23 08:05 UTC")
    assert _verdicts(later, now=NOW + timedelta(minutes=5))["embargo"] == (True, "the item is public")


def test_only_active_unsuppressed_subscribers_with_a_common_topic():
    assert _verdicts(sub=SubscriberFacts(**{**SUB.__dict__, "status": "pending"}))["active"] == (False, "status is pending")
    assert _verdicts(sub=SubscriberFacts(**{**SUB.__dict__, "suppressed": True}))["not_suppressed"][0] is False
    assert _verdicts(sub=SubscriberFacts(**{**SUB.__dict__, "topic_ids": frozenset({9})}))["topic"] == (
        False, "no topic in common")


def test_a_local_item_reaches_its_municipalities_and_those_who_chose_none():
    local = ItemFacts(**{**ITEM.__dict__, "municipalities": frozenset({"751", "740"})})
    assert _verdicts(local)["municipality"] == (True, "the subscriber chose no municipality (gets all)")
    aarhus = SubscriberFacts(**{**SUB.__dict__, "municipalities": frozenset({"751"})})
    assert _verdicts(local, aarhus)["municipality"] == (True, "municipality: 751")
    herning = SubscriberFacts(**{**SUB.__dict__, "municipalities": frozenset({"657"})})
    assert _verdicts(local, herning)["municipality"] == (False, "no municipality in common")
    assert _verdicts(ITEM, herning)["municipality"] == (True, "the item is not local")


def test_the_role_never_excludes_but_says_what_it_changes():
    politician = SubscriberFacts(**{**SUB.__dict__, "audience": "politiker"})
    assert _verdicts(sub=politician)["audience"] == (True, "role politiker: the message leads with a short summary")
    assert _verdicts()["audience"] == (True, "no role chosen")
