"""Imports: each file imported from a clinic's previous system, the rows it created or
changed, and the column mapping remembered per source.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

- ``import_batches``: one file imported (kind, source system, file name and SHA-256, how it
  was read, who and when, how many rows created / updated / skipped / rejected, undone when).
- ``import_rows``: every row an import created or updated (table, id, the file's line, the
  changed columns' previous values), so the import can be traced and undone as a whole.
- ``import_mappings``: per source and kind, the columns and reading options last used.
- Indexes on the references to appointments and contacts that had none (referrals,
  waitlist entries, tasks, message replies, merged contacts, the contact log): deleting an
  imported appointment or contact (an import undone) looked through each table whole.
- ``account_adjustments.kind`` may also be ``opening_balance`` / ``opening_credit``: what a
  patient owed (or had in credit) in the previous system, one dated adjustment each.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

KINDS = "kind IN ('patients', 'appointments', 'balances', 'contacts')"
_OLD_ADJUSTMENTS = "kind IN ('discount', 'write_off', 'insurance_payment', 'fee')"
_ADJUSTMENTS = (
    "kind IN ('discount', 'write_off', 'insurance_payment', 'fee', 'opening_balance', "
    "'opening_credit')"
)


#: (table, column) of each reference given an index.
_REFERENCE_INDEXES = (
    ("referrals", "appointment_id"),
    ("waitlist_entries", "current_appointment_id"),
    ("waitlist_entries", "booked_appointment_id"),
    ("tasks", "appointment_id"),
    ("message_replies", "appointment_id"),
    ("contacts", "merged_into_id"),
    ("communication_entries", "contact_id"),
)


def _adjustment_kinds(check: str) -> None:
    with op.batch_alter_table("account_adjustments", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_account_adjustments_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_account_adjustments_kind_known"), check)


def upgrade() -> None:
    _adjustment_kinds(_ADJUSTMENTS)
    for table, column in _REFERENCE_INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_import_batches_kind_known")),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_import_batches_staff_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"],
            ["staff.id"],
            name=op.f("fk_import_batches_undone_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
    )
    op.create_index("ix_import_batches_imported_at", "import_batches", ["imported_at"])
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "action IN ('created', 'updated')", name=op.f("ck_import_rows_action_known")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_rows_batch_id_import_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
    )
    op.create_index("ix_import_rows_batch_id", "import_rows", ["batch_id"])
    op.create_index("ix_import_rows_table_row", "import_rows", ["table_name", "row_id"])
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_import_mappings_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mappings")),
        sa.UniqueConstraint("source", "kind", name=op.f("uq_import_mappings_source")),
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
    op.drop_index("ix_import_rows_table_row", table_name="import_rows")
    op.drop_index("ix_import_rows_batch_id", table_name="import_rows")
    op.drop_table("import_rows")
    op.drop_index("ix_import_batches_imported_at", table_name="import_batches")
    op.drop_table("import_batches")
    for table, column in _REFERENCE_INDEXES:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    _adjustment_kinds(_OLD_ADJUSTMENTS)
