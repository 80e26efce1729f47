"""compose.yaml read against the code it names (Docker cannot run here): every command a
container runs is parsed by the command line's own parser, every BUDBRINGER_ variable is
loaded by the settings model (the production checks included), the roles add up to the
topology (one web, two workers, one scheduler, the bounce endpoint, PostgreSQL), each
long-running service has a health check, and the secrets come in as compose secrets.
The same topology runs from processes in tests/integration/test_topology.py."""

import re
from pathlib import Path

import pytest
import yaml

from service.cli import parse_args
from service.cli.run import ROLES
from service.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = (ROOT / "scripts" / "docker-entrypoint.sh").read_text()
# What the operator sets before `docker compose up` (README.md): sample values here.
OPERATOR = {"BUDBRINGER_BASE_URL": "https://nyheder.example.dk", "BUDBRINGER_SMTP_HOST": "smtp.example.dk",
            "BUDBRINGER_ADMIN_EMAIL": "you@example.dk"}


def interpolate(text: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, from OPERATOR."""
    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in OPERATOR:
            return OPERATOR[name]
        if op == ":?":
            raise AssertionError(f"{name} is required and has no sample value")
        return arg
    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate((ROOT / "compose.yaml").read_text()))


def budbringer_services(compose: dict) -> dict:
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("budbringer")}


def test_every_command_is_a_real_budbringer_command(compose):
    services = budbringer_services(compose)
    assert services
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "budbringer", name
        parse_args(command[1:])  # exits 2 (fails the test) when it does not parse
        check = service.get("healthcheck", {})
        if check.get("disable"):
            continue
        test = check["test"]
        assert test[0] == "CMD", name
        if test[1] == "budbringer":
            parse_args(test[2:])
        else:  # the web's check asks /healthz on the port it listens on
            env = service["environment"]
            port = env.get("BUDBRINGER_WEB__PORT", "8080")
            assert f"127.0.0.1:{port}/healthz" in " ".join(test), name
            assert any(p.endswith(f":{port}") for p in service.get("ports", [])), name


def test_every_variable_is_a_real_setting_or_read_by_the_entrypoint(compose, tmp_path):
    secrets = {}
    for name, spec in compose["secrets"].items():
        path = tmp_path / name
        path.write_text(("k" * 48 if name == "secret_key" else "sample-password") + "\n")
        secrets[name] = path
        assert spec["file"].startswith("./secrets/"), name
    for name, service in budbringer_services(compose).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        for key in [k for k in env if not k.startswith("BUDBRINGER_")]:
            pytest.fail(f"{name}: {key} is not a budbringer variable")
        entrypoint_vars = {k for k in env if not k.startswith(("BUDBRINGER_SERVICE__", "BUDBRINGER_DATABASE__",
                                                                "BUDBRINGER_MAIL__", "BUDBRINGER_BOUNCES__", "BUDBRINGER_WEB__"))}
        for key in entrypoint_vars:
            assert key in ENTRYPOINT, f"{name}: {key} is neither a setting nor read by the entrypoint"
        # Secrets arrive as files under /run/secrets, and only the ones this service is given.
        for key, value in env.items():
            if value.startswith("/run/secrets/"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in service["secrets"], f"{name}: {key} names a secret it is not given"
                env[key] = str(secrets[secret])
        assert not any("SECRET_KEY" in k and not k.endswith("_FILE") for k in env), name
        settings = load_settings(None, env={k: v for k, v in env.items() if k not in entrypoint_vars}, production=True)
        assert settings.database.url.startswith("postgresql+asyncpg://budbringer@postgres:5432/budbringer")
        assert settings.mail.transport == "smtp" and settings.mail.smtp.host == "smtp.example.dk"
        if "bounces" in service["command"]:
            assert settings.bounces.enabled, name


def test_the_topology_is_postgres_one_web_two_workers_one_scheduler_and_bounces(compose):
    playing: dict[str, int] = {}
    for name, service in budbringer_services(compose).items():
        args = parse_args(service["command"][1:])
        if args.command != "run":
            continue
        replicas = service.get("deploy", {}).get("replicas", 1)
        for role in args.role:
            playing[role] = playing.get(role, 0) + replicas
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert service["environment"]["BUDBRINGER_MIGRATE"] == "no", name
    assert playing == {"web": 1, "worker": 2, "scheduler": 1, "bounces": 1}
    assert set(playing) == set(ROLES)
    migrate = compose["services"]["migrate"]
    assert migrate["environment"]["BUDBRINGER_MIGRATE"] == "yes"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_USER"] == "budbringer" and postgres["environment"]["POSTGRES_DB"] == "budbringer"
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
