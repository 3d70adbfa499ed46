"""Preparing the clinic server's database (run once by the clinic's IT person, and again
after an upgrade): roles, privileges, extensions, the schema.

Two roles:

- ``caredesk_owner`` owns the database and every table; migrations run as it.  Nobody signs
  in as it day to day.
- ``caredesk_app`` is what every CareDesk PC signs in as.  It reads and writes the clinic's
  rows, but may only *add* to the audit trail: no UPDATE, DELETE or TRUNCATE on it, and no
  right to alter or drop it or its triggers (it owns nothing).  That is the database's own
  privilege system, so it holds even for someone at a PC who reads the app's password
  out of the key store.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from app.data import migrate
from app.data.database import Database, connect_server
from app.data.errors import CareDeskError
from app.data.server import APP_ROLE, ServerAddress

OWNER_ROLE = "caredesk_owner"
MIN_SERVER_VERSION = 150000
#: Tables the application role may read and add to, but never change or delete from.
APPEND_ONLY_TABLES = ("audit_log",)
#: Tables only migrations write.
READ_ONLY_TABLES = ("alembic_version",)


class ServerSetupError(CareDeskError):
    pass


@dataclass(frozen=True)
class PreparedServer:
    """What setup made: the address PCs join (as the application role)."""

    app_address: ServerAddress
    created_database: bool


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _admin_connection(admin: ServerAddress, password: str, database: str):
    import psycopg

    args = admin.connect_args(password)
    args["dbname"] = database
    return psycopg.connect(**args, autocommit=True)


def _set_role_password(conn, role: str, password: str, *, login: bool) -> None:
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} {} PASSWORD {}").format(
            sql.SQL(verb),
            sql.Identifier(role),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.Literal(password),
        )
    )


def prepare_server(
    admin: ServerAddress,
    admin_password: str,
    *,
    owner_password: str,
    app_password: str,
) -> PreparedServer:
    """Create (or bring up to date) the clinic database on a PostgreSQL server reached as an
    administrator: both roles with these passwords, the database owned by the owner role,
    ``btree_gist``, the schema, and the application role's privileges.  Safe to run again."""
    from psycopg import sql

    database = admin.database
    with _admin_connection(admin, admin_password, "postgres") as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        if int(version) < MIN_SERVER_VERSION:
            raise ServerSetupError(
                "CareDesk needs PostgreSQL 15 or newer on the clinic server; this one is "
                f"{int(version) // 10000}. Install a newer PostgreSQL and run setup again."
            )
        superuser = conn.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]
        if not superuser:
            raise ServerSetupError(
                f"“{admin.user}” may not create roles on this server. Run setup as the "
                "server's administrator (the postgres user the PostgreSQL installer made)."
            )
        _set_role_password(conn, OWNER_ROLE, owner_password, login=True)
        _set_role_password(conn, APP_ROLE, app_password, login=True)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        created = exists.fetchone() is None
        if created:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    with _admin_connection(admin, admin_password, database) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # The exclusion constraints against double booking compare ids with = in a GiST index.
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    upgrade_server_schema(admin.with_user(OWNER_ROLE), owner_password)
    return PreparedServer(app_address=admin.with_user(APP_ROLE), created_database=created)


def upgrade_server_schema(owner: ServerAddress, owner_password: str) -> None:
    """Run the migrations as the owner role, then grant the application role what it needs
    on every table (new tables included)."""
    db = connect_server(owner, owner_password)
    try:
        migrate.upgrade(db)
        grant_app_privileges(db)
    finally:
        db.close()


def grant_app_privileges(db: Database) -> None:
    """The application role's rights, table by table (see the module's docstring)."""
    app = _quote_ident(APP_ROLE)
    with db.engine.begin() as conn:
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}"))
        conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}")
        )
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {app}"))
        for table in READ_ONLY_TABLES:
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {app}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}"))
