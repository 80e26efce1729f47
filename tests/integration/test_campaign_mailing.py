"""The send worker's campaign renderer (`service.campaigns.mailing`: the theme, Markdown and
CSS done once per campaign, part and language; links and merge fields per recipient) gives
the same bytes as rendering each mail alone (`render.render_one`, what the worker did
before issue 19 and what previews and test sends still do), for any campaign text, any
reader's name, both languages, press and subscriber copies, under embargo and after.

SQLite only: nothing here depends on the database (the renderers read the same rows on
both; the wire snapshot and the e2e flows send campaigns on both)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from service.campaigns import mailing
from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.render import render_one
from service.db.campaigns import Campaign, PressContact
from service.db.models import Delivery
from service.delivery.mime import build_message
from service.delivery.outbox import enqueue, mail_domain
from subscribers.models import Subscriber
from tests.conftest import make_settings

PIECES = st.sampled_from([
    "{hilsen}", "{fornavn}", "{navn}", "{fornavn|kollega}", "{hilsen|kære alle}", "{ukendt}", "{fornavn",
    "**fed**", "*kursiv*", "[et link](https://example.dk/a?b=1&c=æ)", "\n\n", "\n", "\n.\n", "\n.punktum\n",
    "æøå ÆØÅ", "– »citat« ", "a = b ", "   ", "\n## Overskrift\n", "\n* punkt\n* punkt\n", "<script>x</script>",
    "| a | b |\n|---|---:|\n| 1 | 2 |\n", "x" * 90, "lang linje " * 12, "&amp; < > \" '",
])
TEXT = st.lists(PIECES, max_size=14).map("".join)
NAMES = st.sampled_from(["", "Hanne Jensen", "<Jo>&Jane", "Søren Ølgaard", "  Anne   Marie  ", "O'Brien", "Ærø"])
CASES = st.fixed_dictionaries({
    "kind": st.sampled_from(["newsletter", "press_release"]),
    # A title is one line (the editor refuses a line break, which a subject cannot carry).
    "title": st.lists(PIECES, min_size=1, max_size=4).map("".join).map(lambda t: " ".join(t.split()) or "Titel"),
    "lead": TEXT, "body": TEXT,
    "embargo": st.booleans(),
    "readers": st.lists(st.tuples(NAMES, st.sampled_from(["da", "en"]), st.sampled_from(["sub", "press"])),
                        min_size=1, max_size=5),
})


class Place:
    """A runtime on its own event loop, so that hypothesis can run many examples in one database."""

    def __init__(self, url: str, tmp_path):
        from service.clock import FrozenClock
        from service.wiring import build_runtime

        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock(datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc))
        self.runtime = build_runtime(make_settings(url, tmp_path), clock=self.clock)
        self.n = itertools.count()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.runtime.close())
        self.loop.close()


@pytest.fixture
def place(sqlite_template, tmp_path):
    target = tmp_path / "mailing.db"
    shutil.copy(sqlite_template, target)
    p = Place(f"sqlite+aiosqlite:///{target}", tmp_path)
    yield p
    p.close()


async def _queue(place: Place, case: dict) -> list[int]:
    rt, now = place.runtime, place.clock.now()
    domain = mail_domain(rt.settings.mail.from_address)
    async with rt.db.transaction() as s:
        for table in (Delivery, Subscriber, PressContact, Campaign):
            await s.execute(delete(table))
        cid = await create_campaign(s, CampaignForm(
            kind=case["kind"], title=case["title"], lead=case["lead"], body_md=case["body"], topics=["ledighedstal"],
            contact_name="Mette", contact_email="mette@example.dk"), now=now, templates_root=rt.templates.root)
        c = await s.get(Campaign, cid)
        c.status, c.started_at = "sending", now
        if case["embargo"]:
            c.embargo_until = now + timedelta(minutes=10)
        ids = []
        for name, lang, part in case["readers"]:
            n = next(place.n)
            email = f"laeser{n}@example.dk"
            if part == "press":
                who = PressContact(email=email, name=name, outlet="Avisen", media_type="regional", region="Midtjylland",
                                   beats=[], status="active", created_at=now, updated_at=now)
            else:
                who = Subscriber(email=email, name=name, language=lang, status="active", created_at=now,
                                 token_version=1000 + n)
            s.add(who)
            await s.flush()
            ids.append(await enqueue(
                s, key=f"campaign:{cid}:{part}:{who.id}", kind=case["kind"], recipient=email, now=now, domain=domain,
                subscriber_id=who.id if part == "sub" else None, press_contact_id=who.id if part == "press" else None,
                campaign_id=cid, language=lang if part == "sub" else "da", params={"part": part}))
    return ids


async def _both(place: Place, ids: list[int]) -> list[tuple[bytes, bytes]]:
    """(worker's renderer, one alone), built into bytes with the same boundary and date."""
    rt = place.runtime
    out = []
    async with rt.db.reader() as s:  # one session for the batch, as the worker has
        batch = list((await s.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all())
        fast = [await mailing.render_campaign(rt, s, d) for d in batch]
    async with rt.db.reader() as s:
        alone = [await render_one(rt, s, await s.get(Delivery, d.id)) for d in batch]
    for d, a, b in zip(batch, fast, alone):
        built = [build_message(r, rt.settings.mail, recipient=d.recipient, message_id=d.message_id,
                               date=place.clock.now()) for r in (a, b)]
        out.append(tuple(built))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=CASES)
def test_the_worker_renders_every_campaign_mail_as_one_rendered_alone(place, monkeypatch, case):
    monkeypatch.setattr("service.delivery.mime._boundary", lambda: "=_bb_same")
    ids = place.run(_queue(place, case))
    for fast, alone in place.run(_both(place, ids)):
        assert fast == alone


def test_a_campaign_is_rendered_once_for_all_its_readers(place, monkeypatch):
    """The theme (and the Markdown under it) is rendered once per part and language, not per reader."""
    case = {"kind": "newsletter", "title": "Nyt", "lead": "", "body": "{hilsen}\n\nTekst.", "embargo": False,
            "readers": [(f"Navn{i} Efternavn", "da", "sub") for i in range(20)]}
    ids = place.run(_queue(place, case))
    renders = []
    real = place.runtime.templates.render_email
    monkeypatch.setattr(place.runtime.templates, "render_email", lambda *a, **k: renders.append(a) or real(*a, **k))

    async def go():
        async with place.runtime.db.reader() as s:
            batch = list((await s.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all())
            return [await mailing.render_campaign(place.runtime, s, d) for d in batch]

    mails = place.run(go())
    assert len(renders) == 1
    for i, m in enumerate(mails):  # each greeted by name, in both parts, with their own links
        assert f"Kære Navn{i}\n" in m.text and f"Kære Navn{i}</p>" in m.html
    assert len({m.unsubscribe_url for m in mails}) == 20
