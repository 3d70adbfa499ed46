"""Import requests built from rows written as dictionaries (field → cell text), as the mapping
step hands them over: each row's line (the header is line 1) and its cells in column order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from app.data.models.imports import ImportKind
from app.services.imports.common import ImportRequest, MappedRow


def import_request(
    kind: ImportKind, rows: Sequence[dict[str, str]], *, source: str = "Open Dental", **options
) -> ImportRequest:
    headers: list[str] = []
    for row in rows:
        headers += [name for name in row if name not in headers]
    mapped = [
        MappedRow(
            line=index + 2,
            values={name: text for name, text in row.items()},
            cells=tuple(row.get(name, "") for name in headers),
        )
        for index, row in enumerate(rows)
    ]
    return ImportRequest(
        kind=kind,
        source=source,
        file_name=f"{kind}.csv",
        file_sha256="0" * 64,
        encoding="UTF-8",
        headers=tuple(headers),
        rows=mapped,
        **options,
    )


def row_counts(db, *tables) -> dict[str, int]:
    """How many rows each table holds (what a cancelled or undone import must leave as it was)."""
    with db.uow() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in tables}
