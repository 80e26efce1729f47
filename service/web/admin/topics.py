"""Admin: topics (add, rename in Danish and English, describe, order, retire)."""

from __future__ import annotations

from aiohttp import web

from service.audit import record_request
from service.errors import DomainError
from service.staff.auth import require_role
from service.web.keys import RUNTIME
from service.web.admin._common import page as render
from service.web.admin.flash import redirect
from service.web.admin.nav import NavLink, add
from subscribers.topic_admin import TopicForm, add_topic, list_topics, set_retired, update_topic
from service.web.public.pages import forget_options


def _form(data) -> TopicForm:
    pos = str(data.get("position", "")).strip()
    return TopicForm(name_da=str(data.get("name_da", "")), name_en=str(data.get("name_en", "")),
                     description_da=str(data.get("description_da", "")), description_en=str(data.get("description_en", "")),
                     position=int(pos) if pos.lstrip("-").isdigit() else None)


async def index(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    runtime = request.app[RUNTIME]
    async with runtime.db.reader() as s:
        topics = await list_topics(s)
    return render(request, "admin/topics.html", {"topics": topics, "message": message}, status=status)


async def create(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    data = await request.post()
    slug = str(data.get("slug", ""))
    try:
        async with runtime.db.transaction() as s:
            tid = await add_topic(s, slug, _form(data))
            await record_request(s, request, "topic.add", f"topic:{tid}", {"slug": slug})
    except DomainError as exc:
        return await index(request, exc.message, exc.status)
    forget_options(request.app)  # the signup form shows the change at once
    raise redirect("/admin/topics", "topic-saved")


async def save(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    tid = int(request.match_info["id"])
    data = await request.post()
    action = str(data.get("action", "save"))
    try:
        async with runtime.db.transaction() as s:
            if action in ("retire", "restore"):
                slug = await set_retired(s, tid, action == "retire")
                await record_request(s, request, f"topic.{action}", f"topic:{tid}", {"slug": slug})
            else:
                changes = await update_topic(s, tid, _form(data))
                await record_request(s, request, "topic.edit", f"topic:{tid}", changes)
    except DomainError as exc:
        return await index(request, exc.message, exc.status)
    forget_options(request.app)  # the signup form shows the change at once
    raise redirect("/admin/topics", "topic-saved")


def setup(app: web.Application) -> None:
    add(app, NavLink("/admin/topics", "Emner", ("admin",), 50))
    admins = require_role("admin")
    app.router.add_get("/admin/topics", admins(index))
    app.router.add_post("/admin/topics", admins(create))
    app.router.add_post("/admin/topics/{id:\\d+}", admins(save))
