"""`budbringer user add` where there is no terminal (a container, a script, CI): a clear
line instead of a traceback, and the password from standard input or a file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import parse_args

ROOT = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """A real process; standard input is a pipe (or nothing), never a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUDBRINGER_")}
    env.update({"BUDBRINGER_SERVICE__SECRET_KEY": "u" * 40,
                "BUDBRINGER_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/users.db"})
    return subprocess.run([sys.executable, "-m", "service", *args], env=env, cwd=tmp_path, input=input,
                          stdin=subprocess.DEVNULL if input is None else None,
                          capture_output=True, text=True, timeout=60)


def test_user_add_without_a_terminal_says_how_and_the_password_file_works(tmp_path):
    assert _cli(tmp_path, "db", "upgrade").returncode == 0

    no_tty = _cli(tmp_path, "user", "add", "--email", "you@example.dk", "--role", "admin")
    assert no_tty.returncode == 2
    assert "no terminal to ask for the password" in no_tty.stderr and "--password-file" in no_tty.stderr
    assert "Traceback" not in no_tty.stderr + no_tty.stdout

    password = tmp_path / "admin_password"
    password.write_text("et-langt-og-godt-kodeord\n")
    added = _cli(tmp_path, "user", "add", "you@example.dk", "--role", "admin", "--password-file", str(password))
    assert added.returncode == 0, added.stderr
    assert "Added you@example.dk (admin)" in added.stdout

    # The image's entrypoint runs this on every start: only the first adds anyone.
    again = _cli(tmp_path, "user", "add", "other@example.dk", "--role", "admin", "--if-no-users",
                 "--password-file", str(password))
    assert again.returncode == 0 and "no user added" in again.stdout

    piped = _cli(tmp_path, "user", "password", "--email", "you@example.dk", "--password-stdin",
                 input="et-nyt-og-langt-kodeord\n")
    assert piped.returncode == 0 and "Password changed" in piped.stdout, piped.stderr

    listing = _cli(tmp_path, "user", "list").stdout
    assert "you@example.dk" in listing and "other@example.dk" not in listing


@pytest.mark.parametrize("argv", [["a@example.dk", "--email", "b@example.dk"], []])
def test_user_add_wants_the_address_once(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        parse_args(["user", "add", *argv, "--role", "admin"])
    assert exit.value.code == 2 and "give the address once" in capsys.readouterr().err
