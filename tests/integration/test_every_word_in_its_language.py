"""Every message kind rendered in English has no Danish word from a list, and in Danish no
English one; the same for the public pages' error messages (an expired or forged link, a
signup without consent, a page that does not exist). Names (the council, its address, the
municipalities, Budbringer), addresses and links are taken out first. Content staff wrote
(a campaign's title and body) is written here in the language under test, so what is
checked is what Budbringer adds around it.

The draft notice goes to press officers in the console's language (Danish) only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.db.models import Delivery
from service.delivery.outbox import enqueue, mail_domain
from service.digests.run import run_digest
from service.matching.match import match_pending_items
from service.sources.poll import poll_source
from tests.campaign_support import add_user, render
from tests.integration._matching import add_subscriber
from tests.integration._sources import add_source
from tests.statbank_standin import made_up_release, municipalities, standin  # noqa: F401  (the fixture)

DANISH = {"og", "af", "til", "fra", "på", "du", "dig", "din", "dit", "dine", "vi", "er", "har", "kan", "ikke",
          "eller", "med", "abonnement", "abonnerer", "afmeld", "tilmeld", "tilmelding", "bekræft", "ledighed",
          "ledigheden", "ledighedstal", "fuldtidsledige", "kommune", "kommuner", "siden", "måned", "nyheder",
          "nyhed", "hele", "landet", "rettede", "tallene", "læs", "mere", "nyttigt", "ja", "nej", "kl", "pct",
          "januar", "februar", "marts", "maj", "juni", "juli", "oktober", "december", "samtykke", "siden",
          "findes", "linket", "prøv", "igen", "område", "midtjylland", "tal", "vigtigt", "overblik"}
ENGLISH = {"the", "and", "you", "your", "since", "month", "year", "unsubscribe", "subscription", "subscribe",
           "receive", "figures", "unemployment", "municipalities", "lowest", "highest", "please", "confirm",
           "news", "read", "more", "was", "this", "useful", "yes", "of", "area", "page", "not", "found",
           "unemployed", "rate", "changes", "important", "digest"}
NAMES = re.compile("|".join(re.escape(n) for n in sorted(
    [name for _, name in municipalities()] + ["Beskæftigelsesrådet, Region Midtjylland", "Søren Frichs Vej 38 K",
                                               "8230 Åbyhøj", "Beskæftigelsesrådet Midtjylland", "Budbringer"],
    key=len, reverse=True)))
NOISE = re.compile(r"https?://\S+|\S+@\S+|\bAUL01\b|\bAUP01\b")


def words(text: str) -> set[str]:
    text = NOISE.sub(" ", NAMES.sub(" ", re.sub(r"<[^>]+>", " ", text)))
    return {w.lower() for w in re.findall(r"[A-Za-zÆØÅæøå]+", text)}


def foreign(text: str, lang: str) -> set[str]:
    return words(text) & (DANISH if lang == "en" else ENGLISH)


async def _figures(runtime, standin):
    standin.publish(made_up_release("2027M08", seed=31))
    for table in ("AUL01", "AUP01"):
        sid = await add_source(runtime, table.lower(), standin.url, kind="statbank", item_kind="figures",
                               topics=["ledighedstal"], options={"table": table})
        assert (await poll_source(runtime, sid)).error is None


async def _deliveries(runtime, lang: str, sub_id: int, campaign_ids: dict[str, int]) -> dict[str, int]:
    now, domain = runtime.clock.now(), mail_domain(runtime.settings.mail.from_address)
    out = {}
    async with runtime.db.transaction() as s:
        for kind, params in (("confirm", {}), ("manage", {}), ("welcome", {}), ("export", {}),
                             ("email_change", {"new_email": "ny@example.dk"}), ("notice", {"notice": "test"}),
                             ("test", {}), ("press_release", {"campaign_id": campaign_ids["press_release"], "part": "sub"}),
                             ("newsletter", {"campaign_id": campaign_ids["newsletter"], "part": "sub"})):
            out[kind] = await enqueue(s, key=f"lang:{kind}:{lang}", kind=kind, recipient=f"{lang}@example.dk",
                                      now=now, domain=domain, subscriber_id=sub_id, params=params, language=lang,
                                      campaign_id=params.get("campaign_id"))
    async with runtime.db.reader() as s:
        for kind in ("alert", "digest"):
            out[kind] = await s.scalar(select(Delivery.id).where(Delivery.kind == kind, Delivery.language == lang))
    return out


async def _campaigns(runtime, lang: str) -> dict[str, int]:
    from service.campaigns.compose import CampaignForm, create_campaign

    title, body = (("Best practice from the job centres", "How the job centres found work for more people.")
                   if lang == "en" else ("Best practice fra jobcentrene", "Sådan fandt jobcentrene arbejde til flere."))
    ids = {}
    async with runtime.db.transaction() as s:
        for kind in ("press_release", "newsletter"):
            ids[kind] = await create_campaign(s, CampaignForm(kind=kind, title=title, body_md=body, topics=["analyser"]),
                                              now=runtime.clock.now(), templates_root=runtime.templates.root)
    return ids


@pytest.mark.parametrize("lang", ["en", "da"])
async def test_every_message_kind_in_the_readers_language(runtime, standin, lang):
    sub = await add_subscriber(runtime, f"{lang}@example.dk", municipalities=("751",), language=lang,
                               topics=("ledighedstal", "analyser"))
    await add_subscriber(runtime, f"daily.{lang}@example.dk", municipalities=("751",), language=lang,
                         frequency="daily")
    await _figures(runtime, standin)
    assert await match_pending_items(runtime) == 1
    assert await run_digest(runtime, "daily") == 1
    ids = await _deliveries(runtime, lang, sub, await _campaigns(runtime, lang))
    if lang == "da":
        await add_user(runtime, "pia@raadet.example", "press")
        from service.campaigns.drafts import draft_from_figures

        async with runtime.db.reader() as s:
            item_id = await s.scalar(select(Delivery.item_id).where(Delivery.kind == "alert"))
        await draft_from_figures(runtime, item_id)
        async with runtime.db.reader() as s:
            ids["draft_notice"] = await s.scalar(select(Delivery.id).where(Delivery.kind == "draft_notice"))
    assert set(runtime.renderers.kinds()) <= set(ids) | ({"draft_notice"} if lang == "en" else set())
    found = {}
    for kind, delivery_id in ids.items():
        msg = await render(runtime, delivery_id)
        for part, text in (("subject", msg.subject), ("text", msg.text), ("html", msg.html)):
            wrong = foreign(text, lang)
            if wrong:
                found[f"{kind} {part}"] = sorted(wrong)
    assert found == {}


@pytest.mark.parametrize("lang", ["en", "da"])
async def test_the_public_pages_errors_in_the_readers_language(client, lang):
    checks = []
    for path in ("/confirm/not-a-token", "/unsubscribe/not-a-token", "/preferences/not-a-token", "/no-such-page"):
        resp = await client.get(f"{path}?lang={lang}")
        checks.append((path, resp.status, await resp.text()))
    page = await client.get(f"/?lang={lang}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
    resp = await client.post(f"/?lang={lang}", data={
        "csrf_token": token, "email": "ole@example.dk", "topics": ["ledighedstal"], "frequency": "immediate",
        "language": lang, "website": ""})  # no consent
    checks.append(("signup without consent", resp.status, await resp.text()))
    assert checks[-1][1] == 400
    found = {}
    for what, status, html in checks:
        main = re.search(r"<main.*?</main>", html, re.S)
        wrong = foreign(main.group(0) if main else html, lang)
        if wrong:
            found[f"{what} ({status})"] = sorted(wrong)
    assert found == {}


@pytest.mark.parametrize("lang", ["en", "da"])
async def test_the_signup_form_describes_every_seeded_topic_in_the_readers_language(client, runtime, lang):
    """Each topic on the form has the line under its name in the page's language (the English
    form had none: the seeded taxonomy was Danish only until migration 0008)."""
    from html import unescape

    from service.db.reference import Topic

    async with runtime.db.reader() as s:
        topics = (await s.scalars(select(Topic).where(Topic.retired.is_(False)))).all()
    page = unescape(await (await client.get(f"/?lang={lang}")).text())
    described = {t.slug: t.description_en if lang == "en" else t.description_da for t in topics}
    assert len(described) >= 11 and all(described.values()), described
    assert [slug for slug, text in described.items() if f"<small>{text}</small>" not in page] == []
    assert not foreign(" ".join(described.values()), lang)
