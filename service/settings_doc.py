"""`config.example.toml` is written from the settings declarations: every key, its
description and its default, so the documentation cannot drift from the code.

`budbringer config-example > config.example.toml` rewrites it; a test fails when the
file in the repository differs from what this produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from service.settings import SECRET_KEYS, Settings, SourceSettings

HEADER = """\
# Budbringer configuration: every setting, its meaning and its default.
# Copy to config.toml and uncomment what you change. Every key can also be set in the
# environment as BUDBRINGER_<SECTION>__<KEY> (e.g. BUDBRINGER_DATABASE__URL,
# BUDBRINGER_MAIL__SMTP__HOST). Secrets (service.secret_key, mail.smtp.password) are
# read only from the environment or from the *_file settings, never from this file.
#
# Written by `budbringer config-example`; a test checks it matches the code.
"""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _list_of_models(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        (inner,) = get_args(annotation)
        if _is_model(inner):
            return inner
    return None


def _section(lines: list[str], path: tuple[str, ...], model: type[BaseModel], header: str) -> None:
    scalars = [(n, f) for n, f in model.model_fields.items() if not _is_model(f.annotation) and not _list_of_models(f.annotation)]
    nested = [(n, f) for n, f in model.model_fields.items() if _is_model(f.annotation) or _list_of_models(f.annotation)]
    lines.append("")
    lines.append(header)
    for name, field in scalars:
        key = field.alias or name
        default = _default(field)
        lines.append(f"# {field.description or ''}".rstrip())
        if (*path, name) in SECRET_KEYS or isinstance(default, SecretStr):
            lines.append(f"# {key}: secret, from the environment or a file only (default: none)")
        elif default is None or default is PydanticUndefined:
            lines.append(f"# {key} = (not set{'; required' if default is PydanticUndefined else ''})")
        else:
            lines.append(f"# {key} = {_toml_value(default)}")
    for name, field in nested:
        key = field.alias or name
        inner = _list_of_models(field.annotation)
        if inner is not None:
            lines.append("")
            lines.append(f"# {field.description or key}: a list; repeat the block for each entry.")
            _section(lines, (*path, name), inner, f"# [[{'.'.join((*path, key))}]]")
        else:
            commented = "# " if header.startswith("#") else ""  # a table inside a commented list entry
            _section(lines, (*path, name), field.annotation, f"{commented}[{'.'.join((*path, key))}]")


def config_example() -> str:
    lines = [HEADER.rstrip("\n")]
    for name, field in Settings.model_fields.items():
        if name == "sources":
            lines.append("")
            lines.append("# Sources to watch: one [[sources]] block each (admins can add more in /admin/).")
            _section(lines, ("sources",), SourceSettings, "# [[sources]]")
        else:
            _section(lines, (name,), field.annotation, f"[{name}]")
    return "\n".join(lines) + "\n"
