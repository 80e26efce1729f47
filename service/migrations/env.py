"""Alembic environment. `service.db.migrate` hands us an open connection."""

from alembic import context

from service.db.base import Base
import service.db.models  # noqa: F401  (registers every table)

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `budbringer db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
