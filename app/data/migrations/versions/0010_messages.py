"""Reminders and messages: the durable outbox, its settings, templates, rules and replies.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

- ``messaging_settings`` (one row): the clinic's mail server (and the IMAP mailbox bounces
  come back to) and SMS gateway (passwords and tokens stay in the OS key store), quiet
  hours, what a reminder may name, the owner's pause.
- ``message_templates``: the clinic's own wording per kind, channel and language.
- ``message_rules``: when each kind goes, per service where it matters; the defaults are
  added here for an existing clinic (confirmation request 2 days before, reminder 2 hours before, recall when due
  and 30 days later, installment 3 days before its due day and 5 days after it).
- ``messages`` (the outbox), ``message_replies`` (texts that came back), ``sender_leases``
  (a row per sender, "messages": which PC's sender runs now; made by the first sender).
- ``patients``: when the patient texted STOP, when the mail server refused their address,
  and the day they died (no message is sent about them after it).
- ``tasks``: a new kind, "message" (a reply for the front desk to read).

``tasks`` and ``patients`` are rebuilt in batch mode on SQLite; audit_log is not touched.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_KINDS = ("appointment_reminder", "confirmation_request", "recall_due", "installment_due",
          "installment_overdue", "post_treatment", "referral_reminder", "custom")  # fmt: skip
_AUTOMATIC_KINDS = _KINDS[:-1]
_CHANNELS = ("email", "text")
_STATES = ("queued", "sending", "sent", "delivered", "failed", "bounced", "cancelled")
_ACTIONS = ("confirmed", "opted_out", "task", "unmatched")
_OLD_TASK_KINDS = ("general", "follow_up", "call", "insurance_verification", "recall",
                   "collections", "referral", "report_review", "treatment", "preauthorization",
                   "payment_plan")  # fmt: skip
_TASK_KINDS = (*_OLD_TASK_KINDS, "message")

#: (kind, minutes from the event, e-mail, text): the rules a clinic starts with.
_DEFAULT_RULES = (
    ("confirmation_request", -2 * 24 * 60, True, True),
    ("appointment_reminder", -2 * 60, False, True),
    ("recall_due", 0, True, True),
    ("recall_due", 30 * 24 * 60, True, True),
    ("installment_due", -3 * 24 * 60, True, False),
    ("installment_overdue", 5 * 24 * 60, True, False),
)


def _sql_bool(value: bool) -> str:
    return "true" if value else "false"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "messaging_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("smtp_host", sa.String(length=255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(length=10), nullable=False),
        sa.Column("smtp_user", sa.String(length=255), nullable=False),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("from_name", sa.String(length=120), nullable=False),
        sa.Column("imap_host", sa.String(length=255), nullable=False),
        sa.Column("imap_port", sa.Integer(), nullable=False),
        sa.Column("text_enabled", sa.Boolean(), nullable=False),
        sa.Column("sms_gateway", sa.String(length=20), nullable=False),
        sa.Column("sms_base_url", sa.String(length=255), nullable=False),
        sa.Column("sms_account_sid", sa.String(length=64), nullable=False),
        sa.Column("sms_from_number", sa.String(length=20), nullable=False),
        sa.Column("quiet_hours_start_minute", sa.Integer(), nullable=False),
        sa.Column("quiet_hours_end_minute", sa.Integer(), nullable=False),
        sa.Column("include_service_name", sa.Boolean(), nullable=False),
        sa.Column("include_provider_name", sa.Boolean(), nullable=False),
        sa.Column("sending_enabled", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("id = 1", name=op.f("ck_messaging_settings_single_row")),
        sa.CheckConstraint(
            _in("smtp_security", ("starttls", "ssl", "none")),
            name=op.f("ck_messaging_settings_smtp_security_known"),
        ),
        sa.CheckConstraint(
            _in("sms_gateway", ("twilio",)), name=op.f("ck_messaging_settings_gateway_known")
        ),
        sa.CheckConstraint(
            "smtp_port BETWEEN 1 AND 65535", name=op.f("ck_messaging_settings_smtp_port_valid")
        ),
        sa.CheckConstraint(
            "imap_port BETWEEN 1 AND 65535", name=op.f("ck_messaging_settings_imap_port_valid")
        ),
        sa.CheckConstraint(
            "quiet_hours_start_minute BETWEEN 0 AND 1439"
            " AND quiet_hours_end_minute BETWEEN 0 AND 1439",
            name=op.f("ck_messaging_settings_quiet_hours_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_settings")),
    )

    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_message_templates_kind_known")),
        sa.CheckConstraint(
            _in("channel", _CHANNELS), name=op.f("ck_message_templates_channel_known")
        ),
        sa.CheckConstraint("length(body) > 0", name=op.f("ck_message_templates_body_not_empty")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["staff.id"], name=op.f("fk_message_templates_updated_by_id_staff"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint("kind", "channel", "language", name="uq_message_templates_kind"),
    )

    op.create_table(
        "message_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("send_email", sa.Boolean(), nullable=False),
        sa.Column("send_text", sa.Boolean(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            _in("kind", _AUTOMATIC_KINDS), name=op.f("ck_message_rules_kind_known")
        ),
        sa.CheckConstraint("send_email OR send_text", name=op.f("ck_message_rules_some_channel")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_message_rules_service_id_services"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_rules")),
    )
    op.create_index("ix_message_rules_service_id", "message_rules", ["service_id"])
    # An existing clinic starts with the default rules; an empty database (a new clinic
    # server, a move's target) stays empty: a new clinic gets them when it is created.
    for kind, offset, email, text in _DEFAULT_RULES:
        op.execute(
            "INSERT INTO message_rules (kind, offset_minutes, send_email, send_text, service_id,"
            f" is_active, created_at, updated_at, version) SELECT '{kind}', {offset},"
            f" {_sql_bool(email)}, {_sql_bool(text)}, NULL, {_sql_bool(True)},"
            " updated_at, updated_at, 1 FROM clinic_settings WHERE id = 1"
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("appointment_starts_at", sa.DateTime(), nullable=True),
        sa.Column("installment_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("automatic_key", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_messages_kind_known")),
        sa.CheckConstraint(_in("channel", _CHANNELS), name=op.f("ck_messages_channel_known")),
        sa.CheckConstraint(_in("state", _STATES), name=op.f("ck_messages_state_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_messages_attempts_not_negative")),
        sa.CheckConstraint(
            "patient_id IS NOT NULL OR contact_id IS NOT NULL",
            name=op.f("ck_messages_has_recipient"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_messages_patient_id_patients"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_messages_contact_id_contacts"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"],
            name=op.f("fk_messages_appointment_id_appointments"), ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["installment_id"], ["installments.id"],
            name=op.f("fk_messages_installment_id_installments"), ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referrals.id"], name=op.f("fk_messages_referral_id_referrals"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["rule_id"], ["message_rules.id"], name=op.f("fk_messages_rule_id_message_rules"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_messages_created_by_id_staff"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("uid", name=op.f("uq_messages_uid")),
        sa.UniqueConstraint("automatic_key", name=op.f("uq_messages_automatic_key")),
    )
    op.create_index("ix_messages_state_due_at", "messages", ["state", "due_at"])
    op.create_index("ix_messages_patient_id_created_at", "messages", ["patient_id", "created_at"])
    op.create_index("ix_messages_contact_id", "messages", ["contact_id"])
    op.create_index("ix_messages_appointment_id", "messages", ["appointment_id"])
    op.create_index("ix_messages_gateway_id", "messages", ["gateway_id"])

    op.create_table(
        "message_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            _in("channel", _CHANNELS), name=op.f("ck_message_replies_channel_known")
        ),
        sa.CheckConstraint(_in("action", _ACTIONS), name=op.f("ck_message_replies_action_known")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_message_replies_patient_id_patients"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_replies_message_id_messages"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"],
            name=op.f("fk_message_replies_appointment_id_appointments"), ondelete="RESTRICT",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_message_replies_task_id_tasks"),
            ondelete="RESTRICT",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_replies")),
        sa.UniqueConstraint("gateway_id", name=op.f("uq_message_replies_gateway_id")),
    )
    op.create_index("ix_message_replies_received_at", "message_replies", ["received_at"])
    op.create_index("ix_message_replies_patient_id", "message_replies", ["patient_id"])

    op.create_table(
        "sender_leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sender_leases")),
    )

    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.add_column(sa.Column("text_opted_out_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("email_bounced_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("deceased_on", sa.Date(), nullable=True))

    with op.batch_alter_table("tasks", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_tasks_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_tasks_kind_known"), _in("kind", _TASK_KINDS))


def downgrade() -> None:
    op.execute("DELETE FROM tasks WHERE kind = 'message'")
    with op.batch_alter_table("tasks", recreate=recreate()) as batch:
        batch.drop_constraint(op.f("ck_tasks_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_tasks_kind_known"), _in("kind", _OLD_TASK_KINDS))

    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.drop_column("deceased_on")
        batch.drop_column("email_bounced_at")
        batch.drop_column("text_opted_out_at")

    op.drop_table("sender_leases")
    op.drop_index("ix_message_replies_patient_id", table_name="message_replies")
    op.drop_index("ix_message_replies_received_at", table_name="message_replies")
    op.drop_table("message_replies")
    for index in ("ix_messages_gateway_id", "ix_messages_appointment_id",
                  "ix_messages_contact_id", "ix_messages_patient_id_created_at",
                  "ix_messages_state_due_at"):  # fmt: skip
        op.drop_index(index, table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_message_rules_service_id", table_name="message_rules")
    op.drop_table("message_rules")
    op.drop_table("message_templates")
    op.drop_table("messaging_settings")
