"""The parts of a subscriber's mail, each rendered once and cached (see `assemble`).

- `item_block`: one item (for figures: as seen from the subscriber's municipalities),
  with slots for the subscriber's "Var det nyttigt? Ja / Nej" links;
- `topic_heading`: a digest's group heading;
- `summary_block`: the short summary a politician's mail leads with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import escape

from service.render.assemble import Segments, Shell, cache_of, slot
from service.render.figures import FiguresView, figures_view
from service.render.views import ItemView, SubscriberView, TopicRef

if TYPE_CHECKING:
    from service.render.context import RenderContext


@dataclass(frozen=True)
class Block:
    html: Segments
    text: Segments
    headline: str  # one line for a summary


def item_block(runtime: "RenderContext", sh: Shell, item: ItemView, lang: str, own: tuple[str, ...]) -> Block:
    variant = own if item.is_figures else ()
    return cache_of(runtime).get(("block", item.id, item.revision, lang, variant),
                                 lambda: _item_block(runtime, sh, item, lang, variant))


def _item_block(runtime: "RenderContext", sh: Shell, item: ItemView, lang: str, own: tuple[str, ...]) -> Block:
    fig: FiguresView | None = figures_view(item.data, own, lang, runtime.templates.messages, item.corrections) if item.is_figures else None
    ctx = {"item": item, "fig": fig, "lang": lang, "fb_yes": slot("fb_yes"), "fb_no": slot("fb_no")}
    t = runtime.templates
    html = sh.fragment(t.html_env.get_template("_item.html").render(ctx))
    text = t.text_env.get_template("_item.txt").render(ctx)
    headline = f"{item.title}: {fig.headline}" if fig is not None and fig.headline else item.title
    return Block(Segments(html), Segments(text), headline)


def fill_block(runtime: "RenderContext", block: Block, sub: SubscriberView, item_id: int) -> tuple[str, str]:
    yes, no = runtime.links.feedback_pair(sub.id, sub.token_version, item_id)
    html_values = {"fb_yes": str(escape(yes)), "fb_no": str(escape(no))}
    return block.html.fill(html_values), block.text.fill({"fb_yes": yes, "fb_no": no})


def topic_heading(runtime: "RenderContext", sh: Shell, topic: TopicRef | None, lang: str) -> tuple[str, str]:
    def make() -> tuple[str, str]:
        name = topic.name if topic else runtime.templates.messages.get("digest", "other_topic", lang)
        ctx = {"name": name, "lang": lang}
        t = runtime.templates
        return (sh.fragment(t.html_env.get_template("_topic.html").render(ctx)),
                t.text_env.get_template("_topic.txt").render(ctx))

    return cache_of(runtime).get(("topic", topic.slug if topic else "", lang), make)


def summary_block(runtime: "RenderContext", sh: Shell, lines: tuple[str, ...], lang: str) -> tuple[str, str]:
    def make() -> tuple[str, str]:
        ctx = {"lines": lines, "lang": lang}
        t = runtime.templates
        return (sh.fragment(t.html_env.get_template("_summary.html").render(ctx)),
                t.text_env.get_template("_summary.txt").render(ctx))

    return cache_of(runtime).get(("summary", lines, lang), make)
