"""Render CareDesk's windows to PNG files: ``python -m app.ui.screenshots OUTDIR``.

Builds the demo clinic's data in a temporary folder (with an in-memory key store,
so nothing touches this computer's keyring or CareDesk's real data), then grabs
the setup wizard, the login window, the main window's pages and the lock screen.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SAMPLE_PASSWORD = "harbour lights 2031 tea"


def _use_memory_keyring() -> None:
    import keyring

    from app.services.clinic.keys import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())


def _settle(app, widget) -> None:
    widget.show()
    _wait_for_ops()
    for _ in range(5):
        app.processEvents()


def _pause(milliseconds: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def _wait_for_ops() -> None:
    """Let background queries land (waiting in a short event loop, not a busy loop)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from app.ui import ops

    for _ in range(500):
        if not ops.pending():
            break
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()


def _save(app, widget, path: Path) -> None:
    _settle(app, widget)
    widget.grab().save(str(path))
    print(path)


def _clinic_today() -> datetime.date:
    """Today in the demo clinic's zone (what the app itself calls today)."""
    from zoneinfo import ZoneInfo

    from app.clock import today_in
    from app.demo.seed import DEMO_CLINIC

    return today_in(ZoneInfo(DEMO_CLINIC.timezone))


def _demo_day() -> datetime.date:
    """The demo's own "today": the clinic's latest Tuesday (every provider works on
    Tuesdays, so the screenshots look like this week)."""
    today = _clinic_today()
    return today - datetime.timedelta(days=(today.weekday() - 1) % 7)


def _use_demo_clock() -> None:
    """Today's page and its dialogs read the clock: make it 10:40 on the demo's day, when
    the morning's visits have come and gone and the rest of the day is still to come."""
    from zoneinfo import ZoneInfo

    import app.services.clinic.to_do as to_do
    import app.services.scheduling.day_board as day_board
    from app.demo.seed import DEMO_CLINIC
    from app.services.scheduling.booking import at_local

    moment = at_local(_demo_day(), 10 * 60 + 40, ZoneInfo(DEMO_CLINIC.timezone))
    day_board.utc_now = to_do.utc_now = lambda: moment


def _today_area(app, ctx, outdir: Path) -> None:
    """Today for the receptionist, the check-in dialog (alerts named, what is missing) and
    the check-out dialog."""
    from app.ui.check_out import CheckOutDialog
    from app.ui.front_desk import CheckInDialog
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    window.resize(1366, 740)
    window.start()
    page = window.show_page("today")
    _wait_for_ops()
    visits = page.visits()
    if visits:
        page.table.selectRow(0)
    _save(app, window, outdir / "54-today.png")
    expected = [v for v in visits if v.stage == "expected"]
    to_check_in = next((v for v in expected if v.alerts), expected[0] if expected else None)
    if to_check_in is not None:
        dialog = CheckInDialog(ctx, window, to_check_in.appointment_id)
        dialog.show()
        _wait_for_ops()
        _save(app, dialog, outdir / "55-check-in.png")
        dialog.reject()
    in_chair = next((v for v in visits if v.stage in ("in_treatment", "ready")), None)
    if in_chair is not None:
        dialog = CheckOutDialog(ctx, window, in_chair.appointment_id)
        dialog.show()
        _wait_for_ops()
        _save(app, dialog, outdir / "56-check-out.png")
        dialog.reject()
    window.hide()


def _reports_area(app, ctx, outdir: Path) -> None:
    """The owner's Reports: last month's money, schedule and coordination tabs, each with
    its 12-month trend (the demo clinic has two years of visits and payments)."""
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    window.resize(1366, 740)  # the front-desk screen the window must fit (issue 17)
    window.start()
    page = window.show_page("reports")
    _wait_for_ops()
    for number, index in ((57, 0), (58, 1), (59, 2)):
        page.tabs.setCurrentIndex(index)
        name = ("money", "schedule", "coordination")[index]
        _save(app, window, outdir / f"{number}-reports-{name}.png")
    window.hide()


