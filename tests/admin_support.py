"""Helpers for the admin tests: staff users, a logged-in client, the CSRF token."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from service.staff.users import add_user
from service.web.app import create_app

PASSWORD = "korrekt-hest-batteri"


async def make_user(runtime, email="admin@raadet.example", role="admin", password=PASSWORD, name="") -> int:
    async with runtime.db.transaction() as s:
        return await add_user(s, email, role=role, password=password, name=name or email.split("@")[0],
                              now=runtime.clock.now())


def csrf(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))["bb_csrf"].value


async def log_in(client, email="admin@raadet.example", password=PASSWORD):
    if "bb_csrf" not in client.session.cookie_jar.filter_cookies(client.make_url("/")):
        await client.get("/admin/login")
    return await client.post("/admin/login", data={"csrf_token": csrf(client), "email": email, "password": password},
                             allow_redirects=False)


async def new_client(runtime) -> TestClient:
    c = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await c.start_server()
    return c


async def staff_client(runtime, email="admin@raadet.example", role="admin") -> TestClient:
    """A client logged in as a new staff user of `role`."""
    await make_user(runtime, email, role)
    c = await new_client(runtime)
    r = await log_in(c, email)
    assert r.status == 303, await r.text()
    return c
