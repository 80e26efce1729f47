"""What an operator watches: /metrics figures from the shared ledger, request ids, JSON logs."""

import json
import logging
from datetime import timedelta

from service import logs
from service.delivery.outbox import enqueue


async def test_metrics_show_queue_depth_and_deliveries_by_status(client, runtime, clock):
    async with runtime.db.transaction() as s:
        for n in range(3):
            await enqueue(s, key=f"m{n}", kind="test", recipient=f"m{n}@example.dk",
                          now=clock.now() - timedelta(minutes=5), domain="example.dk")
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'budbringer_deliveries{status="queued"} 3.0' in text
    assert "budbringer_queue_depth 3.0" in text
    assert "budbringer_queue_oldest_due_seconds 300.0" in text
    assert "budbringer_delivery_send_seconds_bucket" in text


async def test_every_response_carries_a_request_id(client):
    first = await client.get("/healthz")
    second = await client.get("/no-such-page")
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)


def test_json_log_lines_carry_the_ids(capsys):
    handler = logs.configure(fmt="json", force=True)
    try:
        token = logs.delivery_id.set(42)
        logging.getLogger("budbringer.test").warning("sendt til %s", "æøå@example.dk")
        logs.delivery_id.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        logging.getLogger().removeHandler(handler)
    assert line["delivery_id"] == 42
    assert line["message"] == "sendt til æøå@example.dk"
    assert line["level"] == "warning"
