"""Assembling mail from parts rendered once (service.render.assemble): slots and the cache."""

from __future__ import annotations

from service.render.assemble import Cache, Segments, slot


def test_segments_fill_every_slot_and_keep_the_text_between():
    s = Segments(f"<p>Hej {slot('name')}</p><a href=\"{slot('url')}\">{slot('name')}</a>")
    assert s.names == {"name", "url"}
    assert s.fill({"name": "Mette", "url": "https://x.example/a"}) == \
        '<p>Hej Mette</p><a href="https://x.example/a">Mette</a>'


def test_segments_without_slots_are_the_text_itself():
    assert Segments("ingen pladser").fill({}) == "ingen pladser"


def test_a_value_that_looks_like_a_slot_is_not_filled_again():
    s = Segments(f"{slot('a')}-{slot('b')}")
    assert s.fill({"a": slot("b"), "b": "x"}) == f"{slot('b')}-x"


def test_the_cache_makes_each_part_once_and_forgets_the_least_recently_used():
    made: list[str] = []

    def make(key: str):
        return lambda: made.append(key) or key.upper()

    cache = Cache(size=2)
    assert cache.get("a", make("a")) == "A"
    assert cache.get("a", make("a")) == "A"  # from the cache
    cache.get("b", make("b"))
    cache.get("a", make("a"))  # a is now the most recently used
    cache.get("c", make("c"))  # b goes
    assert list(cache.data) == ["a", "c"]
    cache.get("b", make("b"))
    assert made == ["a", "b", "c", "b"]
