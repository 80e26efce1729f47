"""The image, without Docker (it cannot run here): the Dockerfile is read, and what it
would run is run. Its entrypoint script itself, with the image's environment (ENV) and
its data directory (the VOLUME) moved into a temporary directory, its CMD and its
HEALTHCHECK command.

What the test changes, and why: /var/lib/budbringer becomes a temporary directory; the
web server listens on 127.0.0.1 and a free port instead of 0.0.0.0:8080 (nothing leaves
loopback, and 8080 may be taken), and the health check asks that port.
"""

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from service.cli import parse_args
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
DATA = "/var/lib/budbringer"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """[(instruction, arguments)] per stage, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def image() -> dict:
    build, final = dockerfile_stages()
    out: dict = {"env": {}, "copies": [], "build_copies": []}
    for instruction, rest in build:
        if instruction == "COPY":
            out["build_copies"].append(shlex.split(rest))
    for instruction, rest in final:
        if instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                out["env"][key] = value
        elif instruction == "COPY":
            out["copies"].append(shlex.split(rest))
        elif instruction in ("ENTRYPOINT", "CMD", "VOLUME"):
            import json

            out[instruction.lower()] = json.loads(rest) if rest.startswith("[") else rest.split()
        elif instruction == "HEALTHCHECK":
            out["healthcheck"] = rest.split(" CMD ", 1)[1]
    return out


def test_the_dockerfile_builds_from_what_the_wheel_needs_and_keeps_the_data_in_its_volume():
    img = image()
    import tomllib

    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = {Path(source).name for c in img["build_copies"] for source in c[:-1]}
    for needed in [*wheel["packages"], *wheel["force-include"], "pyproject.toml", "README.md"]:
        assert needed in copied, f"the build stage does not COPY {needed}"
    assert img["volume"] == [DATA]
    assert img["env"]["BUDBRINGER_SERVICE__DATA_DIR"] == DATA
    for key in ("BUDBRINGER_DATABASE__URL", "BUDBRINGER_MAIL__OUTBOX_DIR"):
        assert DATA in img["env"][key], f"{key} is not in the volume: {img['env'][key]}"
    entrypoint = [c for c in img["copies"] if c[-1] == f"/usr/local/bin/{img['entrypoint'][0]}"]
    assert entrypoint and (ROOT / entrypoint[0][0]).is_file(), img["copies"]
    assert img["cmd"][0] == "budbringer"
    parse_args(img["cmd"][1:])  # a real command line


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUDBRINGER_")}
    for key, value in image()["env"].items():
        env[key] = value.replace(DATA, str(tmp_path / "data"))
    env.update({"PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
                "BUDBRINGER_WEB__HOST": "127.0.0.1", "BUDBRINGER_WEB__PORT": str(port)})
    env.update(extra)
    return env


def _entrypoint(tmp_path: Path, env: dict[str, str], *command: str, **kw) -> subprocess.Popen:
    script = ROOT / [c for c in image()["copies"] if c[-1].endswith(image()["entrypoint"][0])][0][0]
    (tmp_path / "data").mkdir(exist_ok=True)
    return subprocess.Popen(["sh", str(script), *(command or image()["cmd"])], env=env, cwd=tmp_path / "data",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_a_plain_start_names_each_missing_variable_in_one_line(tmp_path):
    ran = _entrypoint(tmp_path, _env(tmp_path, free_port()))
    out, _ = ran.communicate(timeout=60)
    assert ran.returncode == 2, out
    problems = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(problems) == 2, out
    assert any("BUDBRINGER_SERVICE__BASE_URL" in p for p in problems)
    assert any("BUDBRINGER_SERVICE__SECRET_KEY_FILE" in p for p in problems)
    assert "Traceback" not in out
    assert not (tmp_path / "data" / "budbringer.db").exists()  # refused before touching anything


def test_the_entrypoint_migrates_makes_the_first_admin_once_and_runs_the_command(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "secret_key").write_text("k" * 48 + "\n")
    (secrets / "admin_password").write_text("et-langt-og-godt-kodeord\n")
    port = free_port()
    env = _env(tmp_path, port, BUDBRINGER_SERVICE__BASE_URL="https://nyheder.example.dk",
               BUDBRINGER_SERVICE__SECRET_KEY_FILE=str(secrets / "secret_key"),
               BUDBRINGER_ADMIN_EMAIL="you@example.dk",
               BUDBRINGER_ADMIN_PASSWORD_FILE=str(secrets / "admin_password"))
    proc = _entrypoint(tmp_path, env)  # the image's CMD
    try:
        check = image()["healthcheck"].replace("8080", str(port))
        deadline = time.monotonic() + 60
        while subprocess.run(["sh", "-c", check], env=env, capture_output=True).returncode != 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)  # `docker stop`: the entrypoint exec'ed, so budbringer gets it
        out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out
    assert "Added you@example.dk (admin). Log in at https://nyheder.example.dk/admin/login" in out
    assert (tmp_path / "data" / "budbringer.db").exists()  # in the volume

    # Started again (a new container on the same volume), with another admin address set.
    env["BUDBRINGER_ADMIN_EMAIL"] = "someone.else@example.dk"
    again = _entrypoint(tmp_path, env, "budbringer", "user", "list")
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert "already up to date" in out and "no user added" in out
    assert "you@example.dk" in out and "someone.else@example.dk " not in out
