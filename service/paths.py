"""Where bundled files live, in a checkout and in an installed wheel; where the demo keeps its own."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA = PACKAGE / "data"
SAMPLES = DATA / "samples"

# `budbringer demo` keeps its files here, relative to where it runs (the checkout).
DEMO_DIR = Path("var")
DEMO_SECRET = DEMO_DIR / "secret"


def templates_dir(override: Path | None = None) -> Path:
    """`templates/` beside the package in a checkout; `service/templates` in a wheel."""
    if override is not None:
        return override
    checkout = PACKAGE.parent / "templates"
    return checkout if checkout.is_dir() else PACKAGE / "templates"
