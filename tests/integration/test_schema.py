"""The migrated schema is the models' schema: Alembic finds nothing to add or drop between
the tables `budbringer db upgrade` makes and `service.db.models` (both databases)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import service.db.models  # noqa: F401  (every table on the one metadata)
from service.db.base import Base
from service.db.engine import Database
from service.settings import DatabaseSettings


async def test_the_migrations_make_the_models_tables(db_url, db_kind):
    db = Database(DatabaseSettings(url=db_url))
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await db.dispose()
    assert diff == []
