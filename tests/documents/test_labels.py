"""Every word a document prints has its Spanish: a missing one would print in English."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

import app.documents
from app.documents.labels import SPANISH, gettext_for

DOCUMENT_MODULES = sorted(
    path
    for path in Path(app.documents.__file__).parent.glob("*.py")
    if path.name not in {"__init__.py", "labels.py"}
)


def extracted_messages(path: Path) -> list[str]:
    """The msgids ``pybabel extract`` would find in a module."""
    found = []
    for _lineno, message, _comments, _context in extract_from_file("python", str(path)):
        found.append(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("module", DOCUMENT_MODULES, ids=lambda p: p.name)
def test_every_document_string_has_a_spanish_translation(module):
    missing = [m for m in extracted_messages(module) if m not in SPANISH]

    assert not missing, f"untranslated in {module.name}: {missing}"


def test_the_modules_really_have_strings_to_check():
    assert len(extracted_messages(Path(app.documents.__file__).parent / "recovery_kit.py")) > 20


def test_placeholders_survive_translation():
    for msgid, spanish in SPANISH.items():
        for name in ("%(page)s", "%(pages)s", "%(when)s", "%(clinic)s"):
            assert (name in msgid) == (name in spanish), (msgid, spanish)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("es_ES", "Paciente"), ("es_MX", "Paciente"), ("en_US", "Patient"), ("fr_FR", "Patient")],
)
def test_gettext_for_picks_the_language(locale, expected):
    assert gettext_for(locale)("Patient") == expected
