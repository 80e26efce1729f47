"""One of every message the product sends, made the way the product makes it, for the
same-bytes check (`test_wire_bytes.py`): alerts and digests (daily and weekly, Danish and
English, a politician's, a figures table seen from the reader's municipalities), a
newsletter with merge fields, a press release under embargo with an attachment (press
copies, then the subscriber copies), its correction, the subscription mails (confirm,
welcome, manage, address change, data export), a notice, a test mail and a press
officer's draft notice.

Everything is fixed: the frozen clock, the secret, the ids (a fresh database), the MIME
boundaries (counted, `counted_boundaries`) and DKIM's timestamp (`fixed_dkim_time`).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import insert, select

from service.campaigns.attachments import add_attachment
from service.campaigns.compose import CampaignForm, create_campaign
from service.campaigns.correction import start_correction
from service.campaigns.release import release_due
from service.campaigns.schedule import schedule
from service.db.campaigns import PressContact
from service.db.models import Item, User, item_municipalities, item_topics
from service.db.reference import Audience, Topic
from service.delivery.outbox import enqueue, mail_domain
from service.delivery.worker import Worker
from service.digests.run import run_digest
from service.matching.match import match_pending_items
from service.scheduler import figures_drafts
from subscribers import lifecycle
from subscribers.models import Subscriber, subscriber_municipalities, subscriber_topics

PEOPLE = [
    # email, name, language, frequency, politician, topics, municipalities
    ("hanne@example.dk", "Hanne Jensen", "da", "immediate", True,
     ("ledighedstal", "analyser", "presse", "best-practice"), ("751",)),
    ("john@example.com", "<Jo>&Jane Smith", "en", "immediate", False, ("ledighedstal", "best-practice"), ()),
    ("dorte@example.dk", "", "da", "daily", False, ("ledighedstal", "retningslinjer", "best-practice", "presse"),
     ("730", "615")),
    ("emma@example.com", "Emma Brown", "en", "daily", True, ("analyser", "ledighedstal", "presse"), ()),
    ("soeren@example.dk", "Søren Ølgaard", "da", "weekly", False, ("ledighedstal",), ("751", "730")),
]

SUMMARY = ("Ledigheden i Region Midtjylland faldt igen i september. Rådet ser på, hvordan jobcentrene kan "
           "hjælpe flere langtidsledige i gang – også i Århus, Ærø og Ølgod – og følger op på de nye "
           "retningslinjer med = tegn og en linje, der slutter med mellemrum ")

NEWSLETTER_MD = """{hilsen}

Velkommen til **Best Practice** – nyhedsbrevet fra Beskæftigelsesrådet. Denne gang om
jobcentre, der får *flere i job* hurtigere, og om {fornavn|kollega}s egne erfaringer.

## Tre ting, der virker

