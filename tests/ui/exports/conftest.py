"""The exports' own thread is idle before a test's clinic closes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.ui.exports.worker import export_pending, wait_for_exports


@pytest.fixture(autouse=True)
def exports_done(qtbot, clinic) -> Iterator[None]:
    yield
    wait_for_exports()
    qtbot.waitUntil(lambda: export_pending() == 0, timeout=30_000)
