"""Plans and payments: the APR cap, a payment plan's cancel reason, day close-outs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

``clinic_settings.max_apr_basis_points`` is the clinic's legal cap on a payment
plan's APR (36 % unless the owner sets another).  ``payment_plans.cancel_reason``
says why a plan stopped.  ``day_closeouts`` keeps each end-of-day drawer count
beside what the payments said.

``installments.paid_amount`` is what live payments allocated to each installment
(filled here from the allocations; kept by the payments service from then on),
with a check that it stays between 0 and the amount and a partial index of the
installments still owed, which the collections queue reads.  ``installments`` is
rebuilt in batch mode for the check; audit_log is not touched, so its triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "clinic_settings",
        sa.Column("max_apr_basis_points", sa.Integer(), nullable=False, server_default="3600"),
    )
    op.add_column(
        "payment_plans",
        sa.Column("cancel_reason", sa.String(length=200), nullable=False, server_default=""),
    )
    op.create_table(
        "day_closeouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("counted", sa.Text(), nullable=False),
        sa.Column("difference", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["staff.id"],
            name=op.f("fk_day_closeouts_closed_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_closeouts")),
    )
    op.create_index("ix_day_closeouts_business_day", "day_closeouts", ["business_day"])

    op.add_column(
        "installments",
        sa.Column("paid_amount", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE installments SET paid_amount = ("
        " SELECT coalesce(sum(a.amount), 0) FROM payment_allocations a"
        " JOIN payments p ON p.id = a.payment_id AND p.voided_at IS NULL"
        " WHERE a.installment_id = installments.id)"
    )
    with op.batch_alter_table("installments", recreate=recreate()) as batch:
        batch.create_check_constraint(
            op.f("ck_installments_paid_within_amount"),
            "paid_amount >= 0 AND paid_amount <= amount",
        )
    op.create_index(
        "ix_installments_unpaid_due_on",
        "installments",
        ["due_on", "payment_plan_id", "amount", "paid_amount"],
        sqlite_where=sa.text("paid_amount < amount"),
        postgresql_where=sa.text("paid_amount < amount"),
    )


def downgrade() -> None:
    op.drop_index("ix_installments_unpaid_due_on", table_name="installments")
    with op.batch_alter_table("installments", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_installments_paid_within_amount"), type_="check")
        batch.drop_column("paid_amount")
    op.drop_index("ix_day_closeouts_business_day", table_name="day_closeouts")
    op.drop_table("day_closeouts")
    with op.batch_alter_table("payment_plans") as batch:
        batch.drop_column("cancel_reason")
    with op.batch_alter_table("clinic_settings") as batch:
        batch.drop_column("max_apr_basis_points")
