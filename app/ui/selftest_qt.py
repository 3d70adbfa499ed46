"""The Qt half of ``caredesk --self-test`` (Qt lives only under app/ui).

Loads the platform plugin named by ``QT_QPA_PLATFORM`` (offscreen in CI), draws the
application's SVG icon (the QtSvg library and the image-format plugin) and opens PDFs
in QtPdf, the print preview's engine, reading their text back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QLibraryInfo
from PySide6.QtGui import QIcon
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import QApplication

from app import paths


class QtCheckError(Exception):
    pass


def available_platforms() -> list[str]:
    """Platform plugins Qt can load here (``offscreen``, ``xcb``, ``windows``, ``cocoa`` …)."""
    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    names = []
    for plugin in folder.glob("*"):
        stem = plugin.name.split(".")[0]
        if plugin.suffix in (".so", ".dll", ".dylib"):
            names.append(stem.removeprefix("lib").removeprefix("q"))
    return sorted(names)


def _ensure_application(platform: str) -> QApplication:
    app = QApplication.instance()
    if app is None:
        # Qt aborts the whole process on a missing platform plugin: check it first.
        known = available_platforms()
        if platform and platform not in known:
            raise QtCheckError(
                f"no Qt platform plugin '{platform}' in this installation "
                f"(found: {', '.join(known) or 'none'})"
            )
        app = QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    return app


def _pdf_text(data: bytes) -> tuple[int, str]:
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    document.load(buffer)
    try:
        if document.status() != QPdfDocument.Status.Ready or document.pageCount() < 1:
            raise QtCheckError(f"QtPdf cannot open the PDF ({document.error().name})")
        text = "\n".join(document.getAllText(page).text() for page in range(document.pageCount()))
        return document.pageCount(), text
    finally:
        document.close()
        buffer.close()


def _check_charts() -> None:
    """The Reports page's trend chart draws (QtCharts is bundled and loads)."""
    from app.ui.reports.charts import Series, TrendChart

    chart = TrendChart("Self-test")
    chart.resize(320, 200)
    chart.show_series(["J", "F"], [Series("Visits", (1, 2))])
    if chart.stack.currentWidget() is not chart.view or chart.grab().isNull():
        raise QtCheckError("the trend chart cannot be drawn (QtCharts)")
    chart.deleteLater()


def check_qt(pdfs: Mapping[str, bytes], expected_text: Mapping[str, str]) -> str:
    """Run the checks; returns the platform's name, raises QtCheckError naming what failed."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    app = _ensure_application(platform)
    icon = QIcon(str(paths.resource("icons", "caredesk.svg")))
    if icon.pixmap(64, 64).isNull():
        raise QtCheckError("the SVG application icon cannot be drawn (QtSvg or its plugin)")
    _check_charts()
    for language, data in pdfs.items():
        _pages, text = _pdf_text(data)
        wanted = expected_text.get(language)
        if wanted and wanted not in " ".join(text.split()):
            raise QtCheckError(f"the {language} PDF does not read back “{wanted}”")
    return app.platformName()
