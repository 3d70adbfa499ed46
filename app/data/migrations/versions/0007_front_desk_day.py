"""The front desk's day: check-in to check-out, payers' payments, Spanish catalogue texts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

- ``appointments.seated_at`` (the patient went in: "in treatment" since) and
  ``appointments.ready_at`` (the provider is done: "ready to check out" since); the status
  stays ``in_treatment`` until check-out completes the visit.
- ``clinic_settings.wait_warning_minutes`` (Today highlights a patient waiting longer) and
  ``clinic_settings.insurance_check_days`` (Today lists insurance to verify before visits
  within that many days).
- ``payments.payer_contact_id``: an insurance payment is money received *from the payer*
  (the contacts directory's kind "payer"), not an adjustment.
- ``services.name_es`` / ``description_es`` and ``treatment_plans.title_es`` /
  ``treatment_phases.title_es``: the Spanish text a Spanish document prints (empty: the
  document says it in a way that never mixes languages).

``payments`` is rebuilt in batch mode on SQLite for the foreign key; audit_log is not
touched, so its triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("appointments", sa.Column("seated_at", sa.DateTime(), nullable=True))
    op.add_column("appointments", sa.Column("ready_at", sa.DateTime(), nullable=True))
    op.add_column(
        "clinic_settings",
        sa.Column("wait_warning_minutes", sa.Integer(), nullable=False, server_default="15"),
    )
    op.add_column(
        "clinic_settings",
        sa.Column("insurance_check_days", sa.Integer(), nullable=False, server_default="7"),
    )
    op.add_column(
        "services", sa.Column("name_es", sa.String(length=120), nullable=False, server_default="")
    )
    op.add_column(
        "services", sa.Column("description_es", sa.Text(), nullable=False, server_default="")
    )
    for table in ("treatment_plans", "treatment_phases"):
        op.add_column(
            table, sa.Column("title_es", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("payments", recreate=recreate()) as batch:
        batch.add_column(sa.Column("payer_contact_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payments_payer_contact_id_contacts"),
            "contacts",
            ["payer_contact_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_index("ix_payments_payer_contact_id", ["payer_contact_id"])


def downgrade() -> None:
    with op.batch_alter_table("payments", recreate=recreate()) as batch:
        batch.drop_index("ix_payments_payer_contact_id")
        batch.drop_constraint(op.f("fk_payments_payer_contact_id_contacts"), type_="foreignkey")
        batch.drop_column("payer_contact_id")
    for table in ("treatment_phases", "treatment_plans"):
        op.drop_column(table, "title_es")
    op.drop_column("services", "description_es")
    op.drop_column("services", "name_es")
    op.drop_column("clinic_settings", "insurance_check_days")
    op.drop_column("clinic_settings", "wait_warning_minutes")
    op.drop_column("appointments", "ready_at")
    op.drop_column("appointments", "seated_at")
