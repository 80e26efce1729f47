"""config.example.toml documents every setting with its default (Datasette's habit)."""

import tomllib
from pathlib import Path

import pytest

from service.settings import ConfigError, load_settings
from service.settings_doc import config_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def _keys(model, prefix=()):
    from service.settings_doc import _is_model, _list_of_models

    for name, field in model.model_fields.items():
        inner = _list_of_models(field.annotation)
        if _is_model(field.annotation):
            yield from _keys(field.annotation, (*prefix, field.alias or name))
        elif inner is not None:
            yield from _keys(inner, (*prefix, field.alias or name))
        else:
            yield (*prefix, field.alias or name)


def test_example_is_up_to_date():
    assert EXAMPLE.read_text(encoding="utf-8") == config_example(), (
        "config.example.toml is stale: run `budbringer config-example > config.example.toml`"
    )


def test_every_setting_appears_with_a_comment():
    from service.settings import Settings

    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    missing = []
    for key in _keys(Settings):
        leaf = key[-1]
        hits = [i for i, line in enumerate(text) if line.lstrip("# ").startswith((f"{leaf} =", f"{leaf}:"))]
        if not hits or not any(text[i - 1].startswith("# ") and len(text[i - 1]) > 3 for i in hits):
            missing.append(".".join(key))
    assert not missing, f"undocumented settings: {missing}"


def test_example_parses_and_loads_as_a_config(tmp_path):
    tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    cfg = tmp_path / "config.toml"
    cfg.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings(cfg, env={"BUDBRINGER_SERVICE__SECRET_KEY": "x" * 40})
    assert settings.service.timezone == "Europe/Copenhagen"


def test_problems_name_the_key_and_explain(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[service]\ntimezone = "Europe/Aarhus"\nsecret_key = "in-the-file"\n[web]\nport = "eighty"\n[mail]\nfrom = "nobody"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    keys = dict(err.value.problems)
    assert "service.secret_key" in keys and "environment" in keys["service.secret_key"]
    with pytest.raises(ConfigError) as err:
        load_settings(cfg.with_name("x.toml"), env={})
    assert "not found" in err.value.problems[0][1]
    cfg.write_text('[service]\ntimezone = "Europe/Aarhus"\n[web]\nport = "eighty"\nprot = 1\n[mail]\nfrom = "nobody"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={"BUDBRINGER_SERVICE__SECRET_KEY": "x" * 40})
    keys = dict(err.value.problems)
    assert "unknown time zone" in keys["service.timezone"]
    assert "web.port" in keys
    assert "unknown setting" in keys["web.prot"]


def test_environment_overrides_file(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[web]\nport = 9000\n[mail.smtp]\nhost = "relay.example"\n', encoding="utf-8")
    s = load_settings(cfg, env={"BUDBRINGER_SERVICE__SECRET_KEY": "x" * 40, "BUDBRINGER_WEB__PORT": "9100",
                                "BUDBRINGER_MAIL__SMTP__PORT": "2525"})
    assert s.web.port == 9100
    assert s.mail.smtp.host == "relay.example" and s.mail.smtp.port == 2525


def test_check_config_command_exit_code(tmp_path, capsys):
    from service.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text('[database]\nurl = "mysql://x"\n[schedule]\ndaily_digest = "7 o\'clock"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "database.url" in err and "schedule.daily_digest: write the time as HH:MM" in err
    cfg.write_text('[mail]\nfrom = "nobody"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "service.secret_key: no secret key" in err and "mail.from: must be an email address" in err


def test_check_config_warns_when_a_proxy_is_likely_but_none_is_trusted(tmp_path, capsys, monkeypatch):
    """Behind a reverse proxy with `trusted_proxies` empty every visitor has the proxy's address,
    so per-address limits become global: check-config says so (and still exits 0)."""
    from service.cli import main

    monkeypatch.setenv("BUDBRINGER_SERVICE__SECRET_KEY", "x" * 40)
    cfg = tmp_path / "config.toml"
    for base_url, trusted, warned in (("https://nyheder.raadet.example", "", True),
                                      ("http://10.0.0.5:8080", "", True),
                                      ("https://nyheder.raadet.example", 'trusted_proxies = ["127.0.0.1/32"]', False),
                                      ("http://127.0.0.1:8080", "", False),
                                      ("http://localhost:8080", "", False)):
        cfg.write_text(f'[service]\nbase_url = "{base_url}"\n[web]\n{trusted}\n', encoding="utf-8")
        assert main(["--config", str(cfg), "check-config"]) == 0
        out = capsys.readouterr().out
        assert ("Warning: web.trusted_proxies" in out) is warned, (base_url, trusted, out)
        if warned:
            assert "one attacker could lock every staff member out" in out and "X-Forwarded-For" in out
