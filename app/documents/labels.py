"""The ``_`` of printed documents: gettext catalogs, in one place.

Document code writes English message ids in ``_("...")`` calls (``N_("...")`` where a
msgid is defined ahead of printing), so ``pybabel extract`` finds them (see
``babel.cfg``), and gets ``_`` from :func:`gettext_for`.  The Spanish lives in
``resources/locale/es/LC_MESSAGES/caredesk.po``; ``make catalogs`` brings new msgids
into it, and :func:`app.i18n.translator` compiles it when first needed.
``tests/documents/test_catalogs.py`` fails when a msgid is missing or untranslated,
so a document never prints half in English.
"""

from __future__ import annotations

from collections.abc import Callable

from app.i18n import translator

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a msgid for ``pybabel extract`` where it is defined; translated when printed."""
    return message


def gettext_for(locale: str) -> Translate:
    """The ``_`` for one document in ``locale`` (English for an untranslated language)."""
    return translator(locale).gettext


def document_language(locale: str) -> str:
    """ "es" for "es_US": the language a document is written in."""
    return locale.replace("-", "_").split("_")[0].lower()


def clinic_text(locale: str, english: str, spanish: str = "", *, in_sentence: bool = False) -> str:
    """The clinic's own words (a service's name, a plan's or phase's title) for a document in
    ``locale`` ("es_US" or "es"): the one place that picks them.

    A Spanish document prints the Spanish wording the clinic entered.  Without one it never
    mixes languages in a sentence: the English is set apart as a proper name («Porcelain
    crown»), and inside a sentence behind a neutral Spanish phrase ("el tratamiento
    «Porcelain crown»").  Other languages print the English."""
    english = " ".join(english.split())
    if document_language(locale) != "es":
        return english
    spanish = " ".join(spanish.split())
    if spanish:
        return spanish
    if not english:
        return ""
    return f"el tratamiento «{english}»" if in_sentence else f"«{english}»"
