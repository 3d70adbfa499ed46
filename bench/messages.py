"""``messages``: reminders for a busy week sent through a real SMTP server, the day's plan
over the large seeded clinic, and what the background sender costs while idle.

In a scratch copy of the seeded database (never the cached one), with the clinic's e-mail
pointed at an ``aiosmtpd`` server on 127.0.0.1 (the tests' fake, tests/fakes/smtp.py):

* ``send``: :data:`REMINDERS` e-mail reminders for the visits of the week after the seed's
  day (each visit reminded several times over: the seeded clinic books ~110 a week) are
  queued (each written from the clinic's template, with its values read for its visit —
  the planner's own path) and then sent by one :func:`run_sender` run over one SMTP
  connection: each message re-checked, marked sending, handed over, marked sent with its
  communication-log entry and audit row.  Totals and per message.
* ``plan``: :func:`plan_messages` for the seed's day at noon over the whole clinic — the
  dry runs (everything worked out, nothing written) median and p95, the first real run
  once, and a second one (nothing new).  Target ≤ 1 s.
* ``idle``: the app's background sender (app/ui/messages/sender.py) started as after
  sign-in; once its first run is over, the process's CPU seconds over the next
  :data:`IDLE_SECONDS` of its timer (one timer tick, one run with nothing to send).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    emit,
    log,
    median_ms,
    p95_ms,
    scratch_copy,
    seeded_database,
    timed,
    use_bench_environment,
)

REMINDERS = 1_000
PLAN_TARGET_MS = 1_000
RUNS = 10
IDLE_SECONDS = 60


def _point_email_at(db, smtp) -> None:
    from app.data.models.messages import MessagingSettings

    values = {
        "email_enabled": True,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "smtp_user": "",
        "from_address": "desk@clinic.example",
        "from_name": "The clinic",
        "sending_enabled": True,
        "quiet_hours_start_minute": 0,
        "quiet_hours_end_minute": 0,
    }
    with db.uow() as s:
        row = s.get(MessagingSettings, 1)
        if row is None:
            s.add(MessagingSettings(id=1, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)


def _busy_week(db, now) -> list[int]:
    """The week's visits to remind of: every scheduled visit in the 7 days after ``now``
    (each patient made reachable by e-mail, as a clinic that collected consents is)."""
    from sqlalchemy import select, update

    from app.data.models.appointments import Appointment, AppointmentStatus
    from app.data.models.patients import Patient

    with db.uow() as s:
        rows = s.execute(
            select(Appointment.id, Appointment.patient_id)
            .where(
                Appointment.starts_at > now,
                Appointment.starts_at <= now + timedelta(days=7),
                Appointment.status.in_(
                    (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
                ),
            )
            .order_by(Appointment.starts_at)
        ).all()
        for _visit, patient_id in rows:
            s.execute(
                update(Patient)
                .where(Patient.id == patient_id)
                .values(
                    may_email=True,
                    email=f"patient{patient_id}@mail.example",
                    email_bounced_at=None,
                    is_active=True,
                    deceased_on=None,
                )
            )
        visits = [appointment_id for appointment_id, _ in rows]
    if not visits:
        raise SystemExit("bench: the seeded clinic has no visits in the week after its day")
    # A 3-provider clinic books ~110 visits a week: each is reminded as often as it takes
    # to make the busy week's 1,000 (each message its own row, re-checked and sent alone).
    return [visits[i % len(visits)] for i in range(REMINDERS)]


def _queue_reminders(db, appointment_ids: list[int], now) -> int:
    from app.data.models.appointments import Appointment
    from app.data.models.messages import MessageChannel, MessageKind
    from app.data.models.patients import Patient
    from app.services.messages import queueing, templates
    from app.services.messages.settings import current_config

    kind, channel = MessageKind.APPOINTMENT_REMINDER.value, MessageChannel.EMAIL.value
    with db.uow() as s:
        config = current_config(s)
        for appointment_id in appointment_ids:
            visit = s.get(Appointment, appointment_id)
            patient = s.get(Patient, visit.patient_id)
            language = queueing.message_language(s, patient.preferred_language)
            values = queueing.message_values(
                s, config, patient=patient, appointment=visit, language=language
            )
            subject, body = templates.render(s, kind, channel, language, values)
            queueing.add_message(
                s,
                kind=kind,
                channel=channel,
                to_address=patient.email,
                language=language,
                subject=subject,
                body=body,
                due_at=now,
                patient_id=patient.id,
                appointment_id=visit.id,
                appointment_starts_at=visit.starts_at,
            )
    return len(appointment_ids)


def _idle_cpu(db, key, actor) -> tuple[float, int]:
    """CPU seconds of this process over IDLE_SECONDS of the background sender's timer,
    after its first run (a run the window's last tick started counted to its end); and
    how many runs the window held."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.services.clinic.clinics import OpenClinic, get_details
    from app.ui.application import configure_application
    from app.ui.context import UiContext
    from app.ui.messages.sender import BackgroundSender, wait_for_network

    qt = QApplication.instance() or QApplication([])
    configure_application(qt)
    ctx = UiContext(OpenClinic(db, key, key_in_keyring=True), actor, get_details(db))
    sender = BackgroundSender(ctx)
    first = QEventLoop()
    sender.ran.connect(first.quit)
    sender.start(first_run_ms=0)
    QTimer.singleShot(120_000, first.quit)
    first.exec()
    sender.ran.disconnect(first.quit)
    if sender.runs == 0:
        raise SystemExit("bench: the background sender's first run never ended")
    runs_before = sender.runs
    window = QEventLoop()
    QTimer.singleShot(IDLE_SECONDS * 1000, window.quit)
    started = time.process_time()
    window.exec()
    sender.stop()
    # A tick near the window's end may have started a run: it counts, to its end.
    wait_for_network()
    qt.processEvents()
    cpu = time.process_time() - started
    return cpu, sender.runs - runs_before


def run(args) -> dict:
    use_bench_environment()
    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SEED_TODAY
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.clinic.clock import clinic_zone
    from app.services.messages.planning import plan_messages
    from app.services.messages.sender import run_sender
    from app.services.scheduling.booking import at_local
    from tests.fakes.smtp import FakeSmtpServer

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="messages-", dir=CACHE_DIR) as folder,
        FakeSmtpServer() as smtp,
    ):
        log(f"messages: copying {path.name} to a scratch copy …")
        db = connect(scratch_copy(Path(path), Path(folder)), key)
        try:
            with db.uow() as s:
                noon = at_local(SEED_TODAY, 12 * 60, clinic_zone(s)).astimezone(UTC)
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            _point_email_at(db, smtp)

            log(f"messages: planning the seed's day {runs} times (dry runs) …")
            dry = timed(lambda: plan_messages(db, actor, noon, dry_run=True), runs)
            started = time.perf_counter()
            planned = plan_messages(db, actor, noon)
            plan_first_ms = round((time.perf_counter() - started) * 1000, 1)
            started = time.perf_counter()
            plan_messages(db, actor, noon)
            plan_again_ms = round((time.perf_counter() - started) * 1000, 1)
            log(f"messages: the day's plan queued {planned.queued} (first run {plan_first_ms} ms)")

            # The planner's own messages for the day go first (not timed): the timed run
            # sends the week's reminders alone.
            run_sender(db, actor, noon, plan=False, limit=100_000)
            week = _busy_week(db, noon)
            started = time.perf_counter()
            queued = _queue_reminders(db, week, noon)
            queue_s = time.perf_counter() - started
            before = len(smtp.messages)
            log(f"messages: sending {queued:,} reminders to {smtp.host}:{smtp.port} …")
            started = time.perf_counter()
            summary = run_sender(db, actor, noon, plan=False, limit=queued)
            send_s = time.perf_counter() - started
            received = len(smtp.messages) - before

            log(f"messages: the background sender idle for {IDLE_SECONDS} s …")
            idle_cpu, idle_runs = _idle_cpu(db, key, actor)
        finally:
            db.close()
    result = {
        "bench": "messages",
        "n": runs,
        "reminders": queued,
        "sent": summary.sent,
        "received": received,
        "queue_total_ms": round(queue_s * 1000, 1),
        "send_total_ms": round(send_s * 1000, 1),
        "send_per_message_ms": round(send_s * 1000 / max(summary.sent, 1), 2),
        "plan_p50_ms": median_ms(dry),
        "plan_p95_ms": p95_ms(dry),
        "plan_first_ms": plan_first_ms,
        "plan_again_ms": plan_again_ms,
        "plan_queued": planned.queued,
        "plan_target_ms": PLAN_TARGET_MS,
        "idle_seconds": IDLE_SECONDS,
        "idle_cpu_s": round(idle_cpu, 3),
        "idle_runs": idle_runs,
    }
    human = (
        f"Reminders for a busy week: {queued:,} queued in {result['queue_total_ms']} ms, "
        f"sent ({summary.sent:,}, {received:,} received by the SMTP server) in "
        f"{result['send_total_ms']} ms — {result['send_per_message_ms']} ms a message.\n"
        f"The day's plan over the clinic: median {result['plan_p50_ms']} ms, p95 "
        f"{result['plan_p95_ms']} ms (dry runs; target ≤ {PLAN_TARGET_MS} ms, ratio "
        f"{result['plan_p50_ms'] / PLAN_TARGET_MS:.2f}); first real run {plan_first_ms} ms "
        f"({planned.queued:,} queued), again {plan_again_ms} ms.\n"
        f"Background sender idle: {result['idle_cpu_s']} CPU seconds over {IDLE_SECONDS} s "
        f"({idle_runs} run(s) with nothing to send)."
    )
    emit(result, human, args.json)
    return result
