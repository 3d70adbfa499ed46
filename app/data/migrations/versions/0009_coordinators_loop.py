"""The coordinator's loop: a contacts directory, referrals that close, clinic-wide tasks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

- ``contacts``: more kinds (referring provider, pharmacy, other clinic), a second phone,
  how the contact prefers records sent, a payer's payer id and eligibility phone, and
  ``merged_into_id`` for a duplicate merged into another (kept, deactivated).
- ``referrals``: the statuses of a referral that closes (draft/received → sent → booked →
  seen → report received → closed, or declined/cancelled), with when it entered its status,
  the visit's due date and date, our booked consultation (incoming), the specialist's report
  and its acknowledgement, how it was sent, and why it was declined or cancelled.  Old
  statuses map: new → draft (outgoing) or received (incoming), acknowledged → sent,
  scheduled → booked, completed → closed.  The urgency gains "soon".
- ``referral_events`` (each step dated and by whom; calls and reminders) and
  ``referral_records`` (the stored documents and notes sent with a referral).  Existing
  referrals get one event: the status they are in, at their last change.
- ``tasks``: priority, an automatic follow-up's key (unique: a rule creates its task once),
  why it closed itself, new kinds, and links to a treatment plan, payment plan, insurance
  policy or pre-authorisation.
- ``services.follow_up_call_days`` and the clinic's follow-up and referral day counts.

``contacts``, ``referrals``, ``tasks``, ``services`` and ``clinic_settings`` are rebuilt in
batch mode on SQLite for their constraints; audit_log is not touched, so its triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_CONTACT_KINDS = ("payer", "specialist", "referring_provider", "lab", "pharmacy", "clinic",
                  "other")  # fmt: skip
_OLD_CONTACT_KINDS = ("specialist", "lab", "payer", "other")
_SEND_BY = ("", "fax", "email", "post", "portal")
_STATUSES = ("draft", "received", "sent", "booked", "seen", "report_received", "closed",
             "declined", "cancelled")  # fmt: skip
_OLD_STATUSES = ("new", "sent", "acknowledged", "scheduled", "completed", "cancelled")
_URGENCIES = ("routine", "soon", "urgent")
_TASK_KINDS = ("general", "follow_up", "call", "insurance_verification", "recall",
               "collections", "referral", "report_review", "treatment", "preauthorization",
               "payment_plan")  # fmt: skip
_OLD_TASK_KINDS = _TASK_KINDS[:7]
_SETTINGS_DAYS = (
    ("referral_visit_days_routine", 30),
    ("referral_visit_days_soon", 14),
    ("referral_visit_days_urgent", 3),
    ("referral_booking_days", 7),
    ("referral_report_days", 14),
    ("consult_follow_up_days", 7),
    ("unscheduled_treatment_days", 14),
)
_DAYS_POSITIVE = " AND ".join(f"{name} > 0" for name, _ in _SETTINGS_DAYS)
_TASK_LINKS = (
    ("treatment_plan_id", "treatment_plans"),
    ("payment_plan_id", "payment_plans"),
    ("insurance_policy_id", "insurance_policies"),
    ("preauthorization_id", "preauthorizations"),
)
#: (old, direction or None for both, new)
_STATUS_MAP = (
    ("new", "outgoing", "draft"),
    ("new", "incoming", "received"),
    ("acknowledged", None, "sent"),
    ("scheduled", None, "booked"),
    ("completed", None, "closed"),
)


def _staff_fk(batch, column: str, table: str) -> None:
    batch.create_foreign_key(
        op.f(f"fk_{table}_{column}_staff"), "staff", [column], ["id"], ondelete="RESTRICT"
    )


def upgrade() -> None:
    with op.batch_alter_table("contacts", recreate=recreate()) as batch:
        for column, length in (("other_phone", 20), ("payer_id", 40), ("eligibility_phone", 20)):
            batch.add_column(
                sa.Column(column, sa.String(length=length), nullable=False, server_default="")
            )
        batch.add_column(
            sa.Column("send_records_by", sa.String(length=10), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_contacts_merged_into_id_contacts"),
            "contacts",
            ["merged_into_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.drop_constraint(op.f("ck_contacts_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_contacts_kind_known"), _in("kind", _CONTACT_KINDS))
        batch.create_check_constraint(
            op.f("ck_contacts_send_records_by_known"), _in("send_records_by", _SEND_BY)
        )
        batch.create_check_constraint(
            op.f("ck_contacts_merged_inactive"), "merged_into_id IS NULL OR NOT is_active"
        )

    with op.batch_alter_table("referrals", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_referrals_status_known"), type_="check")
        batch.drop_constraint(op.f("ck_referrals_urgency_known"), type_="check")
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("sent_via", sa.String(length=10), nullable=False, server_default="")
        )
        for column in ("visit_due_on", "visit_on", "seen_on", "report_received_on"):
            batch.add_column(sa.Column(column, sa.Date(), nullable=True))
        batch.add_column(sa.Column("appointment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("report_document_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("report_acknowledged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("report_acknowledged_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("outcome_reason", sa.String(length=200), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            op.f("fk_referrals_appointment_id_appointments"),
            "appointments",
            ["appointment_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_foreign_key(
            op.f("fk_referrals_report_document_id_stored_documents"),
            "stored_documents",
            ["report_document_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        _staff_fk(batch, "report_acknowledged_by_id", "referrals")

    for old, direction, new in _STATUS_MAP:
        where = f" AND direction = '{direction}'" if direction else ""
        op.execute(f"UPDATE referrals SET status = '{new}' WHERE status = '{old}'{where}")
    # Days in stage start at the referral's last change: the nearest thing there is.
    op.execute("UPDATE referrals SET status_changed_at = updated_at")
    op.execute(
        "UPDATE referrals SET visit_on = closed_on, seen_on = closed_on "
        "WHERE status = 'closed' AND direction = 'incoming'"
    )

    with op.batch_alter_table("referrals", recreate=recreate()) as batch:
        batch.alter_column("status_changed_at", existing_type=sa.DateTime(), nullable=False)
        batch.create_check_constraint(op.f("ck_referrals_status_known"), _in("status", _STATUSES))
        batch.create_check_constraint(
            op.f("ck_referrals_urgency_known"), _in("urgency", _URGENCIES)
        )
        batch.create_index("ix_referrals_status_status_changed_at", ["status", "status_changed_at"])

    op.create_table(
        "referral_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            _in("kind", ("status", "call", "reminder", "letter", "note")),
            name=op.f("ck_referral_events_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["by_id"], ["staff.id"], name=op.f("fk_referral_events_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"],
            name=op.f("fk_referral_events_referral_id_referrals"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_events")),
    )  # fmt: skip
    op.create_index("ix_referral_events_referral_id_at", "referral_events", ["referral_id", "at"])
    op.execute(
        "INSERT INTO referral_events (referral_id, at, by_id, kind, from_status, to_status,"
        " note) SELECT id, status_changed_at, created_by_id, 'status', NULL, status,"
        " 'Recorded before referrals kept their history.' FROM referrals"
    )

    op.create_table(
        "referral_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(document_id IS NULL) <> (note_id IS NULL)",
            name=op.f("ck_referral_records_one_document_or_note"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["stored_documents.id"],
            name=op.f("fk_referral_records_document_id_stored_documents"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["consultation_notes.id"],
            name=op.f("fk_referral_records_note_id_consultation_notes"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"],
            name=op.f("fk_referral_records_referral_id_referrals"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_records")),
        sa.UniqueConstraint("referral_id", "document_id", name="uq_referral_records_document"),
        sa.UniqueConstraint("referral_id", "note_id", name="uq_referral_records_note"),
    )  # fmt: skip
    op.create_index("ix_referral_records_referral_id", "referral_records", ["referral_id"])

    with op.batch_alter_table("tasks", recreate=recreate()) as batch:
        batch.add_column(
            sa.Column("priority", sa.String(length=10), nullable=False, server_default="normal")
        )
        batch.add_column(sa.Column("automatic_key", sa.String(length=120), nullable=True))
        batch.add_column(
            sa.Column("resolution", sa.String(length=200), nullable=False, server_default="")
        )
        for column, table in _TASK_LINKS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_tasks_{column}_{table}"), table, [column], ["id"], ondelete="RESTRICT"
            )
        batch.create_unique_constraint(op.f("uq_tasks_automatic_key"), ["automatic_key"])
        batch.drop_constraint(op.f("ck_tasks_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_tasks_kind_known"), _in("kind", _TASK_KINDS))
        batch.create_check_constraint(
            op.f("ck_tasks_priority_known"), _in("priority", ("low", "normal", "high"))
        )

    with op.batch_alter_table("services", recreate=recreate()) as batch:
        batch.add_column(sa.Column("follow_up_call_days", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_services_follow_up_call_not_negative"),
            "follow_up_call_days IS NULL OR follow_up_call_days >= 0",
        )

    with op.batch_alter_table("clinic_settings", recreate=recreate()) as batch:
        for name, default in _SETTINGS_DAYS:
            batch.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=str(default))
            )
        batch.create_check_constraint(
            op.f("ck_clinic_settings_follow_up_days_positive"), _DAYS_POSITIVE
        )


def downgrade() -> None:
    with op.batch_alter_table("clinic_settings", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_clinic_settings_follow_up_days_positive"), type_="check")
        for name, _default in reversed(_SETTINGS_DAYS):
            batch.drop_column(name)

    with op.batch_alter_table("services", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_services_follow_up_call_not_negative"), type_="check")
        batch.drop_column("follow_up_call_days")

    op.execute(f"DELETE FROM tasks WHERE NOT ({_in('kind', _OLD_TASK_KINDS)})")
    with op.batch_alter_table("tasks", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_tasks_priority_known"), type_="check")
        batch.drop_constraint(op.f("ck_tasks_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_tasks_kind_known"), _in("kind", _OLD_TASK_KINDS))
        batch.drop_constraint(op.f("uq_tasks_automatic_key"), type_="unique")
        for column, table in reversed(_TASK_LINKS):
            batch.drop_constraint(op.f(f"fk_tasks_{column}_{table}"), type_="foreignkey")
            batch.drop_column(column)
        batch.drop_column("resolution")
        batch.drop_column("automatic_key")
        batch.drop_column("priority")

    op.drop_index("ix_referral_records_referral_id", table_name="referral_records")
    op.drop_table("referral_records")
    op.drop_index("ix_referral_events_referral_id_at", table_name="referral_events")
    op.drop_table("referral_events")

    with op.batch_alter_table("referrals", recreate=recreate()) as batch:
        batch.drop_index("ix_referrals_status_status_changed_at")
        batch.drop_constraint(op.f("ck_referrals_status_known"), type_="check")
        batch.drop_constraint(op.f("ck_referrals_urgency_known"), type_="check")
    op.execute("UPDATE referrals SET urgency = 'urgent' WHERE urgency = 'soon'")
    for old, new in (("draft", "new"), ("received", "new"), ("booked", "scheduled"),
                     ("seen", "scheduled"), ("report_received", "scheduled"),
                     ("closed", "completed"), ("declined", "cancelled")):  # fmt: skip
        op.execute(f"UPDATE referrals SET status = '{new}' WHERE status = '{old}'")
    with op.batch_alter_table("referrals", recreate=recreate()) as batch:
        batch.create_check_constraint(
            op.f("ck_referrals_status_known"), _in("status", _OLD_STATUSES)
        )
        batch.create_check_constraint(
            op.f("ck_referrals_urgency_known"), _in("urgency", ("routine", "urgent"))
        )
        batch.drop_constraint(op.f("fk_referrals_report_acknowledged_by_id_staff"),
                              type_="foreignkey")  # fmt: skip
        batch.drop_constraint(
            op.f("fk_referrals_report_document_id_stored_documents"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_referrals_appointment_id_appointments"), type_="foreignkey")
        for column in ("outcome_reason", "report_acknowledged_by_id", "report_acknowledged_at",
                       "report_document_id", "appointment_id", "report_received_on", "seen_on",
                       "visit_on", "visit_due_on", "sent_via", "status_changed_at"):  # fmt: skip
            batch.drop_column(column)

    with op.batch_alter_table("contacts", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_contacts_merged_inactive"), type_="check")
        batch.drop_constraint(op.f("ck_contacts_send_records_by_known"), type_="check")
        batch.drop_constraint(op.f("ck_contacts_kind_known"), type_="check")
        batch.drop_constraint(op.f("fk_contacts_merged_into_id_contacts"), type_="foreignkey")
        for column in ("merged_into_id", "send_records_by", "eligibility_phone", "payer_id",
                       "other_phone"):  # fmt: skip
            batch.drop_column(column)
    op.execute(
        "UPDATE contacts SET kind = CASE kind WHEN 'referring_provider' THEN 'specialist'"
        " ELSE 'other' END WHERE NOT (" + _in("kind", _OLD_CONTACT_KINDS) + ")"
    )
    with op.batch_alter_table("contacts", recreate=recreate()) as batch:
        batch.create_check_constraint(
            op.f("ck_contacts_kind_known"), _in("kind", _OLD_CONTACT_KINDS)
        )
