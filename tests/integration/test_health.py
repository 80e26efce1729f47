"""The app starts on a migrated database and says so; a database it cannot reach is reported."""



async def test_healthz_ok_on_migrated_database(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


async def test_healthz_503_when_database_missing(tmp_path, clock):
    from aiohttp.test_utils import TestClient, TestServer

    from service.wiring import build_runtime
    from service.web.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/empty.db", tmp_path)
    runtime = build_runtime(settings, clock=clock)
    async with TestClient(TestServer(create_app(runtime), host="127.0.0.1")) as c:
        resp = await c.get("/healthz")
        assert resp.status == 503
        assert "migrations pending" in (await resp.json())["database"]
    await runtime.close()


async def test_reference_data_seeded(runtime):
    from sqlalchemy import func, select

    from service.db.reference import Audience, Municipality, Topic

    async with runtime.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Municipality)) == 19
        assert await s.scalar(select(func.count()).select_from(Topic)) >= 10
        assert await s.scalar(select(Municipality.name).where(Municipality.code == "751")) == "Aarhus"
        assert await s.scalar(select(func.count()).select_from(Audience)) >= 5


async def test_security_headers_and_unknown_page(client):
    resp = await client.get("/no-such-page")
    assert resp.status == 404
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "Siden findes ikke" in await resp.text()