def _coordinator_area(app, ctx, outdir: Path) -> None:
    """The coordinator's loop: the contacts directory, open referrals by stage, one referral's
    timeline (the showcase patient's, out and back) and the clinic's task list."""
    from app.demo.demo_clinic import showcase_patient
    from app.services.referrals.referrals import patient_referrals
    from app.ui.main_window import MainWindow
    from app.ui.referrals.referral_window import open_referral_window

    window = MainWindow(ctx)
    window.resize(1366, 740)
    window.start()
    for number, key in ((60, "contacts"), (61, "referrals"), (63, "tasks")):
        page = window.show_page(key)
        _wait_for_ops()
        _pause(300)  # the stage counts and view counts follow the first screen
        _wait_for_ops()
        if key == "contacts":
            page.table.selectRow(0)
            _wait_for_ops()
        _save(app, window, outdir / f"{number}-{key}.png")
    window.hide()
    patient_id, _note_id = showcase_patient(ctx.db)
    newest = patient_referrals(ctx.db, ctx.actor, patient_id)[0]  # the showcase's, out and back
    referral = open_referral_window(ctx, newest.id)
    referral.resize(1180, 740)
    _wait_for_ops()
    _save(app, referral, outdir / "62-referral-window.png")
    referral.close()


def _demo_moment() -> datetime.datetime:
    """10:40 on the demo's day, in UTC (what ``_use_demo_clock`` makes the time)."""
    from zoneinfo import ZoneInfo

    from app.demo.seed import DEMO_CLINIC
    from app.services.scheduling.booking import at_local

    return at_local(_demo_day(), 10 * 60 + 40, ZoneInfo(DEMO_CLINIC.timezone))


def _messages_area(app, owner_ctx, desk_ctx, outdir: Path) -> None:
    """Messages: the desk's Outbox after a day of reminders (one address bounced, one number
    refused), the owner's Settings → Messages (sending, a template, the rules), and a
    message to several patients from the Confirmations list, the skipped ones named."""
    from app.demo.demo_clinic import clock_on, showcase_messages
    from app.services.scheduling.confirmations import confirmation_list, next_open_day
    from app.ui.main_window import MainWindow
    from app.ui.messages.send_dialog import SendMessageDialog

    now = _demo_moment()
    showcase_messages(owner_ctx.db, owner_ctx.actor, now)
    window = MainWindow(desk_ctx)
    window.resize(1366, 740)
    window.start()
    outbox = window.show_page("outbox")
    _wait_for_ops()
    outbox.show_view("all")
    _wait_for_ops()
    problems = [
        row for row, line in enumerate(outbox.model.rows) if line.state in ("bounced", "failed")
    ]
    outbox.table.selectRow(problems[0] if problems else 0)
    outbox.table.scrollTo(outbox.table.currentIndex())
    _wait_for_ops()
    _save(app, window, outdir / "66-outbox.png")
    window.hide()

    day = next_open_day(desk_ctx.db, desk_ctx.actor, now.date())
    lines = confirmation_list(desk_ctx.db, desk_ctx.actor, day)
    patient_ids = list(dict.fromkeys(line.patient_id for line in lines))[:6]
    # The preview finds each patient's next visit by the app's clock: the demo's day.
    with clock_on(_demo_day()):
        dialog = SendMessageDialog(desk_ctx, patient_ids, kind="confirmation_request")
        dialog.show()
        _wait_for_ops()  # who gets it; then the preview, for the first of them, after its pause
        _pause(800)
        _wait_for_ops()
        _save(app, dialog, outdir / "69-send-message.png")
        dialog.reject()

    window = MainWindow(owner_ctx)
    window.resize(1366, 740)
    window.start()
    settings = window.show_page("settings")
    settings.tabs.setCurrentWidget(settings.tab("messages"))
    _wait_for_ops()
    tab = settings.tab("messages")
    _save(app, window, outdir / "67-settings-messages.png")
    tab.parts.setCurrentWidget(tab.templates)
    _wait_for_ops()
    _save(app, window, outdir / "68-message-templates.png")
    tab.parts.setCurrentWidget(tab.rules)
    _wait_for_ops()
    _save(app, window, outdir / "68b-message-rules.png")
    window.hide()


