""""Var det nyttigt?": `/feedback/{token}/ja|nej` shows a page (GET) and records the
answer (POST). The token names the subscriber and the item; the path says the answer."""

from __future__ import annotations

from aiohttp import web

from service.web.keys import RUNTIME
from service.web.public.pages import opened, problem_page
from service.web.templating import render
from subscribers.access import GONE, INVALID
from subscribers.feedback import item_title, record_feedback
from subscribers.links import FEEDBACK

ANSWERS = {"ja": True, "nej": False}


async def _target(request: web.Request):
    """(subscriber, item id, useful, title, problem)."""
    got = await opened(request, FEEDBACK)
    if got.problem:
        return None, None, None, None, got.problem
    item_text = got.data.extra
    useful = ANSWERS.get(request.match_info["answer"])
    if not item_text.isdigit() or useful is None:
        return None, None, None, None, INVALID
    async with request.app[RUNTIME].db.reader() as s:
        title = await item_title(s, int(item_text))
    if title is None:
        return None, None, None, None, GONE
    return got.subscriber, int(item_text), useful, title, None


async def feedback_page(request: web.Request) -> web.Response:
    sub, _, useful, title, problem = await _target(request)
    if problem:
        return problem_page(request, problem)
    return render(request, "subscribers/feedback.html", {"lang": sub.language, "useful": useful, "title": title,
                                                         "done": False})


async def feedback(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    sub, item_id, useful, title, problem = await _target(request)
    if problem:
        return problem_page(request, problem)
    async with runtime.db.transaction() as s:
        await record_feedback(s, sub.id, item_id, useful, now=runtime.clock.now())
    return render(request, "subscribers/feedback.html", {"lang": sub.language, "useful": useful, "title": title,
                                                         "done": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/feedback/{token}/{answer:ja|nej}", feedback_page)
    app.router.add_post("/feedback/{token}/{answer:ja|nej}", feedback)
