"""The first real path: an item in a feed reaches a confirmed subscriber's mailbox on a
real SMTP server (aiosmtpd on loopback), and only theirs."""

from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from service.wiring import build_runtime
from tests.conftest import DATA, make_settings


async def _add_subscriber(runtime, email, status, topics, frequency="immediate"):
    from service.db.reference import Topic
    from subscribers.models import Subscriber

    async with runtime.db.transaction() as s:
        sub = Subscriber(email=email, status=status, frequency=frequency, created_at=runtime.clock.now(),
                         confirmed_at=runtime.clock.now() if status == "active" else None)
        sub.topics = list((await s.scalars(select(Topic).where(Topic.slug.in_(topics)))).all())
        sub.municipalities = []
        s.add(sub)


async def test_feed_item_reaches_confirmed_subscriber_only(db_url, tmp_path, smtp_server, clock):
    feeds = web.Application()
    feeds.router.add_static("/", DATA / "feeds")
    async with TestServer(feeds, host="127.0.0.1") as feed_server:
        settings = make_settings(
            db_url, tmp_path, smtp_server.port,
            sources=[{"slug": "nyheder", "name": "Nyheder", "url": str(feed_server.make_url("/nyheder.rss.xml")),
                      "item_kind": "news", "topics": ["retningslinjer"]}],
        )
        runtime = build_runtime(settings, clock=clock)
        try:
            await _add_subscriber(runtime, "leder@jobcenter.example.dk", "active", ["retningslinjer"])
            await _add_subscriber(runtime, "ubekraeftet@example.dk", "pending", ["retningslinjer"])
            await _add_subscriber(runtime, "andet-emne@example.dk", "active", ["presse"])

            from service.delivery.worker import Worker
            from service.matching.match import match_pending_items
            from service.sources.poll import poll_due_sources
            from service.sources.registry import sync_configured_sources

            await sync_configured_sources(runtime)
            assert await poll_due_sources(runtime) == 1
            await match_pending_items(runtime)
            sent = await Worker(runtime).drain()

            assert sent >= 1
            assert smtp_server.to("ubekraeftet@example.dk") == []
            assert smtp_server.to("andet-emne@example.dk") == []
            mails = smtp_server.to("leder@jobcenter.example.dk")
            assert mails, "the confirmed subscriber got nothing"
            msg = mails[0].message
            assert msg["From"].addresses[0].addr_spec == "nyheder@budbringer.example"
            assert msg["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/unsubscribe/")
            text = msg.get_body(("plain",)).get_content()
            assert "Afmeld" in text

            # A second round finds nothing new: nobody gets the same item twice.
            clock.advance(timedelta(hours=2))
            await poll_due_sources(runtime)
            await match_pending_items(runtime)
            await Worker(runtime).drain()
            assert len(smtp_server.to("leder@jobcenter.example.dk")) == len(mails)
        finally:
            await runtime.close()


LOOK_ALIKE = "Ledigheden falder =?utf-8?q?=0D=0AX-Inj:_1?= i Aarhus"


async def test_item35_a_feed_item_titled_like_an_encoded_word_arrives_with_the_title_as_written(
        db_url, tmp_path, smtp_server, clock):
    """Such a title used to be refused at render ("an encoded word hides a line break"), so
    the alert never arrived. Now it arrives at the SMTP server, its Subject reads exactly as
    the feed wrote it, and no header was injected."""
    rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Nyheder</title>'
           f'<link>https://www.example.dk/</link><description>x</description>'
           f'<item><title>{LOOK_ALIKE}</title><link>https://www.example.dk/a/1</link>'
           f'<guid>https://www.example.dk/a/1</guid><pubDate>Mon, 23 Nov 2026 07:00:00 GMT</pubDate>'
           f'<description>Tal for oktober.</description></item></channel></rss>')
    async def feed(request):
        return web.Response(text=rss, content_type="application/rss+xml")

    feeds = web.Application()
    feeds.router.add_get("/feed.xml", feed)
    async with TestServer(feeds, host="127.0.0.1") as feed_server:
        settings = make_settings(
            db_url, tmp_path, smtp_server.port,
            sources=[{"slug": "nyheder", "name": "Nyheder", "url": str(feed_server.make_url("/feed.xml")),
                      "item_kind": "news", "topics": ["retningslinjer"]}],
        )
        runtime = build_runtime(settings, clock=clock)
        try:
            await _add_subscriber(runtime, "leder@jobcenter.example.dk", "active", ["retningslinjer"])
            from service.delivery.worker import Worker
            from service.matching.match import match_pending_items
            from service.sources.poll import poll_due_sources
            from service.sources.registry import sync_configured_sources

            await sync_configured_sources(runtime)
            await poll_due_sources(runtime)
            await match_pending_items(runtime)
            await Worker(runtime).drain()
            [got] = smtp_server.to("leder@jobcenter.example.dk")
            msg = got.message
            assert LOOK_ALIKE in str(msg["Subject"])
            assert "X-Inj" not in msg and all(k.lower() != "x-inj" for k in msg.keys())
            assert LOOK_ALIKE in msg.get_body(("plain",)).get_content()
        finally:
            await runtime.close()