def _wait_for_backups() -> None:
    """Let the backups' thread finish (a backup, a check) and its callbacks land."""
    from PySide6.QtCore import QEventLoop, QTimer

    from app.ui.backups.worker import backup_pending

    for _ in range(3000):
        _wait_for_ops()
        if not backup_pending():
            break
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()
    _wait_for_ops()


def _backups_area(app, ctx, folder: Path, outdir: Path) -> None:
    """Settings → Backups after a day of backups — to this PC and a "USB disk" (a temporary
    folder) — one selected; and Restore… of the one before, checked and ready."""
    from dataclasses import replace

    from app.services.backups import schedule
    from app.ui.backups.restore_dialog import RestoreDialog
    from app.ui.main_window import MainWindow

    usb = folder / "usb-disk"
    usb.mkdir(exist_ok=True)
    form = schedule.backup_config(ctx.db, ctx.actor)
    schedule.save_backup_settings(
        ctx.db, ctx.actor, replace(form, folder=str(usb), folder_label="USB disk")
    )
    from app.clock import utc_now

    now = utc_now().replace(microsecond=0)
    for hours_ago, reason in ((25, "sign-out"), (2, "automatic"), (1, "automatic"), (0, "manual")):
        made_at = now - datetime.timedelta(hours=hours_ago)
        schedule.back_up(ctx.db, ctx.clinic.key, ctx.actor, reason=reason, now=made_at)

    window = MainWindow(ctx)
    window.resize(1366, 740)
    window.start()
    settings = window.show_page("settings")
    settings.show_part("backups")
    tab = settings.tab("backups")
    _wait_for_ops()
    tab.table.selectRow(1)
    tab.on_verify_clicked()
    _wait_for_backups()
    _save(app, window, outdir / "70-settings-backups.png")

    line = next(line for line in tab.model.lines() if line.reason == "automatic")
    dialog = RestoreDialog(ctx, window, line)
    dialog.show()
    _wait_for_backups()
    _save(app, dialog, outdir / "71-restore-backup.png")
    dialog.reject()
    window.screen_lock.stop()
    window.hide()


#: A previous system's patient list (Dentrix's column names), its dates month first — and
#: a few rows the check refuses.
_OLD_SYSTEM_PATIENTS = """\
Chart Number,Last Name,First Name,MI,Birth Date,Gender,Mobile Phone,Email,Address 1,City,\
State,Zip
20417,Okafor,Chidi,A,04/03/1986,M,(207) 555-0188,chidi.okafor@example.com,14 Fore St,\
Portland,ME,04101
20418,Lindqvist,Astrid,,11/09/1979,F,(207) 555-0102,astrid.l@example.com,3 Elm Ave,\
South Portland,ME,04106
20419,Ferreira Santos,João Pedro,,07/12/2001,M,(207) 555-0131,,88 Congress St,Portland,ME,04101
20420,,,,02/05/1990,F,(207) 555-0177,,,Portland,ME,04101
20421,Haddad,Layla,,13/25/1990,F,(207) 555-0150,layla@example.com,9 Pine St,Falmouth,ME,04105
20422,Brandt,Eli,R,06/14/1972,M,,eli.brandt@,21 Oak St,Westbrook,ME,04092
20423,O'Connor,Siobhan,,10/01/1995,F,(207) 555-0119,siobhan.oc@example.com,5 Bay Rd,\
Portland,ME,04103
"""


