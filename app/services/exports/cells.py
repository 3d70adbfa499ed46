"""Spreadsheet cells that cannot run: the one rule every CSV and XLSX CareDesk writes follows.

A spreadsheet program opening a CSV file reads a cell that begins with ``=``, ``+``, ``-``
or ``@`` (or a tab or carriage return before one of them) as a formula, so a patient named
``=HYPERLINK("http://evil","x")`` would become a live link — or worse — on the accountant's
PC ("CSV injection", OWASP).  Text that begins so gets an apostrophe in front of it, which
every spreadsheet shows as text.

Only *text* is escaped: a number written as a number stays a number (a refund of
``-12.50`` in a money column is not text).  Text that merely looks numeric is still text:
``-5 mg`` in a note is escaped (``'-5 mg``), because a spreadsheet would take it as the
start of a formula too.  Text that already begins with an apostrophe gets a second one, so
the rule can always be undone exactly — drop one leading apostrophe from a cell that has
one (:func:`unescape_cell`) and the stored text is back.

In an XLSX workbook a cell has a type, so nothing needs changing in the text itself:
:func:`keep_text` makes sure every such text is a text cell, never the formula openpyxl
makes of any string beginning with ``=``, and marks it "quote prefix" (what typing an
apostrophe before it in Excel does) so it stays text when someone edits the cell.
"""

from __future__ import annotations

from collections.abc import Iterable

#: What a spreadsheet may take as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Put before such text; text beginning with it gets another, so the rule can be undone.
ESCAPE = "'"
_ESCAPED_STARTS = (*FORMULA_STARTS, ESCAPE)


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula."""
    return text.startswith(FORMULA_STARTS)


def safe_cell(value: object) -> object:
    """``value`` for a CSV cell: text that a spreadsheet could run (or that begins with the
    escaping apostrophe) with an apostrophe before it; anything that is not text as it is."""
    if isinstance(value, str) and value.startswith(_ESCAPED_STARTS):
        return ESCAPE + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    """Every cell of a CSV row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]


def unescape_cell(text: str) -> str:
    """The text a CSV cell written through :func:`safe_cell` stood for (one leading
    apostrophe dropped) — what a program reading CareDesk's CSV files does."""
    return text[1:] if text.startswith(ESCAPE) else text


def keep_text(workbook) -> int:
    """Every text cell of an openpyxl ``workbook`` that a spreadsheet could run made a plain
    text cell with Excel's quote prefix (openpyxl stores any string beginning with ``=`` as a
    formula); how many cells that was.  Call it once the workbook is filled, before saving:
    a workbook CareDesk writes never holds a formula."""
    kept = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and (cell.data_type == "f" or is_formula_like(value)):
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    kept += 1
    return kept
