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
- ``payments.unapplied``: what of a payment no installment or charge took and no refund
  gave back — a patient's credit is their payments' sum of it, read from a partial index
  (the collections queue applies credit before calling anyone overdue).
- ``services.name_es`` / ``description_es`` and ``treatment_plans.title_es`` /
  ``treatment_phases.title_es``: the Spanish text a Spanish document prints (empty: the
  document says it in a way that never mixes languages).

``payments`` is rebuilt in batch mode on SQLite for the foreign key; audit_log is not
touched, so its triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

#: A frozen copy of models.payments.refresh_unapplied() (a migration never imports the
#: app's code, which moves on).
_LEFT = (
    "amount - coalesce((SELECT sum(a.amount) FROM payment_allocations a"
    " WHERE a.payment_id = payments.id), 0)"
    " - coalesce((SELECT sum(r.amount) FROM payments r"
    " WHERE r.refund_of_id = payments.id AND r.voided_at IS NULL), 0)"
)
UNAPPLIED_SQL = (
    f"UPDATE payments SET unapplied = CASE WHEN kind = 'payment' AND {_LEFT} > 0"
    f" THEN {_LEFT} ELSE 0 END"
)

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
        batch.add_column(
            sa.Column("unapplied", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Each payment's unapplied money (what is now credit), from its allocations and refunds.
    op.execute(UNAPPLIED_SQL)
    with op.batch_alter_table("payments", recreate=recreate()) as batch:
        batch.create_check_constraint(
            op.f("ck_payments_unapplied_within_amount"), "unapplied >= 0 AND unapplied <= amount"
        )
    op.create_index(
        "ix_payments_patient_unapplied",
        "payments",
        ["patient_id", "unapplied"],
        sqlite_where=sa.text("unapplied > 0 AND voided_at IS NULL"),
        postgresql_where=sa.text("unapplied > 0 AND voided_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_patient_unapplied", table_name="payments")
    with op.batch_alter_table("payments", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_payments_unapplied_within_amount"), type_="check")
        batch.drop_column("unapplied")
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