def _moving_area(app, ctx, folder: Path, outdir: Path) -> None:
    """File → Import from another system… on a Dentrix patient list: its columns mapped (the
    date order asked for: its dates read two ways), then the check with the rows it refuses;
    and Record → Print → Export a copy of the record…, filled in."""
    from app.services.patients.search import search_patients
    from app.ui.exports.record_export_dialog import RecordExportDialog
    from app.ui.imports.import_wizard import ImportWizard

    path = folder / "Dentrix patient list.csv"
    path.write_text(_OLD_SYSTEM_PATIENTS, encoding="utf-8")
    wizard = ImportWizard(ctx, None)
    wizard.resize(1000, 700)
    wizard.show()
    page = wizard.file_page
    page.path_edit.setText(str(path))
    page.read(path)
    _wait_for_ops()
    wizard.next()
    _wait_for_ops()
    _save(app, wizard, outdir / "72-import-columns.png")
    wizard.mapping_page.date_radios["MDY"].setChecked(True)
    wizard.next()
    _wait_for_ops()
    _save(app, wizard, outdir / "73-import-check.png")
    wizard.hide()

    patient = search_patients(ctx.db, ctx.actor, "a", limit=1)[0]
    dialog = RecordExportDialog(
        ctx,
        None,
        patient.id,
        patient_name=f"{patient.first_name} {patient.last_name}",
        chart_number=patient.chart_number,
    )
    dialog.to_whom_edit.setText("Portland Oral Surgery Associates (Dr. Smith)")
    dialog.why_edit.setText("Referral for implant consultation, at the patient's request")
    _save(app, dialog, outdir / "74-record-export.png")
    dialog.hide()


def _demo_clinic(folder: Path):
    """The demo clinic's data (seeded, deterministic), plus a little audit history to show."""
    from app.demo.seed import DEMO_PASSWORD, create_seeded_clinic
    from app.services.clinic import auth
    from app.services.errors import LoginFailedError

    tuesday = _demo_day()
    clinic = create_seeded_clinic(
        folder / "demo.caredesk", patients=2000, years=2, seed=2026, today=tuesday
    )
    coordinator = auth.login(clinic.db, "coordinator", DEMO_PASSWORD)
    auth.logout(clinic.db, coordinator)
    for _ in range(2):
        with contextlib.suppress(LoginFailedError):
            auth.login(clinic.db, "receptionist", "wrong password")
    auth.login(clinic.db, "receptionist", DEMO_PASSWORD)
    return clinic