1. Tidlig kontakt: en samtale inden for de første to uger.
2. Virksomhedsrettede tilbud frem for kurser.
3. Opfølgning = resultater; se [tallene](https://example.dk/tal?år=2026&måned=9).

| Kommune | Ledige | Ændring |
|---|---:|---:|
| Aarhus | 7.412 | -3,1 % |
| Randers | 2.104 | +0,4 % |

.en linje, der begynder med punktum
.

> Citat: »Det handler om at møde borgeren, hvor hun er.«

En lang linje uden linjeskift, der bliver ved og ved, så quoted-printable må bløde den op flere gange: æøå ÆØÅ é ü – og lidt mere tekst til sidst for at nå over firs tegn igen og igen.

Venlig hilsen
Sekretariatet
"""

PRESS_MD = """Beskæftigelsesrådet Midtjylland offentliggør i dag nye tal for ledigheden.

* Ledigheden faldt i 15 af 19 kommuner.
* Størst fald i Skive (-4,2 %).

Læs mere på [bm.dk](https://example.dk/presse).
"""


def counted_boundaries(monkeypatch) -> None:
    """MIME boundaries 1, 2, 3, … in the order messages are built (random in production)."""
    counter = itertools.count(1)
    monkeypatch.setattr("service.delivery.mime._boundary", lambda: f"=_bb_test{next(counter):06d}")


def fixed_token_versions(monkeypatch) -> None:
    """New subscribers' first token versions 1001, 1002, … (random in production)."""
    counter = itertools.count(1000)

    class Counted:
        @staticmethod
        def randbelow(_n: int) -> int:
            return next(counter)

    monkeypatch.setattr("subscribers.models.secrets", Counted)


def fixed_dkim_time(monkeypatch, runtime) -> None:
    stamp = runtime.clock.now().timestamp()
    monkeypatch.setattr("dkim.time.time", lambda: stamp)


async def _people(runtime) -> dict[str, int]:
    now = runtime.clock.now()
    ids = {}
    async with runtime.db.transaction() as s:
        topics = dict((await s.execute(select(Topic.slug, Topic.id))).all())
        politician = await s.scalar(select(Audience.id).where(Audience.slug == "politiker"))
        for email, name, lang, freq, pol, tops, munis in PEOPLE:
            sub = Subscriber(email=email, name=name, language=lang, frequency=freq, status="active", created_at=now,
                             confirmed_at=now, audience_id=politician if pol else None, token_version=100 + len(ids))
            s.add(sub)
            await s.flush()
            ids[email] = sub.id
            await s.execute(insert(subscriber_topics), [{"subscriber_id": sub.id, "topic_id": topics[t]} for t in tops])
            if munis:
                await s.execute(insert(subscriber_municipalities),
                                [{"subscriber_id": sub.id, "municipality_code": m} for m in munis])
        s.add(User(email="presse@budbringer.example", name="Pia Presse", password_hash="x", role="press",
                   created_at=now))
        for email, name, media in (("lise@avisen.dk", "Lise Lund", "regional"), ("redaktion@tv.dk", "", "broadcast")):
            s.add(PressContact(email=email, name=name, outlet="Avisen", media_type=media, region="Midtjylland",
                               beats=[], status="active", created_at=now, updated_at=now))
    return ids


def _figures() -> dict:
    areas = [{"code": "000", "name": "Hele landet", "level": "country", "value": 82385.0, "previous": 84943.0,
              "year_ago": 87271.0, "change_month": -2558.0, "change_year": -4886.0},
             {"code": "082", "name": "Region Midtjylland", "level": "region", "value": 21585.0, "previous": 22255.0,
              "year_ago": 22865.0, "change_month": -670.0, "change_year": -1280.0}]
    for i, (code, name) in enumerate((("751", "Aarhus"), ("730", "Randers"), ("615", "Horsens"), ("779", "Skive"))):
        v = 1000.0 + 300 * i
        areas.append({"code": code, "name": name, "level": "municipality", "value": v, "previous": v + 10 * i - 20,
                      "year_ago": v + 50, "change_month": 20 - 10 * i, "change_year": -50.0})
    return {"table": "AUL01", "period": "2026M09", "previous_period": "2026M08", "year_ago_period": "2025M09",
            "unit": "Antal", "updated": "2026-10-29T08:00:00", "areas": areas}


async def _items(runtime) -> list[int]:
    now = runtime.clock.now()
    specs = [
        ("figures", "Ledigheden faldt i september", ("ledighedstal",), ("751", "730", "615", "779"), False, _figures()),
        ("news", "Nyt fra rådet: flere langtidsledige i job", ("ledighedstal", "analyser"), ("751",), False, None),
        ("guideline", "Nye retningslinjer for samtaler", ("retningslinjer", "ledighedstal"), (), True, None),
        ("analysis", "Analyse: unge uden uddannelse", ("analyser",), (), False, None),
    ]
    ids = []
    async with runtime.db.transaction() as s:
        topics = dict((await s.execute(select(Topic.slug, Topic.id))).all())
        for k, (kind, title, tops, munis, urgent, data) in enumerate(specs):
            item = Item(kind=kind, title=title, summary=SUMMARY + f"\n.punktum {k}\n", summary_html="",
                        link=f"https://example.dk/nyt/{k}?a=1&b=æ", urgent=urgent, data=data, content_hash=f"w{k}",
                        period="2026M09" if data else None, published_at=now - timedelta(hours=k), created_at=now,
                        updated_at=now, revision=1, matched_revision=0, announce_revision=False)
            s.add(item)
            await s.flush()
            await s.execute(insert(item_topics), [{"item_id": item.id, "topic_id": topics[t]} for t in tops])
            if munis:
                await s.execute(insert(item_municipalities), [{"item_id": item.id, "municipality_code": m} for m in munis])
            ids.append(item.id)
    return ids


async def build_and_send(runtime) -> None:
    """Queue one of everything and let the product's worker send it (the clock moves for the embargo)."""
    clock = runtime.clock
    now = clock.now()
    domain = mail_domain(runtime.settings.mail.from_address)
    people = await _people(runtime)
    item_ids = await _items(runtime)
    await match_pending_items(runtime)  # alerts for the immediate readers
    await figures_drafts(runtime)  # the scheduler's next step: a draft notice for the press officer
    await run_digest(runtime, "daily", "2026-11-23")
    await run_digest(runtime, "weekly", "2026-W48")
    ev = lifecycle.Evidence(source="web", ip="127.0.0.1", user_agent="wire-test")
    async with runtime.db.transaction() as s:
        await lifecycle.signup(runtime, s, "ny@example.dk", lifecycle.Choices(
            topics=["ledighedstal"], municipalities=["751"], frequency="daily", language="da", name="Ny Læser"),
            now=now, evidence=ev)
        await lifecycle.signup(runtime, s, "new@example.com", lifecycle.Choices(
            topics=["analyser"], frequency="weekly", language="en", name="New Reader"), now=now, evidence=ev)
    async with runtime.db.transaction() as s:
        pending = await s.scalar(select(Subscriber.id).where(Subscriber.email == "new@example.com"))
        await lifecycle.confirm(runtime, s, pending, now=now, evidence=ev)
        await lifecycle.send_manage_link(runtime, s, "hanne@example.dk", now=now)
        await lifecycle.request_email_change(runtime, s, people["john@example.com"], "john.smith@example.org", now=now)
        await lifecycle.request_export(runtime, s, people["dorte@example.dk"], now=now)
        await enqueue(s, key="notice:wire", kind="notice", recipient="hanne@example.dk", now=now, domain=domain,
                      subscriber_id=people["hanne@example.dk"], language="da",
                      params={"subject": "Driftsbesked: planlagt vedligehold", "text": "Vi opdaterer systemet.\n\n"
                              "Det tager en time.", "link": "https://example.dk/drift", "link_label": "Læs mere"})
        await enqueue(s, key="test:wire", kind="test", recipient="it@example.dk", now=now, domain=domain,
                      params={"notice": "test"}, language="en")
    root = runtime.templates.root
    async with runtime.db.transaction() as s:
        newsletter = await create_campaign(s, CampaignForm(
            kind="newsletter", title="Best Practice nr. 12 – jobcentre, der lykkes", lead="Tre ting, der virker.",
            body_md=NEWSLETTER_MD, topics=["best-practice"], item_ids=item_ids[1:3], contact_name="Mette Madsen",
            contact_email="mette@example.dk", contact_phone="+45 12 34 56 78", focus="Langtidsledighed"),
            now=now, templates_root=root)
        press = await create_campaign(s, CampaignForm(
            kind="press_release", title="Ledigheden falder i Midtjylland", lead="Færre ledige i 15 af 19 kommuner.",
            body_md=PRESS_MD, topics=[], contact_name="Pia Presse", contact_email="presse@budbringer.example"),
            now=now, templates_root=root)
        await add_attachment(s, press, "Tal for september.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n",
                             max_bytes=5_000_000, total_bytes=10_000_000)
        await schedule(s, newsletter, scheduled_at=now, embargo_until=None, now=now)
        await schedule(s, press, scheduled_at=now, embargo_until=now + timedelta(minutes=10), now=now)
    await release_due(runtime)  # newsletter to its readers, press copies under embargo
    await Worker(runtime).drain()
    clock.advance(minutes=10)
    await release_due(runtime)  # the embargo is over: the press release's subscriber copies
    await Worker(runtime).drain()
    clock.advance(minutes=5)
    async with runtime.db.transaction() as s:
        correction = await start_correction(s, press, now=clock.now())
    async with runtime.db.transaction() as s:
        await schedule(s, correction, scheduled_at=clock.now(), embargo_until=None, now=clock.now())
    await release_due(runtime)
    await release_due(runtime)
    await Worker(runtime).drain()
