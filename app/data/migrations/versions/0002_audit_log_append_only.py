"""Audit log append-only: triggers abort UPDATE and DELETE on audit_log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The hash chain lets ``caredesk audit verify`` *detect* an edited or deleted
row; these triggers make the database *refuse* the edit in the first place
(for anything short of rewriting the schema).  SQLite and PostgreSQL spell
triggers differently, so each gets its own DDL.

Note for later revisions: on SQLite, Alembic's batch mode alters a table by
copying it, which drops its triggers; a revision that batch-alters audit_log
must create these triggers again.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "audit log is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$
            """
        )
        for operation in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation} BEFORE {operation.upper()} ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
            )
        # TRUNCATE bypasses row triggers on PostgreSQL; refuse it as well.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for operation in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation} BEFORE {operation.upper()} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for operation in ("update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{operation} ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{operation}")