def render(outdir: Path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QWizard

    outdir.mkdir(parents=True, exist_ok=True)
    _use_memory_keyring()
    work = Path(tempfile.mkdtemp(prefix="caredesk-shots-"))
    os.environ["CAREDESK_DATA_DIR"] = str(work / "userdata")
    app = QApplication.instance() or QApplication(sys.argv)
    from app.ui.application import configure_application

    configure_application(app)
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(work / "qsettings"))

    from app.services.clinic import auth
    from app.services.clinic.clinics import get_details
    from app.ui import ops
    from app.ui.context import UiContext
    from app.ui.login import LoginWindow
    from app.ui.main_window import MainWindow
    from app.ui.setup_wizard import SetupWizard

    # The setup wizard, filled in as a new owner would.
    wizard = SetupWizard(work / "new.caredesk")
    wizard.resize(760, 720)
    _save(app, wizard, outdir / "01-setup-welcome.png")
    wizard.next()
    form = wizard.clinic_page.form
    form.name_edit.setText("Harbour Dental Care")
    form.address_line1_edit.setText("120 Harbour Street, Suite 4")
    form.city_edit.setText("Portland")
    form.region_edit.setText("ME")
    form.postal_code_edit.setText("04101")
    form.phone_edit.setText("12")
    form.set_timezone("America/New_York")
    form._touched.update({"name", "phone"})
    form.edited.emit()
    _save(app, wizard, outdir / "02-setup-clinic-error.png")
    form.phone_edit.setText("(207) 555-0142")
    form.edited.emit()
    wizard.next()
    owner = wizard.owner_page
    owner.full_name_edit.setText("Olivia Bennett")
    owner.username_edit.setText("olivia")
    owner.password_edit.setText(SAMPLE_PASSWORD)
    owner.confirm_edit.setText(SAMPLE_PASSWORD)
    owner._touched.update({"full_name", "username", "password", "confirm"})
    owner.completeChanged.emit()
    _save(app, wizard, outdir / "03-setup-owner.png")
    wizard.next()
    _save(app, wizard, outdir / "04-setup-summary.png")
    wizard.button(QWizard.WizardButton.CommitButton).click()
    ops.wait_for_done()
    while ops.pending():
        app.processEvents()
    _save(app, wizard, outdir / "05-setup-recovery-kit.png")
    ops.wait_for_done()
    if wizard.clinic is not None:
        wizard.clinic.db.close()
    wizard.hide()

    from app.demo.seed import DEMO_PASSWORD

    clinic = _demo_clinic(work)
    details = get_details(clinic.db)
    login = LoginWindow(clinic.db, details.name)
    login.login.username_edit.setText("receptionist")
    _save(app, login, outdir / "06-login.png")
    login.login.password_edit.setText("not it")
    login.login.show_message("The username or password is not right.")
    _save(app, login, outdir / "07-login-failed.png")
    login.hide()

    owner_actor = auth.login(clinic.db, "owner", DEMO_PASSWORD)
    ctx = UiContext(clinic, owner_actor, details)
    window = MainWindow(ctx)
    window.resize(1180, 760)
    window.start()
    settings = window.show_page("settings")
    _save(app, window, outdir / "08-main-settings-clinic.png")
    settings.tabs.setCurrentWidget(settings.tab("staff"))
    while ops.pending():
        app.processEvents()
    staff_tab = settings.tab("staff")
    staff_tab.table.selectRow(0)
    _save(app, window, outdir / "09-main-settings-staff.png")
    for number, key in ((13, "providers"), (14, "services")):
        settings.tabs.setCurrentWidget(settings.tab(key))
        while ops.pending():
            app.processEvents()
        _save(app, window, outdir / f"{number}-main-settings-{key}.png")
    settings.tabs.setCurrentIndex(0)
    window.show_page("audit")
    while ops.pending():
        app.processEvents()
    _save(app, window, outdir / "10-main-audit-log.png")
    window.show_page("settings")
    settings.tabs.setCurrentIndex(0)
    settings.tab("clinic").form.phone_edit.setText("(207) 555-01")
    window.screen_lock.lock(idle=True)
    while ops.pending():
        app.processEvents()
    _save(app, window, outdir / "11-main-locked.png")
    window.screen_lock.stop()
    window.hide()

    _use_demo_clock()
    rita = auth.login(clinic.db, "receptionist", DEMO_PASSWORD)
    rita_window = MainWindow(UiContext(clinic, rita, details))
    rita_window.resize(1180, 760)
    rita_window.start()
    _wait_for_ops()
    _save(app, rita_window, outdir / "12-main-receptionist.png")
    rita_window.hide()
    _today_area(app, UiContext(clinic, rita, details), outdir)
    _reports_area(app, ctx, outdir)

    coordinator = auth.login(clinic.db, "coordinator", DEMO_PASSWORD)
    _patients_area(app, UiContext(clinic, coordinator, details), outdir)
    _calendar_area(app, UiContext(clinic, coordinator, details), outdir)
    _plans_area(app, UiContext(clinic, coordinator, details), outdir)
    _coordinator_area(app, UiContext(clinic, coordinator, details), outdir)
    _messages_area(app, ctx, UiContext(clinic, rita, details), outdir)
    _backups_area(app, ctx, work, outdir)
    _moving_area(app, ctx, work, outdir)
    ops.wait_for_done()
    while ops.pending():
        app.processEvents()
    clinic.db.close()


def _showcase_patient(clinic, owner) -> int:
    """A demo patient with a long history, a signed note, insurance and a little of everything."""
    from app.demo.demo_clinic import showcase_consents, showcase_patient, showcase_referral
    from app.services.patients import documents, notes, tasks

    patient_id, note_id = showcase_patient(clinic.db)
    notes.add_addendum(
        clinic.db,
        owner,
        note_id,
        "Patient called back: prefers morning visits and asked for the payment plan options "
        "in writing. Handout sent by e-mail.",
    )
    documents.add_document(
        clinic.db, owner, patient_id, "referral-letter.pdf", _sample_pdf(), kind="referral_letter"
    )
    tasks.add_task(
        clinic.db,
        owner,
        title="Call about the treatment plan decision",
        patient_id=patient_id,
        due_on=_clinic_today() + datetime.timedelta(days=2),
    )
    showcase_consents(clinic.db, owner, patient_id)
    showcase_referral(clinic.db, owner, patient_id, _sample_pdf())
    return patient_id


