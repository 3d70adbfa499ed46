"""Statements compiled once per shape, run as plain SQL: for reads on every keystroke or view.

Building a SQLAlchemy statement and running it through the execution machinery costs
several times what a short index walk costs in SQLite (patient search per keystroke, the
calendar's week of ~700 visits).  A statement with a fixed *shape* (named bind parameters,
no expanding lists) is built and compiled once per shape and dialect; later calls only bind
values and run the SQL with ``exec_driver_sql`` (the same path as any SQL, engine events
included), applying the statement's own type conversions to the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection


@dataclass(frozen=True)
class CompiledStatement:
    """A statement compiled for one dialect: its SQL, and how to bind and read values."""

    sql: str
    names: tuple[str, ...] | None  # parameter order for positional DBAPIs, else None
    defaults: dict  # values bound when the statement was built (literals, kinds)
    binds: dict  # parameter name -> the type's bind processor (e.g. date -> text on SQLite)
    results: tuple  # per column: the type's result processor, or None

    @classmethod
    def of(cls, statement, dialect) -> CompiledStatement:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:  # pragma: no cover - a shape must be fixed
            raise ValueError("a compiled statement must not expand its parameters")
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        return cls(
            sql=compiled.string,
            names=tuple(compiled.positiontup) if compiled.positional else None,
            defaults=dict(compiled.params),
            binds={name: p for name, p in processors.items() if p is not None},
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ),
        )


_COMPILED: dict[tuple, CompiledStatement] = {}


def compiled_rows(conn: Connection, shape: tuple, build: Callable, **values) -> list[list]:
    """Rows of the statement ``build()`` makes, with ``values`` for its named bind parameters.

    ``shape`` names the statement: ``build`` runs once per shape and dialect, and later
    calls reuse its compiled SQL.
    """
    key = (conn.dialect.name, shape)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = CompiledStatement.of(build(), conn.dialect)
    params = {**compiled.defaults, **values}
    for name, process in compiled.binds.items():
        params[name] = process(params[name])
    if compiled.names is not None:
        params = tuple(params[name] for name in compiled.names)
    rows = [list(row) for row in conn.exec_driver_sql(compiled.sql, params).all()]
    for i, process in enumerate(compiled.results):
        if process is not None:
            for row in rows:
                row[i] = process(row[i])
    return rows
