"""The data every printed document shares: letterhead, patient banner, locale."""

from __future__ import annotations

import pytest

from app.services.clinic.printing import document_locale


@pytest.mark.parametrize(
    ("clinic_locale", "language", "expected"),
    [
        ("en_US", "en", "en_US"),
        ("en_US", "es", "es_US"),  # Spanish words, the clinic's dollars
        ("es_ES", "es", "es_ES"),
        ("es_ES", "en", "en_ES"),
        ("es_MX", "en", "en_US"),  # Babel has no en_MX: the usual English
        ("en_US", "fr", "en_US"),  # not a language CareDesk prints in
        ("en_US", None, "en_US"),
        ("en_GB", "es-MX", "es_US"),  # no es_GB: the usual Spanish (region code ignored)
    ],
)
def test_document_locale(clinic_locale, language, expected):
    assert document_locale(clinic_locale, language) == expected
