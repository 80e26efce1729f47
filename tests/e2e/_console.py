"""What the staff console tests in chromium share: logging in as a role in a fresh browser
context, what a page must never show, axe-core, and screenshots at two widths."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from tests.admin_support import PASSWORD
from tests.e2e._browser import screenshot

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "var" / "test-deps" / "node_modules" / "axe-core" / "axe.min.js"  # scripts/test-prereqs.sh
WIDTHS = (1280, 375)

# Python and template text that must never reach a page.
PYTHON_TEXT = re.compile(r"object at 0x|<built-in|<bound method|\b[A-Z][A-Za-z]+\((id|email)=|\bNone\b|\bTrue\b|\bFalse\b"
                         r"|\{\{|\}\}|\{%|%\}|Undefined|Traceback")

# Every status and kind key whose Danish word differs from the key: shown alone in a cell,
# a badge, a strong, an option or a list item on a Danish page, it is an untranslated word.
with (ROOT / "templates" / "labels.toml").open("rb") as fh:
    _LABELS = tomllib.load(fh)
RAW_KEYS = sorted({key for group in _LABELS.values() for key, words in group.items()
                   if words.get("da", "").lower() != key.lower()})

UNTRANSLATED_JS = """(keys) => {
  const raw = new Set(keys);
  const found = [];
  for (const el of document.querySelectorAll('td, th, .badge, strong, option, li, dd, small, label span, #status')) {
    if (el.closest('code, pre, textarea, [data-raw]')) continue;
    const text = el.textContent.trim();
    if (raw.has(text)) found.push(el.tagName.toLowerCase() + ': ' + text);
  }
  return found;
}"""

WIDER_THAN_SCREEN_JS = """() => {
  const w = document.documentElement.clientWidth;
  const scrolls = (el) => { for (let a = el; a && a !== document.body; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true; } return false; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= w + 2 || scrolls(el)) continue;
    const p = el.parentElement.getBoundingClientRect();
    if (p.right > w + 2 && el.parentElement !== document.body) continue;  // its parent is reported
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : '') + ' ' + Math.round(r.right));
  }
  return out.slice(0, 5);
}"""


async def log_in(context, site: str, email: str, password: str = PASSWORD):
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(f"{site}/admin/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Adgangskode").fill(password)
    await page.get_by_role("button", name="Log ind").click()
    await page.wait_for_load_state()
    assert "/admin/login" not in page.url, await page.inner_text("body")
    return page


async def problems_on(page) -> list[str]:
    """What a staff member must never see on this page."""
    text = await page.inner_text("body")
    found = [f"Python or template text: {m.group(0)!r}" for m in PYTHON_TEXT.finditer(text)]
    found += [f"untranslated word {w}" for w in await page.evaluate(UNTRANSLATED_JS, RAW_KEYS)]
    return found


async def shoot(page, name: str) -> list[str]:
    """Screenshots at 1280 and 375 px (var/test-artifacts/<name>-<width>.png); what sticks out
    of the screen at 375 px."""
    wide = []
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await screenshot(page, f"{name}-{width}")
        if width < 600:
            wide = await page.evaluate(WIDER_THAN_SCREEN_JS)
    await page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return wide


async def axe(page) -> list[dict]:
    """axe-core's serious and critical violations on this page."""
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core is missing ({AXE}); scripts/test-prereqs.sh installs it")
        pytest.skip("axe-core not installed (run scripts/test-prereqs.sh)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text() + "\n;0")  # by the devtools protocol: the page's CSP stays on
    result = await page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in json.loads(result)["violations"] if v["impact"] in ("serious", "critical")]
