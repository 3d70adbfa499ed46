"""No two commands on screen answer the same key: Qt would run neither ("ambiguous").

Nor do two buttons or field labels share an Alt key: Qt then only moves the focus
between them, so Alt+L would never press "Log a call" while "Last name" is on screen.
"""

from __future__ import annotations

import re
from collections import Counter

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QTabBar

from app.ui import ops
from app.ui.main_window import MainWindow
from app.ui.pages import PAGES


def _active_keys(window) -> Counter:
    """Shortcuts a key press could reach now: of visible, enabled widgets of the window."""
    keys: Counter = Counter()

    def live(widget) -> bool:
        return widget is not None and widget.isVisibleTo(window) and widget.isEnabled()

    for shortcut in window.findChildren(QShortcut):
        if shortcut.isEnabled() and live(shortcut.parent()) and not shortcut.key().isEmpty():
            keys[shortcut.key().toString()] += 1
    for action in window.findChildren(QAction):
        widgets = [w for w in action.associatedObjects() if hasattr(w, "isVisibleTo")]
        if action.isEnabled() and any(live(w) or w is window for w in widgets):
            for key in action.shortcuts():
                keys[key.toString()] += 1
    for button in window.findChildren(QAbstractButton):
        if live(button) and not button.shortcut().isEmpty():
            key = button.shortcut().toString()
            if key.startswith(("Alt+", "&")):
                continue  # mnemonics: Qt cycles through them, it never calls them ambiguous
            keys[key] += 1
    return keys


def _alt_key(text: str) -> str | None:
    """The Alt+letter of a label ("Pr&int" → "i"; "&&" is a literal ampersand)."""
    found = re.search(r"&([^&\s])", (text or "").replace("&&", ""))
    return found.group(1).lower() if found else None


def _alt_keys_shared(window) -> dict[str, list[str]]:
    """Alt keys two or more visible buttons, labels, group boxes or tabs carry (a button
    greyed out now is counted: it is enabled the moment a row is selected)."""
    labels: dict[str, list[str]] = {}

    def add(text: str) -> None:
        key = _alt_key(text)
        if key:
            labels.setdefault(key, []).append(text)

    for widget in window.findChildren(QAbstractButton) + window.findChildren(QLabel):
        if widget.isVisibleTo(window):
            add(widget.text())
    for box in window.findChildren(QGroupBox):
        if box.isVisibleTo(window):
            add(box.title())
    for bar in window.findChildren(QTabBar):
        if bar.isVisibleTo(window):
            for index in range(bar.count()):
                add(bar.tabText(index))
    return {key: texts for key, texts in labels.items() if len(texts) > 1}


def test_every_page_of_the_main_window_has_unambiguous_shortcuts(qtbot, owner_ctx):
    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.start()
    clashes = {}
    for spec in PAGES:
        page = window.show_page(spec.key)
        ops.wait_for_done()
        qtbot.waitUntil(lambda: ops.pending() == 0)
        tabs = getattr(page, "tabs", None)
        for index in range(tabs.count() if tabs is not None else 1):
            if tabs is not None:
                tabs.setCurrentIndex(index)
            taken = {key: n for key, n in _active_keys(window).items() if n > 1}
            shared = _alt_keys_shared(window)
            if taken or shared:
                where = spec.key + (f" tab {index + 1}" if tabs is not None else "")
                clashes[where] = (taken, shared)
    assert clashes == {}
    assert QKeySequence("Ctrl+L").toString() in _active_keys(window)  # the lock still answers


def test_every_tab_of_a_patient_record_has_unambiguous_shortcuts(qtbot, owner_ctx):
    from app.ui.patients.record_window import PatientRecordWindow
    from tests.data.factories import add_named_patient

    record = PatientRecordWindow(owner_ctx, add_named_patient(owner_ctx.db))
    qtbot.addWidget(record)
    record.resize(1180, 780)
    record.show()
    clashes = {}
    for spec in record.specs:
        record.tab_widget.setCurrentIndex(record.tab_index(spec.key))
        ops.wait_for_done()
        qtbot.waitUntil(lambda: ops.pending() == 0)
        taken = {key: n for key, n in _active_keys(record).items() if n > 1}
        shared = _alt_keys_shared(record)
        if taken or shared:
            clashes[spec.key] = (taken, shared)
    assert clashes == {}
