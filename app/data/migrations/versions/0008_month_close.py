"""The owner's month close (Open Dental's lock date).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

``month_closes`` keeps each close of a month: its first and last clinic-local day, who
closed it and when, the month-end report as it stood then (JSON text) and the audit trail's
seal at that moment; a reopen fills in who, when and why (the row stays; closing again adds
a new one).  The books are closed through the last day of the latest month closed and not
reopened: the services refuse payments, charges and adjustments dated up to it unless the
owner overrides with a reason.  A partial unique index keeps one live close per month.

It also indexes the dates the month-end report finds a month's rows by — when patients
were added, visits booked (created, and their first status row), seated; charges' service
dates; payments and adjustments voided — so one month's report reads that month's rows,
not every row of ten years.

New tables and indexes only: nothing existing is rebuilt, audit_log's triggers stay.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_STILL_CLOSED = "reopened_at IS NULL"
_BOOKING_ROW = "from_status IS NULL"
#: (index, table, columns) the month-end report reads by.
_REPORT_INDEXES = (
    ("ix_patients_created_at", "patients", ["created_at"]),
    ("ix_appointments_created_at", "appointments", ["created_at"]),
    ("ix_appointments_seated_at", "appointments", ["seated_at"]),
    ("ix_charges_service_date", "charges", ["service_date"]),
)
#: Partial (only voided rows): a whole-column index on voided_at is what SQLite, which keeps
#: no planner statistics here, chose for "voided_at IS NULL" — the collections queue's
#: credit lookup went from 1 ms to 30 ms.
_VOIDED_INDEXES = (
    ("ix_payments_voided_at", "payments"),
    ("ix_account_adjustments_voided_at", "account_adjustments"),
)
_VOIDED = "voided_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "month_closes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("seal_trail", sa.String(length=64), nullable=False),
        sa.Column("seal_last_id", sa.Integer(), nullable=True),
        sa.Column("seal_last_hash", sa.String(length=64), nullable=False),
        sa.Column("seal_rows", sa.Integer(), nullable=True),
        sa.Column("sealed_at", sa.DateTime(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        sa.Column("reopen_reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_month_closes_month_in_order")),
        sa.CheckConstraint(
            "(reopened_at IS NULL AND reopened_by_id IS NULL AND reopen_reason = '') OR "
            "(reopened_at IS NOT NULL AND reopened_by_id IS NOT NULL AND reopen_reason <> '')",
            name=op.f("ck_month_closes_reopen_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["staff.id"],
            name=op.f("fk_month_closes_closed_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by_id"],
            ["staff.id"],
            name=op.f("fk_month_closes_reopened_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_closes")),
    )
    op.create_index(
        "ix_month_closes_closed_month",
        "month_closes",
        ["first_day"],
        unique=True,
        sqlite_where=sa.text(_STILL_CLOSED),
        postgresql_where=sa.text(_STILL_CLOSED),
    )
    for name, table, columns in _REPORT_INDEXES:
        op.create_index(name, table, columns)
    for name, table in _VOIDED_INDEXES:
        op.create_index(
            name,
            table,
            ["voided_at"],
            sqlite_where=sa.text(_VOIDED),
            postgresql_where=sa.text(_VOIDED),
        )
    op.create_index(
        "ix_appointment_status_changes_booked_at",
        "appointment_status_changes",
        ["changed_at"],
        sqlite_where=sa.text(_BOOKING_ROW),
        postgresql_where=sa.text(_BOOKING_ROW),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_appointment_status_changes_booked_at", table_name="appointment_status_changes"
    )
    for name, table in reversed(_VOIDED_INDEXES):
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(_REPORT_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_month_closes_closed_month", table_name="month_closes")
    op.drop_table("month_closes")
