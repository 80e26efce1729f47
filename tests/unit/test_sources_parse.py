"""Feed parsing and classification as pure functions: hostile XML, encodings, genitives."""

from __future__ import annotations

import pytest

from service.db import seed
from service.sources.classify import Classifier, TopicName
from service.sources.parse import FeedRejected, parse_feed
from service.sources.store import canonical_link
from tests.conftest import DATA

RSS = """<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>T</title>
<item><title>Rådgivning i Århus og Ærø</title><guid>g1</guid><description>æøå ÆØÅ</description></item>
</channel></rss>"""


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&x;</title></channel></rss>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"a" * 100 + b'"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><title>&b;</title></channel></rss>',
    b'<?xml version="1.0"?><rss><channel><title>x</title><oops></channel><!DOCTYPE y [<!ENTITY z "zz">]>',
])
def test_item12_entity_bombs_and_external_entities_refused(body):
    with pytest.raises(FeedRejected, match="entit|external|DTD"):
        parse_feed(body)


@pytest.mark.parametrize("decl,codec", [("ISO-8859-1", "latin-1"), ("UTF-8", "latin-1"), ("ISO-8859-1", "utf-8"), ("UTF-8", "utf-8")])
def test_item12_wrong_encoding_declarations_still_give_danish_letters(decl, codec):
    (entry,) = parse_feed(RSS.format(decl=decl).encode(codec))
    assert entry.title == "Rådgivning i Århus og Ærø" and entry.summary == "æøå ÆØÅ"


def test_item12_missing_declaration_uses_http_charset():
    body = RSS.format(decl="x").replace('<?xml version="1.0" encoding="x"?>', "").encode("latin-1")
    (entry,) = parse_feed(body, "application/rss+xml; charset=ISO-8859-1")
    assert entry.title == "Rådgivning i Århus og Ærø"


def test_keys_guid_link_hash():
    entries = parse_feed(b"""<rss version="2.0"><channel><title>t</title>
      <item><title>A</title><link>https://example.dk/a</link></item>
      <item><title>B</title><pubDate>Mon, 23 Nov 2026 08:00:00 +0100</pubDate></item></channel></rss>""")
    assert entries[0].key == "https://example.dk/a"
    assert entries[1].key.startswith("sha256:") and entries[1].published_at.hour == 7


def test_item12_rss_091_doctype_is_read_without_loading_the_dtd():
    body = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://127.0.0.1:9/rss-0.91.dtd"><rss version="0.91"><channel><title>t</title>'
            b'<item><title>Gammel</title><link>https://example.dk/g</link></item></channel></rss>')
    assert [e.title for e in parse_feed(body)] == ["Gammel"]


def test_item12_not_a_feed_is_refused():
    with pytest.raises(FeedRejected):
        parse_feed(b"<html><body>Hej</body></html")


def classifier():
    return Classifier([TopicName(t["slug"], t["name_da"], t["name_en"]) for t in seed.topic_rows()],
                      category_rules={"Tal og statistik": "ledighedstal"}, keywords={"forsoeg": ["frikommune"]})


def test_genitive_municipalities():
    c = classifier()
    text = "Aarhus' jobcenter og Viborgs borgmester mødtes i Ringkøbing-Skjerns rådhus; Samsø og Skive deltog ikke."
    assert set(c.municipalities(text)) == {"751", "791", "760", "741", "779"}
    assert c.municipalities("Aarhusianere og Skiveren") == []


def test_topics_from_labels_terms_rules_keywords():
    c = classifier()
    assert c.topics([], ["Effekter og resultater i jobcentrene", "virksomheder", "Tal og statistik"], "") == [
        "resultater", "virksomheder", "ledighedstal"]
    assert c.topics(["presse", "unknown-slug"], [], "Ny frikommune-aftale") == ["presse", "forsoeg"]


def test_canonical_link():
    assert canonical_link("HTTP://WWW.Example.dk:80/a/b/?utm_source=x&id=2#top") == "https://www.example.dk/a/b?id=2"
    assert canonical_link("javascript:alert(1)") is None


def test_fixture_feeds_parse():
    for name in ("nyheder.rss.xml", "nyheder-next.rss.xml", "retningslinjer.atom.xml", "best-practice.rss.xml"):
        assert parse_feed((DATA / "feeds" / name).read_bytes())


def test_item12_control_characters_never_reach_titles_or_text():
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item>'
            b'<title>Ledighed\x01 i\x0b Aarhus</title><guid>g1</guid><description>Tal\x1f fra &#0;marts</description>'
            b'</item></channel></rss>')
    entries = parse_feed(body)
    assert [e.title for e in entries] == ["Ledighed i Aarhus"]
    assert all(ord(c) >= 32 or c in "\n\t" for e in entries for c in e.title + e.summary)
