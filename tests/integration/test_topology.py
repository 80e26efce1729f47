"""compose.yaml's topology, started for real from processes (Docker cannot run here):
a fresh PostgreSQL database on 127.0.0.1, one web, two workers and one scheduler, each
its own `budbringer run --role …` process, mail to a real SMTP server (aiosmtpd) and a
feed, both on loopback.

A newcomer signs up on the web process and confirms; the scheduler polls the feed and
the workers send the alert. Then a second item (polled at once with `budbringer source
poll`) goes to 60 subscribers while the SMTP
server answers slowly, one worker is killed (SIGKILL) in the middle of its sends, and
the other one finishes them: every subscriber gets the alert, and a message the killed
worker may have sent already goes again with the same Message-ID, flagged.
"""

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from service.db.engine import Database
from service.db.models import Delivery
from service.settings import DatabaseSettings
from tests.conftest import PG_ADMIN_URL, SmtpSink, _pg_exec, _pg_url, _pg_required, free_port

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = 60


class SlowSink(SmtpSink):
    """Accepts every message, after `delay` seconds at DATA once slowed down."""

    delay = 0.0

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def _rss(items: list[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>https://br.example.dk/{guid}</link><guid>{guid}</guid>"
        f"<description>{title}: en analyse af ledigheden.</description>"
        f"<pubDate>Tue, 01 Dec 2026 08:0{n}:00 +0000</pubDate></item>"
        for n, (guid, title) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Analyser</title>'
            f"<link>https://br.example.dk/</link><description>Analyser</description>{entries}</channel></rss>")


@pytest.fixture
async def database():
    name = f"bb_topo_{uuid.uuid4().hex[:10]}"
    try:
        await _pg_exec(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if _pg_required():
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required when CI is set: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield _pg_url(name)
    await _pg_exec(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Topology:
    def __init__(self, tmp_path: Path, db_url: str, smtp_port: int, feed_url: str):
        self.tmp, self.web_port = tmp_path, free_port()
        (tmp_path / "config.toml").write_text(f"""
[service]
base_url = "http://127.0.0.1:{self.web_port}"
[database]
url = "{db_url}"
[web]
port = {self.web_port}
[mail]
transport = "smtp"
[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
[delivery]
batch_size = 4
concurrency = 2
lease_seconds = 10
idle_poll_seconds = 0.2
[schedule]
source_check_seconds = 1
match_seconds = 1
[fetch]
allow_networks = ["127.0.0.1/32"]
[[sources]]
slug = "analyser"
name = "Analyser"
url = "{feed_url}"
item_kind = "analysis"
topics = ["analyser"]
interval_minutes = 1
""", encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BUDBRINGER_")}
        self.env["BUDBRINGER_SERVICE__SECRET_KEY"] = "t" * 40
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "service", *args, env=self.env, cwd=self.tmp,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode()
        return out.decode()

    async def start(self, name: str, role: str) -> None:
        log = open(self.tmp / f"{name}.log", "wb")
        # A worker is one process, as each worker container of compose.yaml is (`--workers 1`).
        workers = ["--workers", "1"] if role == "worker" else []
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "run", "--role", role, *workers, env=self.env, cwd=self.tmp, stdout=log,
            stderr=log)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    async def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, proc in self.procs.items():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            codes[name] = await asyncio.wait_for(proc.wait(), 40)
        return codes


async def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_web_two_workers_and_a_scheduler_as_processes_on_postgresql(tmp_path, database):
    sink = SlowSink("127.0.0.1", free_port())
    smtp = Controller(sink, hostname="127.0.0.1", port=sink.port, decode_data=False)
    smtp.start()
    feed = {"body": _rss([])}  # empty until the newcomer has confirmed

    async def serve_feed(request):
        return web.Response(text=feed["body"], content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/analyser.rss", serve_feed)
    runner = web.AppRunner(app)
    await runner.setup()
    feed_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", feed_port).start()
    topo = Topology(tmp_path, database, sink.port, f"http://127.0.0.1:{feed_port}/analyser.rss")
    db = Database(DatabaseSettings(url=database))
    try:
        await topo.cli("db", "upgrade")
        # Subscribers to the same topic, as an import brings them (before the feed is read).
        csv = tmp_path / "abonnenter.csv"
        csv.write_text("E-mail;Navn;Emner;Hyppighed\n" + "".join(
            f"abonnent{n:02d}@example.dk;Abonnent {n};analyser;straks\n" for n in range(SUBSCRIBERS)), encoding="utf-8")
        assert f"{SUBSCRIBERS} added" in await topo.cli("subscribers", "import", str(csv), "--consent-source", "test")

        for name, role in (("web", "web"), ("worker-a", "worker"), ("worker-b", "worker"), ("scheduler", "scheduler")):
            await topo.start(name, role)
        base = f"http://127.0.0.1:{topo.web_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def healthy():
                try:
                    async with http.get(f"{base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await _until(healthy, 40, f"the web process never answered:\n{topo.log('web')}")

            async def csrf(path):
                async with http.get(base + path) as resp:
                    return re.search(r'name="csrf_token" value="([^"]+)"', await resp.text()).group(1)

            form = {"email": "ny.abonnent@example.dk", "name": "Ny Abonnent", "topics": ["analyser"],
                    "audience": "jobcenter", "frequency": "immediate", "language": "da", "consent": "yes",
                    "website": "", "csrf_token": await csrf("/")}
            async with http.post(f"{base}/", data=form) as resp:
                assert resp.status == 200 and "Tjek din indbakke" in await resp.text()

            async def confirm_mail():
                return sink.to("ny.abonnent@example.dk")

            (mail,) = await _until(confirm_mail, 30, "no confirmation mail reached the SMTP server")
            path = re.search(rf"{re.escape(base)}(/confirm/[^\s]+)", mail.message.get_body(("plain",)).get_content()).group(1)
            async with http.post(base + path, data={"csrf_token": await csrf(path)}) as resp:
                assert "Velkommen" in await resp.text()

        # An item in the feed: the scheduler matches it, a worker sends the alert to the newcomer.
        feed["body"] = _rss([("analyse-1", "Ledigheden i Midtjylland")])
        await topo.cli("source", "poll", "analyser")
        async def alert_to_newcomer():
            return [m for m in sink.to("ny.abonnent@example.dk") if "Ledigheden i Midtjylland" in str(m.message["Subject"])]

        await _until(alert_to_newcomer, 40, f"no alert for the feed's item:\n{topo.log('scheduler')}")
        await _until(lambda: _done(db), 30, "the first item's alerts were not all sent")

        # A second item to every subscriber, sent slowly; one worker dies mid-send.
        sink.delay = 0.15
        feed["body"] = _rss([("analyse-1", "Ledigheden i Midtjylland"), ("analyse-2", "Langtidsledige i Viborg")])
        await topo.cli("source", "poll", "analyser")  # now, not at the source's next interval; the scheduler matches
        killed = topo.procs["worker-a"]

        async def a_is_sending():
            async with db.reader() as s:
                return await s.scalar(select(func.count()).select_from(Delivery).where(
                    Delivery.status == "sending", Delivery.claimed_by.like(f"%:{killed.pid}:%")))

        await _until(a_is_sending, 40, f"worker a never took a batch:\n{topo.log('worker-a')}")
        killed.send_signal(signal.SIGKILL)
        await killed.wait()
        left_behind = await a_is_sending()
        assert left_behind, "the kill came after worker a had finished its batch"

        await _until(lambda: _done(db), 60, f"worker b did not finish the send:\n{topo.log('worker-b')}")
        recipients = [f"abonnent{n:02d}@example.dk" for n in range(SUBSCRIBERS)] + ["ny.abonnent@example.dk"]
        for address in recipients:
            got = [m for m in sink.to(address) if "Langtidsledige i Viborg" in str(m.message["Subject"])]
            assert got, f"{address} never got the second alert"
            assert len({m.message["Message-ID"] for m in got}) == 1, f"{address} got two different messages"
        async with db.reader() as s:
            rows = (await s.execute(select(Delivery.recipient, Delivery.possible_duplicate, Delivery.claimed_by)
                                    .where(Delivery.kind == "alert", Delivery.item_id.is_not(None)))).all()
        resent = [r for r in rows if r.possible_duplicate]
        twice = {a for a in recipients if len([m for m in sink.to(a) if "Langtidsledige" in str(m.message["Subject"])]) > 1}
        assert {r.recipient for r in resent} >= twice  # every message received twice is flagged

        status = await topo.cli("status")
        for role in ("web", "worker", "scheduler"):
            assert re.search(rf"^  {role}\s", status, re.M), status
        codes = await topo.stop_all()
        assert codes == {"web": 0, "worker-a": -signal.SIGKILL, "worker-b": 0, "scheduler": 0}, codes
    finally:
        for proc in topo.procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await db.dispose()
        await runner.cleanup()
        smtp.stop()


async def _done(db: Database) -> bool:
    """Every alert sent, none queued, deferred or being sent."""
    async with db.reader() as s:
        counts = dict((await s.execute(select(Delivery.status, func.count()).where(Delivery.kind == "alert")
                                       .group_by(Delivery.status))).all())
        waiting = await s.scalar(select(func.count()).select_from(Delivery)
                                 .where(Delivery.status.in_(("queued", "deferred", "sending"))))
    return bool(counts.get("sent")) and not waiting
