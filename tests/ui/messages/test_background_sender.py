"""The background sender: while someone is signed in it sends the outbox's due messages to
the clinic's real (here: local) mail server — on its own thread, one run at a time, at its
tick and soon after this PC queued or retried one — and stops at lock and sign-out."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from app.data.models.staff import Role
from app.services.clinic import staff
from app.services.messages.outbox import retry_message
from app.ui import ops
from app.ui.messages.outbox_page import OutboxPage
from app.ui.messages.sender import (
    BackgroundSender,
    network_pending,
    run_network,
    sender_of,
    wait_for_network,
)
from tests.ui.messages.outbox_rows import NOW, emailable_patient, point_at, queue_email, stored

#: Long enough that no tick comes during a test: each run is one the test asked for.
NEVER_MS = 3_600_000


def _settle(qtbot) -> None:
    ops.wait_for_done()
    wait_for_network()
    qtbot.waitUntil(lambda: ops.pending() == 0 and network_pending() == 0, timeout=20_000)


@pytest.fixture
def sender(qtbot, owner_ctx):
    made = BackgroundSender(owner_ctx, clock=lambda: NOW, interval_ms=NEVER_MS, soon_ms=50)
    yield made
    made.stop()
    _settle(qtbot)
    made.deleteLater()


def test_a_queued_message_is_sent_to_the_mail_server(qtbot, owner_ctx, smtp_server, sender):
    point_at(owner_ctx.db, smtp_server)
    ana = emailable_patient(owner_ctx.db)
    message_id = queue_email(owner_ctx.db, ana, subject="Your appointment card")
    assert sender_of(owner_ctx) is sender  # the Outbox finds it

    with qtbot.waitSignal(sender.ran, timeout=20_000) as ran:
        sender.start(first_run_ms=0)
    assert ran.args[0].sent == 1
    [received] = smtp_server.messages
    assert received["Subject"] == "Your appointment card"
    assert received["To"] == "ana.reyes@example.org"
    assert stored(owner_ctx.db, message_id).state == "sent"
    _settle(qtbot)
    # Its own marks (sent, the lease) call for no other run; the next is the tick's.
    assert not sender.soon_timer.isActive()
    assert sender.tick_timer.isActive() and sender.runs == 1
    assert sender.problem == ""


def test_a_message_retried_on_this_pc_goes_soon_and_once(qtbot, owner_ctx, smtp_server, sender):
    point_at(owner_ctx.db, smtp_server)
    ana = emailable_patient(owner_ctx.db)
    failed = queue_email(owner_ctx.db, ana, state="failed", reason="Busy", attempts=8)
    with qtbot.waitSignal(sender.ran, timeout=20_000):
        sender.start(first_run_ms=0)
    assert smtp_server.messages == []  # failed stays failed until someone retries it

    # The desk clicks Retry on the Outbox page: soon after, it is sent.
    page = OutboxPage(owner_ctx)
    qtbot.addWidget(page)
    page.show()
    _settle(qtbot)
    page.table.selectRow(0)
    with qtbot.waitSignal(sender.ran, timeout=20_000):
        qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
    assert len(smtp_server.messages) == 1
    assert stored(owner_ctx.db, failed).state == "sent"
    assert sender.runs == 2
    # The page shows the run.
    qtbot.waitUntil(lambda: page.sender_label.text().startswith("Last run"))


def test_one_run_at_a_time(qtbot, owner_ctx, smtp_server, sender):
    point_at(owner_ctx.db, smtp_server)
    ana = emailable_patient(owner_ctx.db)
    queue_email(owner_ctx.db, ana)
    sender.start(first_run_ms=NEVER_MS)
    # Hold the network thread so the run waits behind it, then tick twice more.
    release = threading.Event()
    run_network(lambda: release.wait(10))
    sender.on_timer_timeout()
    assert sender.running
    sender.on_timer_timeout()
    sender.on_timer_timeout()
    release.set()
    # The run, and once more after it for the ticks that came meanwhile: not three.
    with qtbot.waitSignal(sender.ran, timeout=20_000):
        pass
    with qtbot.waitSignal(sender.ran, timeout=20_000):
        pass
    _settle(qtbot)
    assert sender.runs == 2
    assert len(smtp_server.messages) == 1  # and the message went once


def test_paused_it_does_nothing_until_it_resumes(qtbot, owner_ctx, smtp_server, sender):
    point_at(owner_ctx.db, smtp_server)
    ana = emailable_patient(owner_ctx.db)
    failed = queue_email(owner_ctx.db, ana, state="failed", reason="Busy", attempts=8)
    sender.start(first_run_ms=NEVER_MS)
    sender.pause()  # the screen locks
    assert not sender.tick_timer.isActive() and not sender.soon_timer.isActive()
    db, actor = owner_ctx.db, owner_ctx.actor
    version = stored(db, failed).version
    ops.run_write(lambda: retry_message(db, actor, failed, version=version))
    _settle(qtbot)
    assert not sender.soon_timer.isActive()
    sender.on_timer_timeout()  # a tick already on its way when it stopped
    _settle(qtbot)
    assert sender.runs == 0 and smtp_server.messages == []
    assert stored(db, failed).state == "queued"  # waits for the unlock

    with qtbot.waitSignal(sender.ran, timeout=20_000):
        sender.resume(first_run_ms=0)  # unlocked
    assert len(smtp_server.messages) == 1
    sender.stop()  # signed out: nothing resumes it
    sender.resume()
    assert not sender.active and not sender.tick_timer.isActive()


def test_a_sender_never_started_does_not_resume(qtbot, owner_ctx, sender):
    """A window whose sender the application never started (a test's, a demo's) sends
    nothing after a lock and unlock either."""
    sender.pause()
    sender.resume(first_run_ms=0)
    assert not sender.active and not sender.soon_timer.isActive()


def test_a_run_refused_says_why_once_and_stops(qtbot, clinic, owner_ctx, smtp_server):
    """The account was deactivated on another PC: the run is refused, the reason shows on
    the Outbox page, the sender stops and the session ends (the window locks)."""
    from tests.ui.conftest import STAFF_PASSWORD, make_context

    point_at(clinic.db, smtp_server)
    rita = staff.create_staff(
        clinic.db, owner_ctx.actor, "rita", "Rita Reception", Role.RECEPTIONIST, STAFF_PASSWORD
    )
    ctx = make_context(clinic, "rita", STAFF_PASSWORD)
    sender = BackgroundSender(ctx, clock=lambda: NOW, interval_ms=NEVER_MS)
    page = OutboxPage(ctx)
    qtbot.addWidget(page)
    page.show()
    _settle(qtbot)
    assert page.problem_label.isHidden()
    staff.set_active(clinic.db, owner_ctx.actor, rita.id, False)
    with qtbot.waitSignal(ops.session_ended_signal(), timeout=20_000) as ended:
        sender.start(first_run_ms=0)
    assert "deactivated" in ended.args[0]
    assert not sender.active and not sender.tick_timer.isActive()
    assert page.problem_label.isVisible()
    assert page.problem_label.text().startswith("Messages could not be sent: Your account")
    _settle(qtbot)
    sender.deleteLater()


def test_staff_who_may_not_send_start_no_sender(qtbot, clinic, owner_ctx):
    from tests.ui.conftest import STAFF_PASSWORD, make_context

    staff.create_staff(
        clinic.db, owner_ctx.actor, "pete", "Pete Provider", Role.PROVIDER, STAFF_PASSWORD
    )
    ctx = make_context(clinic, "pete", STAFF_PASSWORD)
    sender = BackgroundSender(ctx, interval_ms=NEVER_MS)
    sender.start(first_run_ms=0)
    assert not sender.active and not sender.tick_timer.isActive()
    sender.deleteLater()


def test_send_now_on_the_outbox_runs_at_once(qtbot, owner_ctx, smtp_server, sender):
    point_at(owner_ctx.db, smtp_server)
    ana = emailable_patient(owner_ctx.db)
    queue_email(owner_ctx.db, ana)
    sender.start(first_run_ms=NEVER_MS)
    page = OutboxPage(owner_ctx)
    qtbot.addWidget(page)
    page.show()
    _settle(qtbot)
    assert page.send_now_button.isVisible()
    assert page.sender_label.isHidden()  # no run yet
    with qtbot.waitSignal(sender.ran, timeout=20_000):
        qtbot.mouseClick(page.send_now_button, Qt.MouseButton.LeftButton)
    assert len(smtp_server.messages) == 1
    qtbot.waitUntil(lambda: page.sender_label.text().endswith("1 sent."))
    assert page.problem_label.isHidden()
