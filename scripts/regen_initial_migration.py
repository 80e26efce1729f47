"""Regenerate migration 0001 from the models (founding period only, before any release).

Once a release has shipped, never run this again: add a new migration with
`alembic revision --autogenerate` instead.
"""

import asyncio
import shutil
import tempfile
from pathlib import Path

from alembic import command

from service.db.engine import Database
from service.db.migrate import MIGRATIONS, alembic_config
from service.settings import DatabaseSettings

TARGET = MIGRATIONS / "versions" / "0001_initial.py"


async def main() -> None:
    TARGET.unlink(missing_ok=True)
    versions = MIGRATIONS / "versions"
    with tempfile.TemporaryDirectory() as aside, tempfile.TemporaryDirectory() as tmp:
        # Later migrations build on 0001; set them aside while it is made again.
        later = list(versions.glob("*.py"))
        for p in later:
            shutil.move(p, Path(aside) / p.name)
        try:
            await _generate(tmp)
        finally:
            for p in later:
                shutil.move(Path(aside) / p.name, p)
    produced = next(versions.glob("0001_*.py"))
    # Alembic renders JSONB's astext_type without its module prefix.
    text = produced.read_text().replace("astext_type=Text()", "astext_type=sa.Text()")
    produced.unlink()
    TARGET.write_text(text)
    print(f"wrote {TARGET}")


async def _generate(tmp: str) -> None:
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp}/x.db"))
    cfg = alembic_config()

    def _rev(conn):
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")

    async with db.engine.begin() as conn:
        await conn.run_sync(_rev)
    await db.dispose()


asyncio.run(main())
