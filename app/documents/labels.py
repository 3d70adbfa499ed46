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
