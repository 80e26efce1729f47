"""Budbringer beside other open-source list servers (issue 19): the same Danish newsletter
sent to the same sink in one run, each read as a percentage of the raw SMTP limit of that run.

- `compare.budbringer` (messages/s): the newsletter (benchmarks/data/nyhedsbrev.md)
  released to N subscribers on SQLite and sent by one worker process, as
  `send.e2e.sqlite.newsletter.1proc` is.
- `compare.django_newsletter` (messages/s): django-newsletter in its own virtualenv
  (var/compare/venv, pinned in benchmarks/compare/requirements.txt and installed from
  PyPI on first use) sending the same body, rendered to HTML by Budbringer's Markdown
  renderer, to N subscriptions on SQLite with `manage.py submit_newsletter`
  (benchmarks/compare/django_site.py). The clock runs from "go" until the process is
  done, and the sink must then hold N more messages.
- `compare.mailman` (messages/s): Mailman 3 core in its own virtualenv
  (var/compare/mailman-venv) delivering one post of the same text and HTML to a
  personalised list of N members (benchmarks/compare/mailman3.py).
- `compare.raw` (messages/s): aiosmtplib alone with pre-built messages of the size
  Budbringer's newsletter has at the sink, over 8 connections (benchmarks/sending.py `raw`).
- `compare.ratio.<tool>` (%): each run of a tool as a percentage of the median raw figure.

`--compare-tools` chooses the others (django_newsletter, mailman). They all take turns,
round after round (`--runs`), so that a machine that slows down for a while slows all of
them. Queueing is outside the clock for Budbringer and django-newsletter: Budbringer's
release job (`campaign.release.sqlite.compare`) and django-newsletter's
`Submission.from_message` (`compare.django_newsletter.queue`); Mailman's clock starts
when the post is handed to it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

from benchmarks import sending
from benchmarks.sink import count as sink_count

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
VAR = ROOT / "var" / "compare"
VENV = VAR / "venv"
REQUIREMENTS = HERE / "requirements.txt"
MAILMAN_VENV, MAILMAN_REQUIREMENTS = VAR / "mailman-venv", HERE / "requirements-mailman.txt"
TOOLS = ("django_newsletter", "mailman")
SITE = HERE / "django_site.py"
TITLE, LEAD = "Best Practice nr. 12 – jobcentre, der lykkes", "Tre ting, der virker."  # as benchmarks/env.py's


def venv_python(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> Path:
    """A virtualenv's interpreter, made (or remade when the pins change) with pip."""
    python = venv / "bin" / "python"
    marker = venv / ".requirements-sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and marker.exists() and marker.read_text() == want:
        return python
    print(f"# compare: installing {requirements.relative_to(ROOT)} into {venv.relative_to(ROOT)} (needs PyPI)",
          file=sys.stderr, flush=True)
    for argv in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"compare: {' '.join(argv[:4])} failed: {(done.stdout + done.stderr)[-2000:]}")
    marker.write_text(want)
    return python


def article_html(root: Path) -> Path:
    """The newsletter's body as HTML, by Budbringer's renderer, without its `{hilsen}`
    merge field (django-newsletter's template greets instead)."""
    from service.campaigns.markdown import to_html

    path = root / "nyhedsbrev.html"
    path.write_text(to_html(newsletter_text()), encoding="utf-8")
    return path


