"""A relay that takes fewer connections than the worker would open (issue 19): it answers
the next one with "421 too many connections", and the worker sends everything over the
connections it has, instead of deferring or failing the messages. Real aiosmtpd on loopback
and both databases; the only change to aiosmtpd is the refusal itself (`Crowded`)."""

from __future__ import annotations

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from service.delivery.worker import Worker
from service.wiring import build_runtime
from tests.conftest import SmtpSink, free_port, make_settings
from tests.integration import _delivery as h

TAKES = 3


class Count:
    def __init__(self) -> None:
        self.open = self.peak = self.refused = 0


class Crowded(SMTP):
    """aiosmtpd, refusing a connection beyond `TAKES` at once with 421 as Postfix does."""

    count: Count

    async def _handle_client(self):
        if self.count.open >= TAKES:
            self.count.refused += 1
            await self.push("421 4.7.0 Error: too many connections from 127.0.0.1")
            self.transport.close()
            return
        self.count.open += 1
        self.count.peak = max(self.count.peak, self.count.open)
        try:
            await super()._handle_client()
        finally:
            self.count.open -= 1


class CrowdedController(Controller):
    def __init__(self, *args, count: Count, **kwargs):
        super().__init__(*args, **kwargs)
        self.count = count

    def factory(self):
        server = Crowded(self.handler, **self.SMTP_kwargs)
        server.count = self.count
        return server


async def test_a_relay_answering_421_gets_fewer_connections_and_every_message(db_url, tmp_path, clock, db_kind):
    sink, count = SmtpSink("127.0.0.1", free_port()), Count()
    controller = CrowdedController(sink, hostname="127.0.0.1", port=sink.port, count=count)
    controller.start()
    runtime = build_runtime(make_settings(db_url, tmp_path, sink.port, delivery={"concurrency": 10}), clock=clock)
    h.install(runtime)
    try:
        ids = await h.queue(runtime, [f"mange{i}@example.dk" for i in range(40)])
        worker = Worker(runtime)
        assert await worker.drain() == 40
        rows = await h.deliveries(runtime)
    finally:
        await runtime.close()
        controller.stop()
    assert count.refused >= 1  # it did say no
    assert count.peak <= TAKES
    assert {rows[i].status for i in ids} == {"sent"} and {rows[i].attempts for i in ids} == {1}
    assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted(f"mange{i}@example.dk" for i in range(40))
    assert worker.tally == {"sent": 40}


async def test_a_relay_taking_no_connection_at_all_is_a_connect_error_and_the_messages_wait(db_url, tmp_path, clock,
                                                                                           db_kind):
    global TAKES
    sink, count = SmtpSink("127.0.0.1", free_port()), Count()
    controller = CrowdedController(sink, hostname="127.0.0.1", port=sink.port, count=count)
    controller.start()
    runtime = build_runtime(make_settings(db_url, tmp_path, sink.port), clock=clock)
    h.install(runtime)
    saved, TAKES = TAKES, 0
    try:
        ids = await h.queue(runtime, [f"vent{i}@example.dk" for i in range(5)])
        await Worker(runtime).drain()
        rows = await h.deliveries(runtime)
    finally:
        TAKES = saved
        await runtime.close()
        controller.stop()
    assert {rows[i].status for i in ids} == {"deferred"}
    assert all("421" in rows[i].last_error for i in ids)
    assert sink.received == []
