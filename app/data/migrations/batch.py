"""What the revisions share about altering tables on both engines."""

from alembic import op


def recreate() -> str:
    """``batch_alter_table``'s ``recreate=``: SQLite changes a table's constraints only by
    copying it into a new one; PostgreSQL alters it in place (dropping the table would
    mean dropping every foreign key that points at it)."""
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"
