"""Background operations: what the worker thread may and may not hold; what they announce."""

from __future__ import annotations

import gc
import threading

import pytest
import shiboken6
from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QWidget

from app.services.changes import Changes
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


# --- the changes an operation committed -------------------------------------------------------


def _add_rita(ctx):
    from app.data.models.staff import Role
    from app.services.clinic import staff
    from tests.ui.conftest import STAFF_PASSWORD

    db, actor = ctx.db, ctx.actor
    return lambda: staff.create_staff(
        db, actor, "rita", "Rita Reception", Role.RECEPTIONIST, STAFF_PASSWORD
    )


def test_a_write_announces_what_it_committed_on_the_gui_thread_after_its_callback(qtbot, owner_ctx):
    steps: list[str] = []
    heard: list[tuple[Changes, int]] = []

    def on_changed(changes: Changes) -> None:
        steps.append("announced")
        heard.append((changes, threading.get_ident()))

    owner_ctx.bus.changed.connect(on_changed)
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        ops.run_write(_add_rita(owner_ctx), on_success=lambda _row: steps.append("callback"))
    assert steps == ["callback", "announced"]
    assert heard == [(Changes(staff=True, audit=True), threading.get_ident())]


def test_what_was_committed_is_announced_though_the_asking_window_is_gone(qtbot, owner_ctx):
    heard: list[Changes] = []
    owner_ctx.bus.changed.connect(heard.append)
    window = QWidget()
    called: list[object] = []
    ops.run_write(_add_rita(owner_ctx), on_success=called.append, owner=window)
    shiboken6.delete(window)  # closed before the write came back
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert called == [] and heard == [Changes(staff=True, audit=True)]


def test_a_function_that_fails_after_a_commit_still_announces_it(qtbot, owner_ctx, clinic):
    from app.services.patients import records as patients
    from tests.data.factories import add_named_patient

    patient_id = add_named_patient(clinic.db)
    db, actor = owner_ctx.db, owner_ctx.actor

    def open_then_fail():
        patients.open_patient(db, actor, patient_id)  # commits its audit row
        raise ValidationError("No.")

    heard: list[Changes] = []
    failures: list[BaseException] = []
    owner_ctx.bus.changed.connect(heard.append)
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        ops.run_query(open_then_fail, on_failure=failures.append)
    assert [type(f) for f in failures] == [ValidationError]
    assert heard == [Changes(audit=True)]


def test_nothing_committed_announces_nothing(qtbot, owner_ctx):
    heard: list[Changes] = []
    owner_ctx.bus.changed.connect(heard.append)
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        ops.run_write(lambda: 1, on_success=lambda _v: None)
    assert heard == []


def test_another_clinics_session_does_not_hear_the_write(qtbot, owner_ctx, tmp_path):
    from app.services.clinic.clinics import create_clinic
    from app.ui.context import UiContext
    from tests.ui.conftest import DETAILS, OWNER_PASSWORD

    other = create_clinic(tmp_path / "other.caredesk", DETAILS, "olivia", "Olivia", OWNER_PASSWORD)
    try:
        from app.services.clinic import auth

        other_ctx = UiContext(
            other, auth.login(other.db, "olivia", OWNER_PASSWORD), owner_ctx.details
        )
        ours: list[Changes] = []
        theirs: list[Changes] = []
        owner_ctx.bus.changed.connect(ours.append)
        other_ctx.bus.changed.connect(theirs.append)
        with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
            ops.run_write(_add_rita(owner_ctx))
        assert ours == [Changes(staff=True, audit=True)] and theirs == []
    finally:
        ops.wait_for_done()
        other.db.close()


def test_a_callback_waiting_on_the_user_sees_the_views_refreshed_meanwhile(qtbot, owner_ctx):
    """A question asked after a write (what next after a cancellation?) sits in front of
    views that already show the change."""
    heard: list[Changes] = []
    owner_ctx.bus.changed.connect(heard.append)
    seen_while_asking: list[list[Changes]] = []

    def ask_the_user(_row) -> None:
        loop = QEventLoop()  # what a modal dialog's exec() runs
        QTimer.singleShot(50, loop.quit)
        loop.exec()
        seen_while_asking.append(list(heard))

    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        ops.run_write(_add_rita(owner_ctx), on_success=ask_the_user)
    assert seen_while_asking == [[Changes(staff=True, audit=True)]]
    assert heard == [Changes(staff=True, audit=True)]  # once, not again after the callback


@pytest.fixture
def delivered_event():
    """``delivered_event(value)``: an event set on the worker thread the moment an operation
    hands back ``value`` (before the GUI thread sees it), so a test can make one read
    finish strictly after another."""
    listeners = []

    def make(value: str) -> threading.Event:
        event = threading.Event()

        def delivered(_number, result, _ok, _committed) -> None:
            if result == value:
                event.set()

        ops._runner.relay.delivered.connect(delivered, Qt.ConnectionType.DirectConnection)
        listeners.append(delivered)
        return event

    yield make
    for listener in listeners:
        ops._runner.relay.delivered.disconnect(listener)


def test_a_windows_reads_report_in_the_order_it_asked_though_they_finish_out_of_order(
    qtbot, delivered_event
):
    """A reload that started first but finished last must not land over the newer one:
    the notes list once showed a just-signed note as a draft this way."""
    window = QWidget()
    qtbot.addWidget(window)
    newer_delivered = delivered_event("signed")
    shown: list[str] = []

    def older_read() -> str:
        assert newer_delivered.wait(10)  # the older read finishes after the newer one
        return "draft"

    def newer_read() -> str:
        return "signed"

    ops.run_query(older_read, on_success=shown.append, owner=window)
    ops.run_query(newer_read, on_success=shown.append, owner=window)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert shown == ["draft", "signed"]  # the newest read is what the window shows


def test_a_failed_read_keeps_its_place_in_the_order(qtbot, delivered_event):
    window = QWidget()
    qtbot.addWidget(window)
    later_delivered = delivered_event("list")
    outcomes: list[str] = []

    def failing_read() -> str:
        assert later_delivered.wait(10)
        raise ValidationError("no such patient")

    def later_read() -> str:
        return "list"

    ops.run_query(failing_read, on_success=outcomes.append,
                  on_failure=lambda exc: outcomes.append(str(exc)), owner=window)  # fmt: skip
    ops.run_query(later_read, on_success=outcomes.append, owner=window)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert outcomes == ["no such patient", "list"]


def test_another_windows_read_does_not_wait_for_a_slow_one(qtbot):
    slow_window, quick_window = QWidget(), QWidget()
    qtbot.addWidget(slow_window)
    qtbot.addWidget(quick_window)
    release = threading.Event()
    shown: list[str] = []
    ops.run_query(lambda: release.wait(10) and "slow", on_success=shown.append, owner=slow_window)
    ops.run_query(lambda: "quick", on_success=shown.append, owner=quick_window)
    qtbot.waitUntil(lambda: shown == ["quick"], timeout=10_000)
    release.set()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert shown == ["quick", "slow"]


def test_a_read_asked_for_while_a_callback_waits_on_the_user_still_reports(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    shown: list[str] = []

    def ask_then_reload(value: str) -> None:
        shown.append(value)
        ops.run_query(lambda: "after the question", on_success=shown.append, owner=window)
        loop = QEventLoop()  # what a modal dialog's exec() runs
        QTimer.singleShot(200, loop.quit)
        loop.exec()

    ops.run_query(lambda: "first", on_success=ask_then_reload, owner=window)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert shown == ["first", "after the question"]
    ops.run_query(lambda: "again", on_success=shown.append, owner=window)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert shown[-1] == "again"
