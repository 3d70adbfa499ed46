"""What a write changed, collected by the unit of work, so open views refresh only that.

Each unit of work notes the tables its transaction wrote to; when it commits (never when
it rolls back) it adds their :class:`Changes` to the collector of the code running it:

    with collect_changes() as collected:
        value = book_appointment(db, actor, request)
    collected.changes  # Changes(appointments=True, audit=True, …)

The collector lives in a :class:`~contextvars.ContextVar`, so each thread (each worker of
the UI's background helper) collects only its own writes.  The UI broadcasts what was
collected; services never pick the flags by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.data.database import Database

#: session.info key: the set of table names the unit of work's transaction wrote to.
WRITTEN_TABLES_KEY = "caredesk_written_tables"
#: session.info key: the (table, column) pairs of COLUMN_FLAGS whose value it changed.
CHANGED_COLUMNS_KEY = "caredesk_changed_columns"
#: session.info key: the (table, id) of each row it wrote, for other PCs' live refresh.
WRITTEN_ROWS_KEY = "caredesk_written_rows"


@dataclass(frozen=True)
class Changes:
    """Which kinds of thing a write changed.  Each table maps to one flag (TABLE_FLAGS)."""

    clinic: bool = False
    staff: bool = False
    audit: bool = False
    providers: bool = False
    rooms: bool = False
    services: bool = False
    patients: bool = False
    appointments: bool = False
    notes: bool = False
    plans: bool = False
    payments: bool = False
    referrals: bool = False
    documents: bool = False
    messages: bool = False

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            **{f.name: getattr(self, f.name) or getattr(other, f.name) for f in fields(self)}
        )


#: The one place that says which views a table's rows show: every table of the schema is
#: here (a test fails when a new one is not).  Patients' satellites (tasks, the contact log,
#: insurance, search terms) refresh the patient views; payment plans are "plans", like the
#: Plans page that lists them.
TABLE_FLAGS: dict[str, str] = {
    "account_adjustments": "payments",
    "appointment_series": "appointments",
    "appointment_status_changes": "appointments",
    "appointments": "appointments",
    "audit_log": "audit",
    "backup_runs": "clinic",
    "backup_settings": "clinic",
    "charges": "payments",
    "clinic_settings": "clinic",
    "communication_entries": "patients",
    "consent_templates": "documents",
    "consent_versions": "documents",
    "consultation_notes": "notes",
    "contacts": "referrals",
    "day_closeouts": "payments",
    "installments": "plans",
    # The outbox: the messages, the replies that came back, and whose sender runs.
    "message_replies": "messages",
    "message_rules": "clinic",
    "message_templates": "clinic",
    "messages": "messages",
    "messaging_settings": "clinic",
    # An import: its batch and rows show on the import history (the clinic's settings).
    "import_batches": "clinic",
    "import_mappings": "clinic",
    "import_rows": "clinic",
    "insurance_policies": "patients",
    "insurance_verifications": "patients",
    # A month closed or reopened: what the account windows may change, and the month's report.
    "month_closes": "payments",
    "note_addenda": "notes",
    "patient_search_terms": "patients",
    "patients": "patients",
    "payment_allocations": "payments",
    "payment_plans": "plans",
    "payments": "payments",
    "preauthorizations": "patients",
    "provider_breaks": "providers",
    "providers": "providers",
    "referral_events": "referrals",
    "referral_records": "referrals",
    "referrals": "referrals",
    "rooms": "rooms",
    "sender_leases": "messages",
    "service_consents": "services",
    "services": "services",
    "staff": "staff",
    "stored_documents": "documents",
    "tasks": "patients",
    "treatment_items": "plans",
    "treatment_phases": "plans",
    "treatment_plans": "plans",
    "waitlist_entries": "appointments",
    "working_hours": "providers",
}


#: The clinic's settings row also holds other areas' settings: a change to one of these
#: columns tells the views that show it too (the appointment book's fees and opening hours,
#: the payment plans' highest APR).
COLUMN_FLAGS: dict[tuple[str, str], str] = {
    ("clinic_settings", "late_cancel_hours"): "appointments",
    ("clinic_settings", "charge_no_show_fee"): "appointments",
    ("clinic_settings", "no_show_fee"): "appointments",
    ("clinic_settings", "late_cancel_fee"): "appointments",
    ("clinic_settings", "opens_at_minute"): "appointments",
    ("clinic_settings", "closes_at_minute"): "appointments",
    ("clinic_settings", "max_apr_basis_points"): "plans",
}


def changes_of_kinds(kinds: Iterable[str]) -> Changes:
    """The Changes another PC announced by kind name (unknown kinds, from a newer CareDesk,
    are ignored)."""
    names = {f.name for f in fields(Changes)}
    return Changes(**dict.fromkeys(set(kinds) & names, True))


def changes_of_writes(tables: Iterable[str], columns: Iterable[tuple[str, str]] = ()) -> Changes:
    """The Changes that writing to ``tables`` (and changing ``columns``, as (table, column))
    caused.  A table not in TABLE_FLAGS is an error: its views would never hear of it."""
    flags = {TABLE_FLAGS[table] for table in tables}
    flags.update(COLUMN_FLAGS[column] for column in columns if column in COLUMN_FLAGS)
    return Changes(**dict.fromkeys(flags, True))


class ChangeCollector:
    """The changes committed, per database, while its ``collect_changes()`` block ran."""

    def __init__(self, outer: ChangeCollector | None) -> None:
        self._outer = outer
        self._committed: list[tuple[Database, Changes]] = []

    def add(self, db: Database, changes: Changes) -> None:
        for i, (seen, before) in enumerate(self._committed):
            if seen is db:
                self._committed[i] = (db, before | changes)
                break
        else:
            self._committed.append((db, changes))
        if self._outer is not None:  # an enclosing block saw this write happen too
            self._outer.add(db, changes)

    @property
    def committed(self) -> list[tuple[Database, Changes]]:
        """(database, what changed in it), one pair per database written to."""
        return list(self._committed)

    @property
    def changes(self) -> Changes:
        """Everything changed, whichever database it was in."""
        result = Changes()
        for _db, changes in self._committed:
            result = result | changes
        return result


_current: ContextVar[ChangeCollector | None] = ContextVar("caredesk_changes", default=None)


@contextmanager
def collect_changes() -> Iterator[ChangeCollector]:
    """Collect what the units of work committed inside the block (on this thread)."""
    collector = ChangeCollector(_current.get())
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)


def note_committed(db: Database, changes: Changes) -> None:
    """Called by the unit of work after its commit: tell the collector, if anyone collects."""
    collector = _current.get()
    if collector is not None and changes.any():
        collector.add(db, changes)


def note_written(session: Session, table: str) -> None:
    """Count a write to ``table`` made outside the ORM's flush (Core statements on the
    session's connection, like the audit trail's appends)."""
    written = session.info.get(WRITTEN_TABLES_KEY)
    if written is not None:
        written.add(table)
