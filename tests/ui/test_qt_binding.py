"""The Qt binding itself: a release that corrupts the interpreter would crash CareDesk at random."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal()
    done = Signal(object)


def test_emitting_signals_keeps_references_to_true_and_none(qtbot) -> None:
    # PySide6 6.12.0 on CPython 3.11 dropped a reference to True (and None) on every emit;
    # after a day of clicks the interpreter aborted with "bool_dealloc".  pyproject.toml
    # keeps that release out; this guards the pin.
    emitter = _Emitter()
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(500):
        emitter.fired.emit()
        emitter.done.emit(None)
    assert sys.getrefcount(True) >= before_true - 10
    assert sys.getrefcount(None) >= before_none - 10