def _sample_pdf() -> bytes:
    import io

    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 760, "Referral letter (demo)")
    page.save()
    return buffer.getvalue()


#: The record's tabs keep the numbers they had when each area landed.
_RECORD_TAB_SHOTS = {
    "details": 17,
    "insurance": 18,
    "appointments": 19,
    "notes": 20,
    "communications": 21,
    "documents": 22,
    "tasks": 23,
    "consents": 43,
    "plans": 33,
    "account": 34,
    "care": 64,
    "referrals": 65,
}


def _patients_area(app, ctx, outdir: Path) -> None:
    """The Patients page mid-search, a patient record (each tab) and the Pipeline."""
    from app.demo.seed import DEMO_PASSWORD
    from app.services.clinic import auth
    from app.ui.main_window import MainWindow
    from app.ui.patients.record_window import PatientRecordWindow

    window = MainWindow(ctx)
    window.resize(1180, 760)
    window.start()
    page = window.show_page("patients")
    page.search_edit.setText("gar")
    _pause(200)  # the search waits for a pause in typing
    _save(app, window, outdir / "15-patients-search.png")
    page.tabs.setCurrentWidget(page.queue)
    _save(app, window, outdir / "16-patients-insurance-to-verify.png")
    window.show_page("pipeline")
    _save(app, window, outdir / "24-pipeline.png")
    window.hide()

    owner = auth.login(ctx.db, "owner", DEMO_PASSWORD)
    patient_id = _showcase_patient(ctx.clinic, owner)
    record = PatientRecordWindow(ctx, patient_id)
    record.resize(1180, 780)
    for spec in record.specs:
        number = _RECORD_TAB_SHOTS[spec.key]
        record.tab_widget.setCurrentIndex(record.tab_index(spec.key))
        _wait_for_ops()
        if spec.key == "notes":  # the latest note: signed, with an addendum
            from PySide6.QtWidgets import QScrollArea

            editor = record.tabs["notes"].editor
            record.tabs["notes"].table.selectRow(0)
            _pause(100)
            _wait_for_ops()
            editor.findChild(QScrollArea).ensureWidgetVisible(editor.addenda_box)
        _save(app, record, outdir / f"{number}-record-{spec.key}.png")
    record.close()


