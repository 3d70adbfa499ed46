"""Alembic environment: always runs on a connection CareDesk opened (keyed)."""

from alembic import context

from app.data.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("CareDesk migrations run through app.data.migrate, on an open database")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
