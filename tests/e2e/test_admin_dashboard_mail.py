"""The dashboard's numbers are what the SMTP server received: mail goes out through the
real worker to a real SMTP server (two addresses refused with 550, one with 450), then
the admin reads the overview and retries the failures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.db.models import Delivery
from service.delivery.worker import Worker
from tests.admin_support import csrf, staff_client
from tests.integration import _delivery as h


@pytest.fixture(autouse=True)
def renderers(runtime):
    h.install(runtime)


def _number(page: str, element_id: str) -> int:
    return int(re.search(rf'id="{element_id}">(\d+)<', page).group(1))


async def test_dashboard_matches_the_smtp_server(runtime, smtp_server, db_kind):
    people = [f"modtager{n}@example.org" for n in range(6)]
    ids = {}
    for p in people:
        ids[p] = await h.add_subscriber(runtime, p)
    smtp_server.rcpt_replies = {people[0]: "550 5.1.1 <b>no such user</b>", people[1]: "550 5.1.1 no such user",
                                people[2]: "450 4.2.0 mailbox busy"}
    for p in people:
        await h.queue(runtime, [p], subscriber_id=ids[p], prefix=p)
    await Worker(runtime).drain()

    admin = await staff_client(runtime)
    try:
        page = await (await admin.get("/admin/")).text()
        assert _number(page, "sent-day") == len(smtp_server.received) == 3
        assert _number(page, "sent-week") == 3
        assert _number(page, "failed-day") == 2
        assert _number(page, "queue-total") == 1  # the deferred one waits for its next attempt
        assert page.count("5.1.1") == 2 and "&lt;b&gt;no such user&lt;/b&gt;" in page  # reasons, escaped

        r = await admin.post("/admin/deliveries/retry", data={"csrf_token": csrf(admin)}, allow_redirects=False)
        assert r.headers["Location"] == "/admin/?ok=retried&n=2"
    finally:
        await admin.close()
    smtp_server.rcpt_replies = {}
    runtime.clock.advance(seconds=3600)
    await Worker(runtime).drain()
    async with runtime.db.reader() as s:
        status = {d.recipient: d.status for d in (await s.scalars(select(Delivery))).all()}
    # The deferred one went through now; the two refused with 550 are suppressed, so the retry sends nothing to them.
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == sorted(people[2:])
    assert status[people[0]] != "sent" and status[people[1]] != "sent"
