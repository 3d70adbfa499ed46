"""The gettext catalogs: every printed string is extracted, and every one has its Spanish.

A msgid that ``pybabel extract`` finds but the Spanish catalog lacks would print in
English on a Spanish document; one the catalog has but the code no longer uses is
dead weight for the translator.  Both fail here, naming the strings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.util import pathmatch

from app.documents.labels import gettext_for
from app.i18n import translator

REPO = Path(__file__).resolve().parents[2]
BABEL_CFG = REPO / "babel.cfg"
SPANISH_PO = REPO / "resources" / "locale" / "es" / "LC_MESSAGES" / "caredesk.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> dict[str, str]:
    """msgid → the file it is in, as ``pybabel extract -F babel.cfg -k N_ app`` finds them."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "N_": None}
    found = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(REPO / "app"), method_map, options_map, keywords=keywords
    ):
        found.setdefault(message if isinstance(message, str) else message[0], filename)
    return found


def spanish_catalog():
    with SPANISH_PO.open("rb") as source:
        return read_po(source, locale="es", domain="caredesk")


def test_every_printed_string_is_in_the_spanish_catalog():
    catalog = spanish_catalog()
    missing = {msgid: where for msgid, where in extracted().items() if msgid not in catalog}

    assert not missing, f"run `make catalogs` and translate: {missing}"


def test_the_catalog_holds_no_string_the_code_no_longer_prints():
    in_code = extracted()
    stale = [m.id for m in spanish_catalog() if m.id and m.id not in in_code]

    assert not stale, f"run `make catalogs` to drop: {stale}"


def test_every_spanish_message_is_translated_and_not_fuzzy():
    untranslated = [m.id for m in spanish_catalog() if m.id and (not m.string or m.fuzzy)]

    assert not untranslated


def test_placeholders_survive_translation():
    for message in spanish_catalog():
        if message.id:
            assert set(PLACEHOLDER.findall(message.id)) == set(
                PLACEHOLDER.findall(message.string)
            ), message.id
    assert not [problem for problem in spanish_catalog().check()]


def _mnemonic(label: str) -> str | None:
    """The Alt+letter of a button label ("Im&primir…" → "p"; "&&" is a literal ampersand)."""
    found = re.search(r"(?<!&)&([^&\s])", label.replace("&&", ""))
    return found.group(1).lower() if found else None


def test_no_two_buttons_of_one_window_share_an_alt_key_in_either_language():
    by_window: dict[str, list[tuple[str, str]]] = {}
    for message in spanish_catalog():
        if message.id and "&" in message.id:
            for where, _line in message.locations:
                by_window.setdefault(where, []).append((message.id, message.string))
    assert by_window, "the print preview's buttons carry Alt keys"
    for where, labels in by_window.items():
        for language, column in (("en", 0), ("es", 1)):
            keys = [_mnemonic(pair[column]) for pair in labels]
            assert None not in keys, (where, language, labels)
            assert len(set(keys)) == len(keys), (where, language, [p[column] for p in labels])


def test_the_extraction_finds_the_documents_strings():
    found = extracted()

    assert len(found) > 250
    assert found["Page %(page)s of %(pages)s"].endswith("common.py")
    assert found["Weekly"].endswith("agreement.py")  # marked with N_ ahead of printing


def test_every_module_that_translates_is_extracted():
    """A module calling ``gettext_for`` outside babel.cfg's paths would print English."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, _options = parse_mapping_cfg(cfg)
    translating = [
        path.relative_to(REPO / "app").as_posix()
        for path in (REPO / "app").rglob("*.py")
        if "gettext_for(" in path.read_text(encoding="utf-8")
        # labels.py defines gettext_for; the self-test only reads a translation back.
        and path.name not in {"labels.py", "i18n.py", "selftest.py"}
    ]
    assert translating
    outside = [
        name for name in translating if not any(pathmatch(pat, name) for pat, _ in method_map)
    ]

    assert not outside, f"add these to babel.cfg: {outside}"


def in_scope_modules() -> list[Path]:
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, _options = parse_mapping_cfg(cfg)
    return [
        path
        for path in sorted((REPO / "app").rglob("*.py"))
        if any(
            pathmatch(pattern, path.relative_to(REPO / "app").as_posix())
            for pattern, _ in method_map
        )
    ]


def test_no_translated_string_hides_inside_an_f_string():
    """``pybabel extract`` cannot see ``_("...")`` inside an f-string: it would print English."""
    hidden = []
    for path in in_scope_modules():
        with path.open("rb") as source:
            for token in tokenize.tokenize(source.readline):
                prefix = re.match(r"[A-Za-z]*", token.string).group(0).lower()
                is_f_string = token.type == tokenize.STRING and "f" in prefix
                if is_f_string and re.search(r"\bN?_\(", token.string):
                    hidden.append(f"{path.name}:{token.start[0]}")

    assert len(in_scope_modules()) > 10
    assert not hidden, f"move these _() calls out of the f-string: {hidden}"


@pytest.mark.slow
def test_the_pybabel_command_line_agrees(tmp_path):
    """The tools `make catalogs` runs: extract finds the catalog's msgids; compile builds it."""
    pybabel = [sys.executable, "-m", "babel.messages.frontend", "-q"]
    pot = tmp_path / "caredesk.pot"
    subprocess.run(
        [*pybabel, "extract", "-F", str(BABEL_CFG), "-k", "N_", "-o", str(pot), "app"],
        cwd=REPO,
        check=True,
    )
    with pot.open("rb") as source:
        template = read_po(source)
    locale = tmp_path / "locale"
    shutil.copytree(SPANISH_PO.parents[2], locale)
    subprocess.run([*pybabel, "compile", "-d", str(locale), "-D", "caredesk"], check=True)
    with (locale / "es" / "LC_MESSAGES" / "caredesk.mo").open("rb") as mo:
        compiled = read_mo(mo)

    assert {m.id for m in template} == {m.id for m in spanish_catalog()}
    assert compiled["Patient"].string == "Paciente"
    assert len(compiled) == len(spanish_catalog())


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("es_ES", "Paciente"), ("es_MX", "Paciente"), ("en_US", "Patient"), ("fr_FR", "Patient")],
)
def test_gettext_for_picks_the_language(locale, expected):
    assert gettext_for(locale)("Patient") == expected


def test_the_catalog_is_compiled_from_the_po_file():
    spanish = translator("es_ES")

    assert spanish.gettext("Page %(page)s of %(pages)s") == "Página %(page)s de %(pages)s"
    assert spanish.info()["language"] == "es"
