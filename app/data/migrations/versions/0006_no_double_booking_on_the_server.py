"""On the clinic server, the database itself refuses a double booking.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Two active visits of one provider (or in one room) may not overlap unless someone chose
"double-book anyway" (``double_booked``, audited): an exclusion constraint over the
provider and the time range (``btree_gist`` compares the ids inside the GiST index).
CareDesk's own clash check runs first and explains the clash; this is the guarantee under
it, whatever program writes to the server.  Deferred to the end of the transaction, so a
change that swaps two visits' times is judged by where they end up.

SQLite has no exclusion constraints; on the encrypted file the clash check runs with the
file's write lock held, which one PC cannot race.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The statuses that hold time: booking.HOLDS_TIME (a test checks they agree).
HOLDS_TIME = ("scheduled", "confirmed", "arrived", "in_treatment", "completed")
RESOURCES = ("provider", "room")


def _name(resource: str) -> str:
    return f"ex_appointments_{resource}_time_not_shared"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    statuses = ", ".join(f"'{s}'" for s in HOLDS_TIME)
    for resource in RESOURCES:
        op.execute(
            f"ALTER TABLE appointments ADD CONSTRAINT {_name(resource)} "
            f"EXCLUDE USING gist ({resource}_id WITH =, tsrange(starts_at, ends_at) WITH &&) "
            f"WHERE (status IN ({statuses}) AND NOT double_booked) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for resource in RESOURCES:
        op.execute(f"ALTER TABLE appointments DROP CONSTRAINT IF EXISTS {_name(resource)}")