def site_environ() -> dict[str, str]:
    """This environment without what points Python at Budbringer's packages."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def django_setup(python: Path, root: Path, n: int) -> Path:
    """A fresh SQLite database for the Django project, with the newsletter and `n` subscriptions."""
    db = root / "django.db"
    done = subprocess.run([str(python), str(SITE), "setup", json.dumps(
        {"db": str(db), "n": n, "html": str(article_html(root)), "title": TITLE, "lead": LEAD})],
        capture_output=True, text=True, cwd=ROOT, env=site_environ())
    if done.returncode != 0:
        raise RuntimeError(f"compare: django-newsletter setup failed: {done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])["subscriptions"]
    if got != n:
        raise RuntimeError(f"compare: {got} django-newsletter subscriptions for {n}")
    return db


async def django_run(bench, python: Path, db: Path, n: int) -> None:
    """One `submit_newsletter` of the message to all `n` subscriptions, counted at the sink."""
    from benchmarks.__main__ import Proc

    p = await Proc([str(python), str(SITE), "send", json.dumps({"db": str(db), "port": bench.sink_port})],
                   site_environ()).start()
    before, octets_before = await sink_count(bench.sink_port)
    start = time.perf_counter()
    p.go()
    r = await p.result()
    took = time.perf_counter() - start
    after, octets_after = await sink_count(bench.sink_port)
    if r["queued"] != n or not r["sent"] or after - before != n:
        raise RuntimeError(f"compare: django-newsletter queued {r['queued']}, sent={r['sent']}, "
                           f"{after - before} arrived, of {n}")
    size = (octets_after - octets_before) // n
    bench.add("compare.django_newsletter", "messages/s", n / took,
              f"{n:,} subscriptions, django-newsletter {pin('django-newsletter')} (Django {pin('Django')}, SQLite), "
              f"`submit_newsletter`: per message a Django template rendered (text and HTML) and one SMTP "
              f"connection; ~{size // 1024} KB at the sink")
    bench.add("compare.django_newsletter.queue", "s", r["queue_seconds"],
              f"Submission.from_message to {n:,} subscriptions (outside the clock)")
    bench.add("compare.cpu.django_newsletter", "% of one core", 100 * r["cpu_seconds"] / took,
              "submit_newsletter's CPU time / wall time")
    bench.add("rss.django_newsletter", "MB", r["rss_mb"])


def pin(package: str) -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.split("==", 1)[1]
    return "?"


def newsletter_text() -> str:
    """The newsletter's Markdown without its `{hilsen}` merge field (the others cannot fill it)."""
    return sending.NEWSLETTER.read_text(encoding="utf-8").replace("{hilsen}", "")


async def run(bench) -> None:
    """Rounds of Budbringer, the other tools and the raw limit, then each as % of raw."""
    from benchmarks.compare import mailman3

    n = bench.opts.compare_subscribers
    tools = [t for t in bench.opts.compare_tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        raise SystemExit(f"--compare-tools: unknown {', '.join(sorted(unknown))} (choose from {', '.join(TOOLS)})")
    root = VAR / "run"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    async with AsyncExitStack() as stack:
        if "django_newsletter" in tools:
            python = venv_python()
            db = django_setup(python, root, n)
        if "mailman" in tools:
            mm = await stack.enter_async_context(mailman3.running(
                venv_python(MAILMAN_VENV, MAILMAN_REQUIREMENTS), VAR / "mailman", bench.sink_port, n, names))
            post = mailman3.post(newsletter_text(), article_html(root).read_text(encoding="utf-8"))
        env = await stack.enter_async_context(
            sending.released_newsletter(bench, "sqlite", n, "campaign.release.sqlite.compare"))
        for _ in range(bench.opts.runs):
            await sending.worker_runs(bench, env, "sqlite", "compare.", 1, n, sending.NEWSLETTER_WHAT, runs=1,
                                      size_attr="compare_size", name="compare.budbringer")
            if "django_newsletter" in tools:
                await django_run(bench, python, db, n)
            if "mailman" in tools:
                await mailman3.round_(bench, mm, n, post)
            await sending.raw(bench, "compare.raw", bench.compare_size, count=n, runs=1, cpu_name="compare.raw.cpu")
    raw = bench.figures["compare.raw"].median
    for tool in ("budbringer", *tools):
        bench.add_ratio(f"compare.ratio.{tool}", [100 * r / raw for r in bench.figures[f"compare.{tool}"].runs],
                        "median messages/s / median raw (aiosmtplib, Budbringer's newsletter size), same run")


@functools.cache
def site_module():
    """benchmarks/compare/django_site.py loaded from its file (it imports no Budbringer, and
    only the standard library until Django is set up): its settings and names."""
    spec = importlib.util.spec_from_file_location("django_site", SITE)
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    return site


def names(i: int) -> str:
    """The Danish names django-newsletter's subscriptions have, for Mailman's members too."""
    return site_module().name(i)
