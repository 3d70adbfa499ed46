"""Reading PDFs back the way a person would see them: text per page, fonts used."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader


def pdf_pages_text(pdf: bytes) -> list[str]:
    """Each page's text as pypdf extracts it, with runs of whitespace folded to one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


def pdf_font_names(pdf: bytes) -> set[str]:
    """The /BaseFont of every font any page uses, without the subset prefix (``AAAAAA+``)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts = page["/Resources"].get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]).lstrip("/").split("+")[-1])
    return names
