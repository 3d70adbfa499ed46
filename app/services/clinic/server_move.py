"""Moving a one-PC clinic from its encrypted file to the clinic server
(``caredesk db move-to-server``, and Settings → Clinic → Move to the clinic server).

The rows are copied by :mod:`app.data.transfer`, into a database ``caredesk server setup``
prepared and nothing has used yet.  Before the server commits them they are checked: the
same number of rows in every table on both sides, the audit trail's chain unbroken on the
server, and the server's schema the file's.  Any difference rolls the copy back: the
server's database is left empty, the file as it was (it is only ever read).

**Who signs in.**  The copy runs as the clinic database's owner role, ``caredesk_owner``,
not as the application role the PCs use: it sets the tables' foreign keys aside while it
copies (only the tables' owner may) and moves each id sequence on past the rows copied
(the application role may only draw from them).  The owner also may add the audit rows as
they are, as the application role could.  So the clinic's IT person, who has the owner's
password from setting up the server, runs the move; an address naming the application
role (the default in ``postgresql://host/caredesk``) is signed in to as the owner instead,
and an address naming another role (the server's administrator) is used as it is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from app.data import migrate, transfer
from app.data.database import connect_server
from app.data.errors import DatabaseLockedError, DatabaseTooNewError
from app.data.keys import DatabaseKey
from app.data.server import APP_ROLE, ServerAddress
from app.data.server_admin import OWNER_ROLE
from app.data.transfer import Progress, TransferError
from app.services.clinic.audit_log import verify_chain_in
from app.services.clinic.clinics import find_key, stored_key_refused
from app.services.errors import ValidationError

CHECK_STAGE = "Checking the copy"
#: How many differences a refused copy names (the rest are counted).
NAMED_DIFFERENCES = 5


class MoveCheckError(TransferError):
    """The copy on the server differed from the file: it was rolled back."""

    def __init__(self, differences: list[str]) -> None:
        shown = "; ".join(differences[:NAMED_DIFFERENCES])
        more = len(differences) - NAMED_DIFFERENCES
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(
            f"The copy on the clinic server did not match the file ({shown}), so it was "
            "undone: the server's database is empty again and the file is unchanged."
        )
        self.differences = differences


@dataclass(frozen=True)
class TableMoved:
    name: str
    rows: int


@dataclass(frozen=True)
class MoveReport:
    """What was moved: rows per table (in copy order), how long it took, and the address
    every PC now joins (the application role's)."""

    tables: list[TableMoved]
    seconds: float
    audit_rows_checked: int
    revision: str
    server: ServerAddress

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


def owner_address(address: ServerAddress) -> ServerAddress:
    """The address the move signs in with: the owner role instead of the application role
    (see the module's docstring)."""
    return address.with_user(OWNER_ROLE) if address.user == APP_ROLE else address


def _open_file(path: Path, key: DatabaseKey | None) -> transfer.SourceFile:
    from_keyring = False
    if key is None:
        key, from_keyring = find_key(path)
    try:
        return transfer.open_source(path, key)
    except DatabaseLockedError:
        if from_keyring:
            raise stored_key_refused() from None
        raise


def _check_file_schema(path: Path, revision: str | None) -> str:
    head = migrate.HEAD_REVISION
    if revision == head:
        return revision
    if revision is not None and revision not in migrate.known_revisions():
        raise DatabaseTooNewError()
    raise ValidationError(
        f"The clinic file {path} has an older CareDesk's tables ({revision or 'none'}; this "
        f"CareDesk's are {head}), so it cannot be moved as it is. Open it once with this "
        f"CareDesk — it upgrades the file after making a backup — or run `caredesk db "
        f"upgrade --db {path}`; then move it."
    )


def _check_server_schema(address: ServerAddress, revision: str | None) -> None:
    if revision == migrate.HEAD_REVISION:
        return
    where = address.describe().capitalize()
    if revision is None:
        raise ValidationError(
            f"{where} has no CareDesk tables yet: run `caredesk server setup` on the server "
            "first, then move the clinic."
        )
    if revision not in migrate.known_revisions():
        raise ValidationError(
            f"{where} has a newer CareDesk's tables ({revision}; this CareDesk's are "
            f"{migrate.HEAD_REVISION}). Move the clinic with the newer CareDesk."
        )
    raise ValidationError(
        f"{where} has an older CareDesk's tables ({revision}; this CareDesk's are "
        f"{migrate.HEAD_REVISION}). Run `caredesk server upgrade` on the server once, then "
        "move the clinic."
    )


def move_clinic_to_server(
    path: Path,
    server: ServerAddress,
    password: str,
    *,
    key: DatabaseKey | None = None,
    progress: Progress | None = None,
) -> MoveReport:
    """Copy the clinic file at ``path`` into the empty, prepared database at ``server``,
    signing in as its owner role with ``password``; commit only when every table's row
    count, the audit chain and the schema revision agree with the file.

    ``key`` opens the file (default: the key store, then ``CAREDESK_PASSPHRASE``).  The
    file must not be open in CareDesk meanwhile (close it first).  ``progress(stage, done,
    total)`` hears of the rows copied, then of the checks.  Every refusal is a
    CareDeskError saying what to do; the server's database is then left as it was.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    path = Path(path)
    source = _open_file(path, key)
    try:
        revision = _check_file_schema(path, transfer.source_revision(source))
        owner = owner_address(server)
        target = connect_server(owner, password)
        try:
            _check_server_schema(owner, migrate.current_revision(target))
            audit_rows = 0

            def check(conn: Connection, expected: Mapping[str, int]) -> None:
                nonlocal audit_rows
                report(CHECK_STAGE, 0, 3)
                differences = _count_differences(expected, transfer.count_rows(conn))
                report(CHECK_STAGE, 1, 3)
                with Session(bind=conn) as session:
                    chain = verify_chain_in(session)
                differences += [f"audit trail: {problem}" for problem in chain.problems]
                if chain.rows_checked != expected.get("audit_log"):
                    differences.append(
                        f"audit trail: {chain.rows_checked} rows checked on the server, "
                        f"{expected.get('audit_log')} in the file"
                    )
                report(CHECK_STAGE, 2, 3)
                on_server = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if on_server != revision:
                    differences.append(f"schema: {on_server} on the server, {revision} in the file")
                if differences:
                    raise MoveCheckError(differences)
                audit_rows = chain.rows_checked
                report(CHECK_STAGE, 3, 3)

            copied = transfer.copy_tables(source, target, progress=report, check=check)
        finally:
            target.close()
    finally:
        source.close()
    return MoveReport(
        tables=[TableMoved(name, rows) for name, rows in copied.items()],
        seconds=time.perf_counter() - started,
        audit_rows_checked=audit_rows,
        revision=revision,
        server=server.with_user(APP_ROLE),
    )


def _count_differences(in_file: Mapping[str, int], on_server: Mapping[str, int]) -> list[str]:
    return [
        f"{table}: {rows} rows in the file, {on_server.get(table, 0)} on the server"
        for table, rows in in_file.items()
        if on_server.get(table, 0) != rows
    ]


# --- from the window: Settings → Clinic details → Move to the clinic server ---------------------


@dataclass(frozen=True, repr=False)
class MoveRequest:
    """What the owner types to move the clinic from this PC to the server: the join code
    ``caredesk server setup`` printed, the PCs' password and the owner role's password."""

    join_code: str
    app_password: str
    owner_password: str

    def __repr__(self) -> str:  # passwords never reach a log or a traceback
        return "MoveRequest(hidden)"


def move_to_server_and_open(
    actor,
    path: Path,
    key: DatabaseKey | None,
    request: MoveRequest,
    *,
    progress: Progress | None = None,
):
    """Join this PC to the server (the clinic CA pinned, the PCs' password in the key store),
    move the clinic file there, and open the clinic on the server; (MoveReport, OpenClinic).
    Owners only.  The file must be closed first; it is left as it was."""
    from app.services.clinic import permissions
    from app.services.clinic.clinics import open_server_clinic
    from app.services.clinic.permissions import Permission
    from app.services.clinic.server_join import join_server

    permissions.require(actor, Permission.MANAGE_SETTINGS)
    for value, what in (
        (request.join_code, "the join code"),
        (request.app_password, "the password for CareDesk's PCs"),
        (request.owner_password, "the owner role's password"),
    ):
        if not value.strip():
            raise ValidationError(f"Type {what}: `caredesk server setup` printed it.")
    address = join_server(request.join_code, request.app_password)
    report = move_clinic_to_server(
        path, address, request.owner_password, key=key, progress=progress
    )
    return report, open_server_clinic(address, request.app_password)
