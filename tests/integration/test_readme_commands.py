"""The README's "Running it for real", typed as a newcomer would: every line of its shell
block into a real shell at a real terminal (a pty), in an empty directory, the password
typed at the prompts, `budbringer run` stopped with Ctrl-C once it serves. A line that
does not parse or fails fails the test. Lines for Docker cannot run here: the `budbringer`
command in each of them is parsed by the command line's own parser.

The only thing the test adds is the environment a venv gives (`budbringer` on PATH) and a
free web port (BUDBRINGER_WEB__PORT), so that it never takes 8080 from a running demo.
"""

import os
import pty
import re
import select
import shlex
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from service.cli import parse_args
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
PASSWORD = "et-langt-og-godt-kodeord"
PROMPT = re.compile(rb"@@rc=(\d+)@@")


def readme_blocks() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [[line for line in block.replace("\\\n", " ").splitlines() if line.strip()] for block in blocks]


def budbringer_argv(line: str) -> list[str] | None:
    """The arguments after the (last) word `budbringer` in a shell line, comments and
    redirections dropped: `docker compose exec web budbringer status` gives ["status"]."""
    words = shlex.split(line, comments=True)
    if "budbringer" not in words:
        return None
    argv = words[len(words) - words[::-1].index("budbringer"):]
    for stop in (">", "|", "&&", ";"):
        if stop in argv:
            argv = argv[: argv.index(stop)]
    return argv


class Terminal:
    """bash at a pty; each prompt says the last exit status."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a shell in the empty directory
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
        self.out = b""

    def read(self, timeout: float = 0.2) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            return b""
        self.out += chunk
        return chunk

    def wait_prompt(self, since: int, deadline: float, on_output=None) -> int:
        while time.monotonic() < deadline:
            self.read()
            tail = self.out[since:]
            if on_output is not None:
                since = on_output(self, since)
                tail = self.out[since:]
            match = PROMPT.search(tail)
            if match:
                return int(match.group(1))
        raise AssertionError(f"no prompt within the time; the terminal showed:\n{self.out[-3000:].decode(errors='replace')}")

    def type(self, text: str) -> int:
        start = len(self.out)
        os.write(self.fd, text.encode())
        return start

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)


def _answer_passwords(term: Terminal, since: int) -> int:
    tail = term.out[since:]
    if tail.rstrip().lower().endswith(b"password:"):
        return term.type(PASSWORD + "\n")
    return since


def _stop_when_serving(port: int):
    state = {"stopped": False}

    def on_output(term: Terminal, since: int) -> int:
        if state["stopped"] or b"web: listening" not in term.out[since:]:
            return since
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        state["stopped"] = True
        return term.type("\x03")  # Ctrl-C, as the operator stops it

    return on_output


def test_every_line_of_running_it_for_real_works_as_written(tmp_path):
    blocks = readme_blocks()
    runnable = [b for b in blocks if not any("docker" in line for line in b)]
    assert runnable, "the README's Running it for real has no shell block to run"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUDBRINGER_")}
    env.update({"PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", "HOME": str(tmp_path),
                "PS1": "@@rc=$?@@ ", "TERM": "dumb", "BUDBRINGER_WEB__PORT": str(port)})
    work = tmp_path / "ops"
    work.mkdir()
    term = Terminal(work, env)
    try:
        term.wait_prompt(0, time.monotonic() + 20)
        for line in runnable[0]:
            argv = budbringer_argv(line)
            since = term.type(line + "\n")
            serves = argv is not None and parse_args(argv).command == "run"
            handler = _stop_when_serving(port) if serves else _answer_passwords
            status = term.wait_prompt(since, time.monotonic() + 60, handler)
            shown = term.out[since:].decode(errors="replace")
            assert status == 0, f"`{line}` failed (exit {status}):\n{shown}"
    finally:
        term.close()
    # What the lines did: a config file, a migrated database, the admin who can log in.
    assert (work / "config.toml").read_text().startswith("#")
    listing = os.popen(f"cd {shlex.quote(str(work))} && BUDBRINGER_SERVICE__SECRET_KEY_FILE={work}/secret_key "
                       f"{BIN}/budbringer user list").read()
    assert "you@example.dk" in listing and "admin" in listing, listing


@pytest.mark.parametrize("line", [line for block in readme_blocks() for line in block if budbringer_argv(line)])
def test_every_budbringer_line_parses(line):
    """Lines that cannot run here (Docker) still have to be real `budbringer` commands."""
    parse_args(budbringer_argv(line))