def _calendar_area(app, ctx, outdir: Path) -> None:
    """The calendar's day, week and month views, booking into a clash, the waitlist matching a
    freed slot, finding the next free slot, and the confirmation and recall lists."""
    from app.services.errors import CareDeskError
    from app.services.scheduling import booking as scheduling
    from app.services.scheduling import waitlist
    from app.services.scheduling.appointment_status import cancel_appointment
    from app.ui.calendar.booking_dialog import BookingDialog
    from app.ui.calendar.next_available import NextAvailableDialog
    from app.ui.main_window import MainWindow

    window = MainWindow(ctx)
    window.resize(1440, 880)
    window.start()
    page = window.show_page("calendar")
    # The demo's own "today": every provider works, and the morning's visits have arrived,
    # been treated or completed.
    page.set_day(_demo_day())
    _wait_for_ops()
    page.grid.scroll_to_time(7 * 60 + 30)
    _save(app, window, outdir / "25-calendar-day.png")

    # Booking into a clash: another patient over the first booked visit of the day.
    blocks = sorted(page.schedule.blocks, key=lambda b: b.starts_at)
    taken = next(b for b in blocks if b.status in ("scheduled", "confirmed") and b.service_id)
    other = next(b for b in blocks if b.patient_id != taken.patient_id)
    dialog = BookingDialog(
        ctx,
        window,
        starts_at=taken.starts_at + datetime.timedelta(minutes=15),
        provider_id=taken.provider_id,
        patient_id=other.patient_id,
        patient_name=other.patient_name,
        service_id=taken.service_id,
    )
    dialog.open()
    _pause(400)  # the live check waits for a pause in typing
    _save(app, dialog, outdir / "28-booking-conflict.png")
    dialog.reject()

    # A cancellation frees a slot; the waitlist shows who could take it.
    freed = next(b for b in reversed(blocks) if b.status in ("scheduled", "confirmed"))
    for patient in (b for b in blocks if b.patient_id != freed.patient_id):
        data = waitlist.WaitlistData(
            patient_id=patient.patient_id, service_id=freed.service_id, notes="Wants sooner"
        )
        try:
            waitlist.add_to_waitlist(ctx.db, ctx.actor, data)
        except CareDeskError:  # already waiting, or not eligible: try the next
            continue
        if len(waitlist.list_waitlist(ctx.db, ctx.actor)) >= 6:
            break
    cancel_appointment(
        ctx.db, ctx.actor, freed.id, freed.version, by="patient", reason="Car trouble"
    )
    page.refresh()
    _wait_for_ops()
    page.show_freed_slot(freed)
    _wait_for_ops()
    page.grid.select_block(None)
    zone = scheduling.ZoneInfo(ctx.details.timezone)
    page.grid.scroll_to_time(max(8 * 60, scheduling.wall_minute(freed.starts_at, zone) - 120))
    _save(app, window, outdir / "29-calendar-waitlist-matches.png")

    page.set_view("week")
    page.resource_combo.setCurrentIndex(1)  # the first provider's week
    _wait_for_ops()
    page.grid.scroll_to_time(8 * 60)
    _save(app, window, outdir / "26-calendar-week.png")
    page.set_view("month")
    _wait_for_ops()
    _save(app, window, outdir / "27-calendar-month.png")

    finder = NextAvailableDialog(
        ctx,
        window,
        patient_id=other.patient_id,
        patient_name=other.patient_name,
        service_id=taken.service_id,
    )
    finder.open()
    _pause(300)
    _save(app, finder, outdir / "30-next-available.png")
    finder.reject()

    window.show_page("confirmations")
    _save(app, window, outdir / "31-confirmations.png")
    window.show_page("recalls")
    _save(app, window, outdir / "32-recalls.png")
    window.hide()


def _plans_area(app, ctx, outdir: Path) -> None:
    """A case presented as Option A / Option B, a payment plan's APR preview, the
    collections queue and the day's payments."""
    from app.demo.demo_clinic import showcase_options
    from app.ui.main_window import MainWindow
    from app.ui.plans.payment_plan_window import PaymentPlanWindow
    from app.ui.plans.plan_window import open_plan_window

    patient_id, plan_id = showcase_options(ctx.db)
    window = open_plan_window(ctx, None, patient_id, plan_id)
    window.resize(1440, 760)
    _wait_for_ops()
    _pause(100)
    _wait_for_ops()
    _save(app, window, outdir / "35-plan-editor-options.png")
    window.close()

    payment = PaymentPlanWindow(ctx, patient_id)
    payment.resize(1240, 800)
    payment.show()
    _wait_for_ops()
    payment.total.setText("4,800.00")
    payment.down.setText("300.00")
    payment.split_value.setText("12")
    payment.apr.setText("9.9")
    payment.first_due.setDate(payment.first_due.date().addMonths(1))
    payment.refresh_preview()
    _save(app, payment, outdir / "36-payment-plan-preview.png")
    payment.close()

    main = MainWindow(ctx)
    main.resize(1440, 820)
    main.start()
    page = main.show_page("plans")
    page.tabs.setCurrentWidget(page.payment_plans)
    _wait_for_ops()
    _save(app, main, outdir / "44-payment-plans.png")
    page.tabs.setCurrentWidget(page.collections)
    _wait_for_ops()
    _save(app, main, outdir / "37-collections.png")
    page.tabs.setCurrentWidget(page.unscheduled)
    _wait_for_ops()
    _save(app, main, outdir / "38-accepted-not-scheduled.png")
    page.tabs.setCurrentWidget(page.today)
    # The demo's own today: a day with payments, not yet counted.
    from PySide6.QtCore import QDate

    tuesday = _demo_day()
    page.today.day_edit.setDate(QDate(tuesday.year, tuesday.month, tuesday.day))
    _wait_for_ops()
    _save(app, main, outdir / "39-payments-by-day.png")
    main.hide()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the PNG files")
    args = parser.parse_args(argv)
    render(args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
