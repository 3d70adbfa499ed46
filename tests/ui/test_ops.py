"""Background operations: what the worker thread may and may not hold."""

from __future__ import annotations

import gc
import threading

from app.services.errors import ValidationError
from app.ui import ops


class Holder:
    """Stands for a widget captured by an operation's function and callbacks."""

    released_on: list[int] = []

    def __del__(self) -> None:
        Holder.released_on.append(threading.get_ident())


def test_what_an_operation_captures_is_released_on_the_gui_thread(qtbot):
    """A widget destroyed on a worker thread crashes Qt: the worker never holds the last
    reference to anything the operation captured, even when the call fails."""
    Holder.released_on = []
    results = []
    for fails in (False, True):
        holder = Holder()

        def work(h=holder, fails=fails):
            if fails:
                raise ValidationError("No.")
            return 1

        ops.run_query(
            work,
            on_success=lambda value, h=holder: results.append(value),
            on_failure=lambda exc, h=holder: results.append(type(exc).__name__),
        )
        del holder, work
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)
    gc.collect()
    assert sorted(map(str, results)) == ["1", "ValidationError"]  # two readers: any order
    assert Holder.released_on == [threading.get_ident()] * 2
