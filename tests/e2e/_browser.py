"""A headless Debian chromium driven by Playwright (async API), and the app served on a
loopback port the browser can reach. Used when tests/e2e/conftest.py has no browser fixture."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Screenshots kept as test artefacts (looked at by people, not compared by the tests).
ARTIFACTS = Path(os.environ.get("BUDBRINGER_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "var" / "test-artifacts"))


async def screenshot(page, name: str) -> Path:
    """A full-page PNG of what the browser shows now, as ARTIFACTS/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # A full-page shot leaves a sandboxed text/plain frame blank in Chromium; a shot of a
    # viewport as tall as the page paints every frame (the text preview came out empty).
    size = page.viewport_size
    height = await page.evaluate("document.documentElement.scrollHeight")
    if size and height > size["height"]:
        await page.set_viewport_size({"width": size["width"], "height": height})
        try:
            await page.wait_for_timeout(100)
            await page.screenshot(path=str(path))
        finally:
            await page.set_viewport_size(size)
        return path
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
async def site(runtime):
    """The whole app served on a loopback port the browser can reach; its base URL."""
    from aiohttp.test_utils import TestServer

    from service.web.app import create_app

    server = TestServer(create_app(runtime), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def browser_page():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = await browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
        page = await context.new_page()
        dialogs: list[str] = []

        async def on_dialog(dialog):
            dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        page.dialogs = dialogs  # any alert() that ran lands here
        try:
            yield page
        finally:
            await context.close()
            await browser.close()
