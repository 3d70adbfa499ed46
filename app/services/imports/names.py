"""Appointments' providers, rooms and services as the previous system names them, matched to
this clinic's: a name written the same way (whatever its case and spacing, with or without
the provider's title) is the same one; any other needs the user's choice.

The import wizard's Names page and ``caredesk import appointments --names`` both start from
:func:`match_names`; rows whose name stays unmatched are rejected with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.data.database import Database
from app.services.clinic.actor import Actor
from app.services.clinic.catalog import load_catalog
from app.services.errors import ValidationError
from app.services.imports.common import MappedRow

#: The appointment fields whose text names something of the clinic's, in the order asked.
NAMED_FIELDS: tuple[str, ...] = ("provider", "room", "service")
_WHAT = {"provider": "provider", "room": "room", "service": "service"}


@dataclass(frozen=True)
class Choice:
    """Something of this clinic's a file's name may be matched to."""

    id: int
    label: str
    is_active: bool


@dataclass(frozen=True)
class NameMatches:
    """Per named field: every name the file uses (in order of first use) → the id matched
    (None: not matched yet), and what this clinic has to choose from."""

    names: Mapping[str, Mapping[str, int | None]]
    choices: Mapping[str, tuple[Choice, ...]]

    def unmatched(self) -> dict[str, list[str]]:
        return {
            what: [name for name, chosen in names.items() if chosen is None]
            for what, names in self.names.items()
            if any(chosen is None for chosen in names.values())
        }


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def names_in(rows: Iterable[MappedRow], what: str) -> list[str]:
    """The distinct names a file uses in one field, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in rows:
        name = row.values.get(what, "").strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _choices(db: Database, actor: Actor) -> dict[str, tuple[Choice, ...]]:
    catalog = load_catalog(db, actor)
    return {
        "provider": tuple(
            Choice(p.id, f"{p.title} {p.name}".strip(), p.is_active)
            for p in catalog.providers
            if p.id is not None
        ),
        "room": tuple(Choice(r.id, r.name, r.is_active) for r in catalog.rooms if r.id),
        "service": tuple(Choice(s.id, s.name, s.is_active) for s in catalog.services if s.id),
    }


def _lookup(choices: Sequence[Choice], what: str) -> dict[str, int]:
    """Each way a choice may be written → its id; active ones win over inactive namesakes."""
    found: dict[str, int] = {}
    for choice in sorted(choices, key=lambda c: not c.is_active):
        keys = {_key(choice.label)}
        if what == "provider":  # "Dr. Hana Sato" is also written "Hana Sato"
            keys.add(_key(choice.label.split(" ", 1)[-1]))
        for key in keys:
            found.setdefault(key, choice.id)
    return found


def match_names(db: Database, actor: Actor, rows: Sequence[MappedRow]) -> NameMatches:
    """Every provider, room and service name in ``rows``, matched where it is written as
    this clinic writes it."""
    choices = _choices(db, actor)
    names: dict[str, dict[str, int | None]] = {}
    for what in NAMED_FIELDS:
        lookup = _lookup(choices[what], what)
        used = names_in(rows, what)
        if used:
            names[what] = {name: lookup.get(_key(name)) for name in used}
    return NameMatches(names, choices)


def with_choices(matches: NameMatches, chosen: Mapping[str, Mapping[str, str]]) -> NameMatches:
    """``matches`` with the user's choices applied: per field, a file's name → this clinic's
    name for it (as listed: "Dr. Hana Sato", "Room 2").  ValidationError naming a field, a
    name the file does not use, or a name this clinic does not have."""
    names = {what: dict(found) for what, found in matches.names.items()}
    for what, pairs in chosen.items():
        if what not in NAMED_FIELDS:
            known = ", ".join(NAMED_FIELDS)
            raise ValidationError(f"“{what}” is not one of {known}.", field="names")
        if not isinstance(pairs, Mapping):
            raise ValidationError(
                f"The {_WHAT[what]} names must be pairs: the file's name and this clinic's.",
                field="names",
            )
        lookup = _lookup(matches.choices[what], what)
        for theirs, ours in pairs.items():
            if theirs not in names.get(what, {}):
                raise ValidationError(f"The file names no {_WHAT[what]} “{theirs}”.", field="names")
            chosen_id = lookup.get(_key(str(ours)))
            if chosen_id is None:
                raise ValidationError(f"This clinic has no {_WHAT[what]} “{ours}”.", field="names")
            names[what][theirs] = chosen_id
    return NameMatches(names, matches.choices)


def choices_from_json(data: bytes | str) -> dict[str, dict[str, str]]:
    """The ``--names`` file: {"provider": {"their name": "our name"}, "room": …}."""
    try:
        loaded = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationError(f"The names file is not JSON ({error}).", field="names") from None
    if not isinstance(loaded, dict):
        raise ValidationError(
            'The names file must be one object: {"provider": {"their name": "our name"}}.',
            field="names",
        )
    return loaded
