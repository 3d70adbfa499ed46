"""One spelling per clinic: the source is US English, the en_GB catalog spells it the
British way, and neither drifts.

- British spelling written in the source would show in a US clinic ("cheque", "colour");
- a US word the catalog does not know would show in a British clinic ("Check", "Color");
- a catalog entry the code no longer uses is dead weight.
Each fails here, naming the strings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.i18n import spelling, translator

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app"
BRITISH_PO = REPO / "resources" / "locale" / "en_GB" / "LC_MESSAGES" / "caredesk.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

#: British spellings of the words our screens and documents use.
BRITISH = re.compile(
    r"cheque|authoris|licence|colour|catalogue|cancell(?:ed|ing)|organis|behaviour|favour|utilis",
    re.IGNORECASE,
)
#: US words whose British spelling differs ("check" is left out: it is also a verb).
US_ONLY = re.compile(r"\bcolor|\bcatalog\b|authoriz|\blicense\b|\bcanceled\b|utiliz", re.IGNORECASE)
#: Strings that are code, not words: identifiers ("cheque", "licence_number"), module paths
#: ("app.ui.settings.catalog:RoomsTab"), style sheets ("color: #fff").
CODE = re.compile(r"[\w.:]+|.*\bcolor\s*:.*|.*\{\s*color\b.*", re.DOTALL)
#: Stored values, database schema and demo data: not words a screen spells.
NOT_SHOWN = ("data/", "demo/")
#: Where the windows and printed documents write their words: every US word there reaches
#: the clinic through i18n.spelling / i18n.translator.  (Services' error sentences are US
#: source; those that matter most — booking warnings, payment references, the to-do list —
#: go through i18n.spelling too and are in the catalog.)
SPELLED = ("ui/", "documents/")
#: Windows still spelled the British way while they are being reworked (issue 17 §5
#: report): each must move to US source plus the catalog, then leave this list.
KNOWN_LEFT: tuple[str, ...] = ()


def british_catalog():
    with BRITISH_PO.open("rb") as source:
        return read_po(source, locale="en_GB", domain="caredesk")


def source_strings() -> list[tuple[str, int, str]]:
    """Every string literal in app/ (f-string pieces included), docstrings left out."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        where = path.relative_to(APP).as_posix()
        if where.startswith(NOT_SHOWN):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                found.append((where, node.lineno, node.value))
    return found


def test_the_source_is_spelled_the_us_way():
    british = [
        f"{where}:{line}: {text!r}"
        for where, line, text in source_strings()
        if BRITISH.search(text) and not CODE.fullmatch(text) and where not in KNOWN_LEFT
    ]

    assert not british, "write US spelling; add the British to the en_GB catalog:\n" + "\n".join(
        british
    )


def test_every_us_word_has_its_british_spelling():
    """A string with a word spelled differently in en_GB is a whole msgid of the catalog, so
    the clinic's spelling reaches it (and is not split across an f-string)."""
    catalog = british_catalog()
    missing = [
        f"{where}:{line}: {text!r}"
        for where, line, text in source_strings()
        if where.startswith(SPELLED)
        and US_ONLY.search(text)
        and not CODE.fullmatch(text)
        and text not in catalog
    ]

    assert not missing, "add these to the en_GB catalog:\n" + "\n".join(missing)


def test_the_british_catalog_holds_only_strings_the_code_uses():
    in_code = {text for _where, _line, text in source_strings()}
    stale = [m.id for m in british_catalog() if m.id and m.id not in in_code]

    assert not stale


def test_every_british_entry_differs_and_keeps_its_placeholders_and_alt_key():
    entries = [m for m in british_catalog() if m.id]
    assert len(entries) > 20
    for message in entries:
        assert message.string and not message.fuzzy, message.id
        assert message.string != message.id, message.id
        assert PLACEHOLDER.findall(message.id) == PLACEHOLDER.findall(message.string), message.id
        key = re.search(r"&(\w)", message.id)
        assert (key and key.group(1).lower()) == (
            (found := re.search(r"&(\w)", message.string)) and found.group(1).lower()
        ), message.id
        assert not US_ONLY.search(message.string), message.id


@pytest.mark.parametrize(
    ("locale", "check", "preauth", "catalog", "canceled"),
    [
        ("en_US", "Check", "Pre-authorizations", "From the catalog", "Canceled"),
        ("en_CA", "Check", "Pre-authorizations", "From the catalog", "Canceled"),
        ("en_GB", "Cheque", "Pre-authorisations", "From the catalogue", "Cancelled"),
        ("en_AU", "Cheque", "Pre-authorisations", "From the catalogue", "Cancelled"),
        # The windows are in English for every clinic: a Spanish clinic reads the source.
        ("es_US", "Check", "Pre-authorizations", "From the catalog", "Canceled"),
    ],
)
def test_the_windows_words_follow_the_clinic_locale(locale, check, preauth, catalog, canceled):
    spell = spelling(locale)

    assert [spell("Check"), spell("Pre-authorizations"), spell("From the catalog")] == [
        check,
        preauth,
        catalog,
    ]
    assert spell("Canceled") == canceled


def test_printed_documents_spell_the_british_way_and_translate_the_spanish():
    assert translator("en_GB").gettext("Check") == "Cheque"
    assert translator("en_GB").gettext("License no. %(number)s") == "Licence no. %(number)s"
    assert translator("en_US").gettext("Check") == "Check"
    assert translator("es_ES").gettext("Check") == "Cheque"
    assert translator("es_ES").gettext("Canceled") == "Cancelada"
    # A British clinic's document still reads every other message as written.
    assert translator("en_GB").gettext("Patient") == "Patient"
