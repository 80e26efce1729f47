"""International addresses reach a real SMTP server (catalogue 36).

`ole@bücher.dk` and `anne@straße.dk` were accepted at signup, then every send failed with
UnicodeEncodeError at RCPT and stayed deferred until it gave up; the To header used IDNA
2003, which turns `faß.de` into `fass.de`, another domain. Now the envelope and the header
carry one ASCII form by IDNA 2008, and a local part such as `jørgen@` goes with SMTPUTF8
where the relay offers it (and fails plainly, unsuppressed, where it does not).
"""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from service.delivery.worker import Worker
from service.wiring import build_runtime
from subscribers.addresses import normalise
from tests.conftest import SmtpSink, free_port, make_settings
from tests.integration import _delivery as h
from tests.integration._reports import dsn

BOUNCE = "bounces@budbringer.example"


@pytest.fixture
def relay_without_utf8():
    """aiosmtpd as a relay that does not offer SMTPUTF8 (the suite's `smtp_server` does)."""
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, decode_data=False, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


async def _runtime(db_url, tmp_path, clock, port):
    runtime = build_runtime(make_settings(db_url, tmp_path, port, mail={"bounce_address": BOUNCE}), clock=clock)
    h.install(runtime)
    return runtime


async def test_item36_international_domains_go_out_in_one_ascii_form_by_idna_2008(db_url, tmp_path, clock,
                                                                                  smtp_server, db_kind):
    runtime = await _runtime(db_url, tmp_path, clock, smtp_server.port)
    try:
        typed = {"ole@bücher.dk": "ole@xn--bcher-kva.dk", "anne@straße.dk": "anne@xn--strae-oqa.dk",
                 "kim@faß.de": "kim@xn--fa-hia.de"}
        stored = [normalise(a) for a in typed]  # as the signup page keeps them
        assert stored == list(typed)
        for address in stored:
            await h.add_subscriber(runtime, address)
        ids = await h.queue(runtime, stored)
        await Worker(runtime).drain()
        rows = await h.deliveries(runtime)
        assert [rows[i].status for i in ids] == ["sent"] * 3, [rows[i].last_error for i in ids]
        for unicode_form, ascii_form in typed.items():
            [got] = smtp_server.to(ascii_form)
            assert got.rcpt_tos == [ascii_form]
            assert got.message["To"].addresses[0].addr_spec == ascii_form
        assert smtp_server.to("kim@fass.de") == [] and b"fass.de" not in b"".join(r.data for r in smtp_server.received)

        # A bounce names the address as it went over the wire; it still reaches ole@bücher.dk.
        [got] = smtp_server.to("ole@xn--bcher-kva.dk")
        from service.bounces.process import apply_report

        result = await apply_report(runtime, dsn(got.data, recipient="ole@xn--bcher-kva.dk", to=got.mail_from),
                                    envelope_to=got.mail_from)
        assert result.status == "applied" and result.suppressed == ["ole@bücher.dk"]
    finally:
        await runtime.close()


async def test_item36_a_local_part_with_special_letters_goes_with_smtputf8_where_the_relay_offers_it(
        db_url, tmp_path, clock, smtp_server, relay_without_utf8, db_kind):
    """Press contacts may have such an address (subscribers may not: the signup page says so)."""
    offers = await _runtime(db_url, tmp_path, clock, smtp_server.port)
    try:
        [d] = await h.queue(offers, ["jørgen@avisen.dk"], prefix="utf8")
        await Worker(offers).drain()
        assert (await h.deliveries(offers))[d].status == "sent"
        [got] = smtp_server.received
        assert got.rcpt_tos == ["jørgen@avisen.dk"]
        import email
        import email.policy

        # The header is UTF-8 (RFC 6532): read as such, not with Python's ASCII bytes parser.
        message = email.message_from_string(got.data.decode("utf-8"), policy=email.policy.SMTPUTF8)
        assert message["To"].addresses[0].addr_spec == "jørgen@avisen.dk"
    finally:
        await offers.close()

    plain = await _runtime(db_url, tmp_path, clock, relay_without_utf8.port)
    try:
        [d] = await h.queue(plain, ["jørgen@avisen.dk"], prefix="plain")
        await Worker(plain).drain()
        row = (await h.deliveries(plain))[d]
        assert row.status == "failed" and "SMTPUTF8" in row.last_error
        assert relay_without_utf8.received == []
        from sqlalchemy import func, select

        from subscribers.models import Suppression

        async with plain.db.reader() as s:  # our relay's limit, not the address's fault
            assert await s.scalar(select(func.count()).select_from(Suppression)) == 0
    finally:
        await plain.close()
