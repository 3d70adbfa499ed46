"""No widget flashes up as a window of its own while a page, tab or dialog is built.

``setVisible(True)`` on a widget that has no parent yet shows it as a top-level
window for a moment: on a real desktop it flickers and steals focus from the
window the user is typing in (the screen lock then cannot give focus back).
Widgets must be shown or hidden only once they sit in their layout.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QLineEdit

from app.ui import ops
from app.ui.main_window import MainWindow
from app.ui.patients.record_window import PatientRecordWindow
from app.ui.patients.windows import open_record_windows

# QCheckBox and QRadioButton are QAbstractButtons.
_LEAF_WIDGETS = (QLabel, QAbstractButton, QLineEdit, QComboBox)


class _StrayWindowWatch(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.strays: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(watched, _LEAF_WIDGETS)
            and watched.isWindow()
            and watched.windowType() == Qt.WindowType.Window
        ):
            text = watched.text() if hasattr(watched, "text") else ""
            self.strays.append(f"{type(watched).__name__} {watched.objectName()!r} {text!r}")
        return False


@pytest.fixture
def strays(qapp) -> Iterator[list[str]]:
    watch = _StrayWindowWatch()
    qapp.installEventFilter(watch)
    yield watch.strays
    qapp.removeEventFilter(watch)


@pytest.fixture(autouse=True)
def close_record_windows(qtbot) -> Iterator[None]:
    yield
    for window in open_record_windows():
        window._may_close = True
        window.close()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


@pytest.mark.parametrize("role_ctx", ["owner_ctx", "receptionist_ctx", "provider_ctx"])
def test_every_page_builds_without_stray_windows(qtbot, request, role_ctx, strays) -> None:
    ctx = request.getfixturevalue(role_ctx)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.start()
    for spec in window.allowed_pages():
        window.show_page(spec.key)
        qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert strays == []
    assert QApplication.activeWindow() in (window, None)


@pytest.mark.parametrize("role_ctx", ["owner_ctx", "receptionist_ctx", "provider_ctx"])
def test_every_record_tab_builds_without_stray_windows(
    qtbot, request, role_ctx, patient_id, strays
) -> None:
    ctx = request.getfixturevalue(role_ctx)
    record = PatientRecordWindow(ctx, patient_id)
    qtbot.addWidget(record)
    record.show()
    for spec in record.specs:
        record.tab_widget.setCurrentIndex(record.tab_index(spec.key))
        qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert strays == []


def test_the_watch_catches_a_widget_shown_before_it_has_a_parent(strays) -> None:
    label = QLabel("flash")
    label.setVisible(True)  # the mistake this file guards against
    label.hide()
    label.deleteLater()
    assert strays == ["QLabel '' 'flash'"]
