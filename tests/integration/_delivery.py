"""Helpers for the delivery tests: stand-in renderers (the only test double; SMTP and the
database are real), and quick ways to queue deliveries and subscribers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from service.db.models import Delivery
from service.delivery.outbox import enqueue, mail_domain
from service.render.message import Rendered
from service.render.registry import RENDERERS, register
from subscribers.models import Subscriber

KINDS = {
    "t_plain": "tests.integration._delivery:render_plain",
    "t_broken": "tests.integration._delivery:render_broken",
    "t_hostile": "tests.integration._delivery:render_hostile",
}


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


def install() -> dict[str, str | None]:
    saved = {k: RENDERERS.get(k) for k in KINDS}
    for kind, target in KINDS.items():
        register(kind, target)
    return saved


def uninstall(saved: dict[str, str | None]) -> None:
    for kind, target in saved.items():
        if target is None:
            RENDERERS.pop(kind, None)
        else:
            register(kind, target)


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
