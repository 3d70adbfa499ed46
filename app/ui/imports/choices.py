"""What the import wizard's steps hand each other: the pages' numbers, the kinds of file, and
what the user chose so far (from which the import request is made)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.imports.common import ImportRequest
    from app.services.imports.mappings import ColumnMapping
    from app.services.imports.sources import SourceFile

FILE, COLUMNS, NAMES, CHECK, IMPORT = range(5)

#: What a file may hold, as the first step offers it.
KIND_LABELS: dict[str, str] = {
    "patients": "Patients",
    "appointments": "Appointments",
    "balances": "Opening balances",
    "contacts": "Contacts (payers, specialists, labs …)",
}


@dataclass
class ImportChoices:
    """What the user chose so far (the wizard's pages fill it in, step by step)."""

    #: What the file holds: "patients", "appointments", "balances" or "contacts".
    kind: str = "patients"
    source: str = ""
    file: SourceFile | None = None
    mapping: ColumnMapping | None = None
    remember: bool = True
    #: Appointments: per field ("provider", "room", "service"), each name → this clinic's id
    #: (None: the rows naming it are refused).
    names: dict[str, dict[str, int | None]] = field(default_factory=dict)
    double_book: bool = False
    #: Opening balances: the day they are dated when a row gives none.
    as_of: date | None = None

    def request(self) -> ImportRequest:
        """The import request of these choices (on a worker: it maps every row)."""
        from app.services.imports.common import ImportRequest
        from app.services.imports.mappings import mapped_rows

        assert self.file is not None and self.mapping is not None
        names = self.names
        return ImportRequest(
            kind=self.kind,  # type: ignore[arg-type]  # the kind's value: a StrEnum equals it
            source=self.source,
            file_name=self.file.name,
            file_sha256=self.file.sha256,
            encoding=self.file.encoding,
            headers=self.file.headers,
            rows=mapped_rows(self.file, self.mapping),
            date_order=self.mapping.date_order,
            providers=dict(names.get("provider", {})),
            rooms=dict(names.get("room", {})),
            services=dict(names.get("service", {})),
            double_book=self.double_book,
            as_of=self.as_of,
        )
