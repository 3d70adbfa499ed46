"""Imports from a clinic's previous system: each file imported (a batch), every row it
created or changed, and the column mapping remembered for each source.

An import is one transaction; its batch row and its ``import_rows`` say which patients,
appointments, adjustments and contacts came from which file, so the whole import can be
undone the same day, and so an imported row can always be traced to its source.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class ImportKind(StrEnum):
    PATIENTS = "patients"
    APPOINTMENTS = "appointments"
    BALANCES = "balances"
    CONTACTS = "contacts"


class ImportedRowAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


class ImportBatch(Base):
    """One file imported: what it held, from which system, who imported it and what it did."""

    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in ImportKind]), name="kind_known"),
        Index("ix_import_batches_imported_at", "imported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: The system the file came from, as the mapping names it ("Open Dental", "Dentrix",
    #: "Jane", "Generic CSV" or a name the clinic gave its own mapping).
    source: Mapped[str] = mapped_column(String(60))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    #: How the file was read ("UTF-8", "Windows-1252", "XLSX" …).
    encoding: Mapped[str] = mapped_column(String(40), default="")
    imported_at: Mapped[datetime]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))


class ImportedRow(Base):
    """A row an import created or changed; ``before`` holds the changed columns' previous
    values (JSON) so an undo can put them back."""

    __tablename__ = "import_rows"
    __table_args__ = (
        CheckConstraint(
            check_in("action", [a.value for a in ImportedRowAction]), name="action_known"
        ),
        Index("ix_import_rows_batch_id", "batch_id"),
        Index("ix_import_rows_table_row", "table_name", "row_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(40))
    row_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(10))
    #: The line of the file the row came from.
    line: Mapped[int] = mapped_column(default=0)
    before: Mapped[str] = mapped_column(Text, default="")


class ImportMapping(TimestampMixin, VersionedMixin, Base):
    """The column mapping and reading options last used for one source and kind of file,
    offered again the next time a file from that source is imported."""

    __tablename__ = "import_mappings"
    __table_args__ = (
        UniqueConstraint("source", "kind"),
        CheckConstraint(check_in("kind", [k.value for k in ImportKind]), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    #: JSON: {"file's header": "field"} for each column that is read.
    columns: Mapped[str] = mapped_column(Text, default="{}")
    #: JSON: the reading options (date order, delimiter, encoding …).
    options: Mapped[str] = mapped_column(Text, default="{}")
