"""Helpers for the delivery tests: stand-in renderers (the only test double; SMTP and the
database are real), and quick ways to queue deliveries and subscribers.

`install(runtime)` hands that runtime a copy of its renderers with the stand-in kinds; the
product's table (`service.wiring.RENDERERS`) is never changed. A test that runs the worker
in another process queues real "notice" mail instead (`NOTICE`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from service.db.models import Delivery
from service.delivery.outbox import enqueue, mail_domain
from service.render.message import Rendered
from subscribers.models import Subscriber

async def render_plain(runtime, session, delivery) -> Rendered:
    return Rendered(
        subject=f"Nye ledighedstal for Århus – besked {delivery.id}",
        text=f"Hej {delivery.recipient}\n\nLedigheden i Aarhus faldt.\n.en linje med punktum\n",
        html=f"<p>Hej <b>{delivery.recipient}</b></p><p>Ledigheden i Aarhus faldt – æøå.</p>",
        unsubscribe_url=f"{runtime.settings.service.base_url}/afmeld/{delivery.id}/" + "x" * 180,
    )


async def render_broken(runtime, session, delivery) -> Rendered:
    raise RuntimeError("template exploded")


async def render_hostile(runtime, session, delivery) -> Rendered:
    return Rendered(subject=delivery.params["subject"], text="x")


KINDS = {"t_plain": render_plain, "t_broken": render_broken, "t_hostile": render_hostile}


def install(runtime) -> None:
    runtime.renderers = runtime.renderers.with_kinds(KINDS)


# A real notice, rendered by the product's own renderer: queue(..., kind="notice", params=NOTICE).
NOTICE = {"subject": "Besked fra Budbringer", "text": "Ledigheden i Aarhus faldt."}


async def add_subscriber(runtime, email: str, status: str = "active") -> int:
    now = runtime.clock.now()
    async with runtime.db.transaction() as s:
        sub = Subscriber(email=email, status=status, created_at=now, confirmed_at=now if status == "active" else None)
        s.add(sub)
        await s.flush()
        return sub.id


async def queue(runtime, recipients: list[str], kind: str = "t_plain", prefix: str = "t", **kw) -> list[int]:
    now: datetime = runtime.clock.now()
    ids = []
    domain = mail_domain(runtime.settings.mail.from_address)
    async with runtime.db.transaction() as s:
        for i, r in enumerate(recipients):
            ids.append(await enqueue(s, key=f"{prefix}:{i}:{r}", kind=kind, recipient=r, now=now, domain=domain, **kw))
    return ids


async def deliveries(runtime) -> dict[int, Delivery]:
    async with runtime.db.reader() as s:
        return {d.id: d for d in (await s.scalars(select(Delivery).order_by(Delivery.id))).all()}
