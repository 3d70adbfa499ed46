"""Patient journey stages of the front desk, and a portable patient search index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The journey becomes inquiry → consultation → booked → in treatment → follow-up,
plus inactive and lost (both with a reason, ``journey_reason``, formerly
``inactive_reason``).  Old stages map onto the new ones; going back maps them
onto the nearest old one.

``patient_search_terms`` holds one row per searchable word of a patient; the
service layer keeps it (``app.services.patients.search.index_patient``).  Existing
patients are indexed the next time they are saved; seeded databases are written
with their terms.

SQLite cannot alter a CHECK constraint, so ``patients`` is rebuilt in batch
mode (app.data.migrate turns foreign-key enforcement off around the rebuild and
checks every reference before committing).  audit_log is not touched, so its
append-only triggers stay.
"""

import sqlalchemy as sa
from alembic import op

from app.data.migrations.batch import recreate

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW_STAGES = ("inquiry", "consultation", "booked", "in_treatment", "follow_up", "inactive", "lost")
OLD_STAGES = (
    "lead",
    "consulted",
    "plan_presented",
    "plan_accepted",
    "in_treatment",
    "completed",
    "recall",
    "inactive",
)
FORWARD = {
    "lead": "inquiry",
    "consulted": "consultation",
    "plan_presented": "consultation",
    "plan_accepted": "consultation",
    "in_treatment": "in_treatment",
    "completed": "follow_up",
    "recall": "follow_up",
    "inactive": "inactive",
}
BACKWARD = {
    "inquiry": "lead",
    "consultation": "consulted",
    "booked": "plan_accepted",
    "in_treatment": "in_treatment",
    "follow_up": "completed",
    "inactive": "inactive",
    "lost": "inactive",
}
CHECK_NAME = "ck_patients_journey_stage_known"


def _check(stages) -> str:
    return "journey_stage IN (" + ", ".join(f"'{s}'" for s in stages) + ")"


def _remap(mapping: dict[str, str]) -> None:
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in mapping.items())
    op.execute(f"UPDATE patients SET journey_stage = CASE journey_stage {cases} END")


def upgrade() -> None:
    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.alter_column("inactive_reason", new_column_name="journey_reason")
    _remap(FORWARD)
    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.create_check_constraint(op.f(CHECK_NAME), _check(NEW_STAGES))

    op.create_table(
        "patient_search_terms",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "kind IN ('name', 'phone', 'email', 'chart')",
            name=op.f("ck_patient_search_terms_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_search_terms_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("patient_id", "term", "kind", name=op.f("pk_patient_search_terms")),
    )
    op.create_index(
        op.f("ix_patient_search_terms_term"), "patient_search_terms", ["term"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_patient_search_terms_term"), table_name="patient_search_terms")
    op.drop_table("patient_search_terms")
    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.alter_column("journey_reason", new_column_name="inactive_reason")
    _remap(BACKWARD)
    with op.batch_alter_table("patients", recreate=recreate()) as batch:
        batch.create_check_constraint(op.f(CHECK_NAME), _check(OLD_STAGES))
