"""Backups: the schedule, folder and keeping of automatic backups, and every backup run.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

- ``backup_settings`` (one row, absent until first saved): automatic or not, how often, only
  in opening hours or not, the off-PC folder and its name, how many hourly / daily / weekly
  / monthly backups to keep.
- ``backup_runs``: each backup written to one place (this PC's folder or the owner's), when,
  why, its file, size and SHA-256, and whether it verified (and what went wrong if not).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=False),
        sa.Column("opening_hours_only", sa.Boolean(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("folder_label", sa.String(length=60), nullable=False),
        sa.Column("keep_hourly", sa.Integer(), nullable=False),
        sa.Column("keep_daily", sa.Integer(), nullable=False),
        sa.Column("keep_weekly", sa.Integer(), nullable=False),
        sa.Column("keep_monthly", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_backup_settings_single_row")),
        sa.CheckConstraint(
            "every_minutes BETWEEN 15 AND 1440", name=op.f("ck_backup_settings_every_minutes_valid")
        ),
        sa.CheckConstraint(
            "keep_hourly >= 1 AND keep_daily >= 0 AND keep_weekly >= 0 AND keep_monthly >= 0",
            name=op.f("ck_backup_settings_keep_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_settings")),
    )
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("place", sa.String(length=10), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("folder_label", sa.String(length=60), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("computer", sa.String(length=100), nullable=False),
        sa.CheckConstraint("place IN ('local', 'folder')", name=op.f("ck_backup_runs_place_known")),
        sa.CheckConstraint(
            "outcome IN ('verified', 'failed')", name=op.f("ck_backup_runs_outcome_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_runs")),
    )
    op.create_index("ix_backup_runs_place_finished_at", "backup_runs", ["place", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_backup_runs_place_finished_at", table_name="backup_runs")
    op.drop_table("backup_runs")
    op.drop_table("backup_settings")
