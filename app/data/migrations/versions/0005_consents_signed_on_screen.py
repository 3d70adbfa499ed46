"""Consents signed on screen: who signed, in what capacity, and the staff witness.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

``stored_documents.signer_name`` and ``signer_relationship`` (``self``,
``parent_or_guardian``, ``legal_representative``) record who put the signature on a
consent captured on screen; ``witness_staff_id`` names the staff member who witnessed
it (``witness_name`` keeps the printed name, also for a witness who is not staff).
Older signed copies keep empty values.  ``stored_documents`` is rebuilt in batch mode
for the foreign key; audit_log is not touched, so its triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_documents", recreate=recreate()) as batch:
        batch.add_column(
            sa.Column("signer_name", sa.String(length=120), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "signer_relationship", sa.String(length=30), nullable=False, server_default=""
            )
        )
        batch.add_column(sa.Column("witness_staff_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_stored_documents_witness_staff_id_staff"),
            "staff",
            ["witness_staff_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("stored_documents", recreate=recreate()) as batch:
        batch.drop_constraint(
            op.f("fk_stored_documents_witness_staff_id_staff"), type_="foreignkey"
        )
        batch.drop_column("witness_staff_id")
        batch.drop_column("signer_relationship")
        batch.drop_column("signer_name")
