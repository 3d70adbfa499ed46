"""The patient record window: header, lazy tabs, keyboard, refresh, and closing with edits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from sqlalchemy import func, select

from app.data.models import Patient
from app.data.models.audit import AuditEntry
from app.data.models.payments import Charge
from app.services.changes import Changes
from app.services.clinic import auth
from app.services.clinic.clock import clinic_today
from app.services.patients import records as patients
from app.ui import ops
from app.ui.patients import record_header, record_window
from app.ui.patients.windows import open_patient_record, open_record_windows
from tests.data.factories import add_appointment, add_provider, add_service
from tests.ui.conftest import OWNER_PASSWORD, save_styled_shot

Left = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def close_record_windows(qtbot) -> Iterator[None]:
    yield
    for window in open_record_windows():
        window._may_close = True
        window.close()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


@pytest.fixture
def margaret(clinic) -> int:
    """A patient with alerts, a balance owed, a booked visit, twelve days in consultation."""
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    created = patients.create_patient(
        clinic.db,
        owner,
        patients.PatientForm(
            first_name="Margaret",
            last_name="O'Donnell",
            preferred_name="Maggie",
            date_of_birth=date(1961, 7, 4),
            mobile_phone="(207) 555-0188",
            preferred_language="es",
            medical_alerts="Takes warfarin\nArtificial hip",
            allergies="Penicillin",
        ),
    )
    with clinic.db.uow() as session:
        patient = session.get(Patient, created.id)
        provider = add_provider(session, name="Dr. Priya Raman")
        service = add_service(session, name="Periodontal maintenance")
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=6)
        add_appointment(
            session,
            patient,
            provider,
            service_id=service.id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
        )
        session.add(
            Charge(
                patient_id=patient.id,
                service_date=clinic_today(session),
                description="Crown",
                amount=Decimal("245.50"),
            )
        )
        patient.journey_stage = "consultation"
        patient.journey_stage_since = datetime.now(UTC) - timedelta(days=12, hours=1)
    return created.id


def openings(db, patient_id: int) -> int:
    with db.uow() as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "record_opened", AuditEntry.patient_id == patient_id)
        )


def open_window(qtbot, ctx, patient_id: int) -> record_window.PatientRecordWindow:
    window = open_patient_record(ctx, patient_id)
    assert isinstance(window, record_window.PatientRecordWindow)
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.record is not None, timeout=10_000)
    return window


def test_the_header_shows_who_what_to_watch_for_and_what_is_owed(
    qtbot, clinic, receptionist_ctx, margaret
) -> None:
    window = open_window(qtbot, receptionist_ctx, margaret)
    header = window.header

    assert window.windowTitle() == "O'Donnell, Margaret — CareDesk"
    assert header.name_label.text() == "O'Donnell, Margaret"
    assert header.preferred_label.text() == "“Maggie”"
    assert "Chart P000001" in header.facts_label.text()
    assert "born 7/4/1961" in header.facts_label.text()
    assert "Español" in header.facts_label.text()
    assert header.alerts_label.isVisible()
    assert "Takes warfarin; Artificial hip" in header.alerts_label.text()
    assert "Allergies: Penicillin" in header.alerts_label.text()
    red = header.alerts_label.palette().color(QPalette.ColorRole.WindowText)
    assert red.name() == record_header.ALERT_RED
    assert header.balance_label.text() == "$245.50"
    assert header.balance_caption.text() == "Balance owed"
    assert header.balance_is_owed()
    assert "Periodontal maintenance · Dr. Priya Raman" in header.next_label.text()
    assert header.stage_label.text() == "Consultation · 12 days"
    assert header.log_call_button.isVisible()


def test_opening_is_audited_once_and_a_change_refreshes_the_header(
    qtbot, clinic, receptionist_ctx, margaret
) -> None:
    window = open_window(qtbot, receptionist_ctx, margaret)
    assert openings(clinic.db, margaret) == 1

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    current = patients.patient_header(clinic.db, owner, margaret)
    patients.update_patient(
        clinic.db,
        owner,
        margaret,
        current.version,
        patients.PatientForm(first_name="Margaret", last_name="O'Donnell", medical_alerts=""),
    )
    receptionist_ctx.bus.publish(Changes(patients=True))

    qtbot.waitUntil(lambda: not window.header.alerts_label.isVisible(), timeout=10_000)
    assert "Allergies" not in window.header.alerts_label.text()
    assert openings(clinic.db, margaret) == 1


def test_a_patient_with_nothing_booked_says_so(qtbot, receptionist_ctx, patient_id) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    header = window.header
    assert header.next_label.text() == "No upcoming appointment"
    assert header.balance_label.text() == "$0.00"
    assert not header.balance_is_owed()
    assert not header.alerts_label.isVisible()
    assert "Date of birth not on file" in header.facts_label.text()
    assert window.windowTitle() == "Nguyễn, Zoë — CareDesk"


def test_the_same_patient_opens_one_window(qtbot, receptionist_ctx, patient_id) -> None:
    first = open_window(qtbot, receptionist_ctx, patient_id)
    again = open_patient_record(receptionist_ctx, patient_id)
    assert again is first
    assert len(open_record_windows()) == 1


def test_only_the_details_tab_is_built_until_another_is_chosen(
    qtbot, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    titles = [window.tab_widget.tabText(i) for i in range(window.tab_widget.count())]
    assert titles[0] == "Details"
    assert list(window.tabs) == ["details"]
    assert window.tab_widget.currentIndex() == 0


def press(qtbot, window, key: str) -> None:
    """Ctrl+key on the window, made active first (a tab's loading may move activation)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)


def test_ctrl_number_switches_tabs_and_builds_each_once(
    qtbot, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    # Ctrl+1 … Ctrl+9 and Ctrl+0 reach the first ten tabs; the rest are a click away.
    for number, spec in enumerate(window.specs[:10], start=1):
        press(qtbot, window, record_window.tab_key(number))
        assert window.tab_widget.currentIndex() == number - 1
        assert spec.key in window.tabs
        built = window.tabs[spec.key]
        press(qtbot, window, "1")
        press(qtbot, window, record_window.tab_key(number))
        assert window.tabs[spec.key] is built
        qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert window.tab_widget.currentIndex() >= 0


def test_escape_closes_a_window_with_nothing_typed(qtbot, receptionist_ctx, patient_id) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: open_record_windows() == [], timeout=5_000)


def _type_city(qtbot, window, text: str) -> None:
    edit = window.details.form.line_edits["city"]
    edit.setFocus()
    qtbot.keyClicks(edit, text)
    assert window.details.has_unsaved_changes()


def test_closing_with_unsaved_edits_asks_and_cancel_keeps_the_window(
    qtbot, monkeypatch, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    _type_city(qtbot, window, "Bangor")
    asked: list[str] = []

    def answer(parent, tab_title, patient_name):
        asked.append(f"{tab_title}|{patient_name}")
        return record_window.UnsavedChangesDialog.CANCEL

    monkeypatch.setattr(record_window.UnsavedChangesDialog, "ask", answer)
    qtbot.keyClick(window, "w", Qt.KeyboardModifier.ControlModifier)

    assert asked == ["Details|Zoë Nguyễn"]
    assert window.isVisible()
    assert window.details.form.line_edits["city"].text() == "Bangor"


def test_discard_on_close_closes_without_saving(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    _type_city(qtbot, window, "Bangor")
    monkeypatch.setattr(
        record_window.UnsavedChangesDialog,
        "ask",
        classmethod(lambda cls, *a: cls.DISCARD),
    )
    window.close()
    qtbot.waitUntil(lambda: open_record_windows() == [], timeout=5_000)
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    assert patients.patient_header(clinic.db, owner, patient_id).form.city == ""


def test_save_on_close_saves_then_closes(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    _type_city(qtbot, window, "Bangor")
    monkeypatch.setattr(
        record_window.UnsavedChangesDialog, "ask", classmethod(lambda cls, *a: cls.SAVE)
    )
    window.close()
    qtbot.waitUntil(lambda: open_record_windows() == [], timeout=10_000)
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    assert patients.patient_header(clinic.db, owner, patient_id).form.city == "Bangor"


def test_changing_the_stage_to_lost_shows_the_reason(
    qtbot, monkeypatch, receptionist_ctx, patient_id
) -> None:
    window = open_window(qtbot, receptionist_ctx, patient_id)
    assert window.header.stage_label.text() == "Inquiry · since today"
    monkeypatch.setattr(
        record_header.ChangeStageDialog,
        "ask",
        classmethod(lambda cls, parent, current: ("lost", "Chose another clinic")),
    )
    qtbot.mouseClick(window.header.change_stage_button, Left)
    qtbot.waitUntil(lambda: "Lost" in window.header.stage_label.text(), timeout=10_000)
    assert window.header.stage_label.text() == "Lost · since today — Chose another clinic"


def test_the_stage_dialog_wants_a_reason_for_lost(qtbot) -> None:
    dialog = record_header.ChangeStageDialog(None, "inquiry")
    qtbot.addWidget(dialog)
    assert not dialog.reason_edit.isEnabled()
    dialog.stage_combo.setCurrentIndex(dialog.stage_combo.findData("lost"))
    assert dialog.reason_edit.isEnabled()
    dialog.on_accept_clicked()
    assert dialog.reason_field.error() == "Say why the patient is lost or inactive."
    assert dialog.result() == 0
    qtbot.keyClicks(dialog.reason_edit, "Moved away")
    dialog.on_accept_clicked()
    assert dialog.result() == 1
    assert (dialog.stage(), dialog.reason()) == ("lost", "Moved away")


def test_a_provider_sees_the_record_without_edit_actions(qtbot, provider_ctx, patient_id) -> None:
    window = open_window(qtbot, provider_ctx, patient_id)
    assert not window.header.log_call_button.isVisible()
    assert not window.header.change_stage_button.isVisible()
    assert not window.details.save_button.isVisible()
    assert window.details.form.line_edits["first_name"].isReadOnly()


def test_a_missing_patient_says_the_record_could_not_be_opened(
    qtbot, monkeypatch, receptionist_ctx
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(record_window, "show_warning", lambda parent, text: shown.append(text))
    window = open_patient_record(receptionist_ctx, 987_654)
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert shown == ["This patient record does not exist."]
    assert window.header.name_label.text() == "This patient record could not be opened."
    assert not window.tab_widget.isEnabled()


def test_log_a_call_opens_the_call_log_for_this_patient(
    qtbot, monkeypatch, receptionist_ctx, patient_id
) -> None:
    log_contact = pytest.importorskip("app.ui.patients.log_contact")
    calls: list[tuple[int, str]] = []

    def answer(cls, ctx, parent, pid, channel="phone"):
        calls.append((pid, channel))
        return True

    monkeypatch.setattr(log_contact.LogContactDialog, "ask", classmethod(answer))
    window = open_window(qtbot, receptionist_ctx, patient_id)
    qtbot.mouseClick(window.header.log_call_button, Left)
    assert calls == [(patient_id, "phone")]


def test_each_part_of_the_record_shown_is_audited_once_per_opening(
    qtbot, clinic, receptionist_ctx, owner_ctx
) -> None:
    """Reads of the record beyond its opening (appointments, account, documents…) are in
    the audit trail, once per window opening — and the Audit log answers "who looked at
    this patient this month" by the patient's name."""
    from app.services.patients.records import PatientForm
    from app.ui.audit_window import LOOKED_AT, AuditWindow

    patient_id = patients.create_patient(
        clinic.db, owner_ctx.actor, PatientForm("Zoë", "Nguyễn")
    ).id  # through the service: findable by name
    window = open_window(qtbot, receptionist_ctx, patient_id)
    shown = []
    for index in (1, 2, 1):  # back to a tab already built: not a new look
        window.tab_widget.setCurrentIndex(index)
        shown.append(window.specs[index].title)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    with clinic.db.uow() as session:
        viewed = session.scalars(
            select(AuditEntry.detail)
            .where(AuditEntry.action == "record_viewed", AuditEntry.patient_id == patient_id)
            .order_by(AuditEntry.id)
        ).all()
    assert viewed == shown[:2]
    window.close()

    audit = AuditWindow(owner_ctx)
    qtbot.addWidget(audit)
    audit.resize(1340, 700)
    audit.show()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    audit.action_combo.setCurrentIndex(audit.action_combo.findData(LOOKED_AT))
    qtbot.mouseClick(audit.month_button, Qt.MouseButton.LeftButton)
    picker = audit.patient_picker
    qtbot.keyClicks(picker.edit, "Nguy")
    qtbot.waitUntil(lambda: picker.popup.isVisible() and not picker.is_searching(), timeout=10_000)
    qtbot.keyClick(picker.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ops.pending() == 0 and audit.model.rowCount() == 3, timeout=10_000)
    rows = [audit.model.row_at(i) for i in range(3)]
    assert [r.action for r in rows] == ["record_viewed", "record_viewed", "record_opened"]
    assert {r.staff_name for r in rows} == {"Rita Reception"}
    assert all(r.patient_name == "Nguyễn, Zoë" for r in rows)
    user_cell = audit.model.index(0, 1).data()
    patient_cell = audit.model.index(0, 4).data()
    assert user_cell == "Rita Reception" and patient_cell == f"Nguyễn, Zoë (#{patient_id})"
    save_styled_shot(qtbot, audit, "who-looked-at-this-patient.png")


def test_todays_visit_is_checked_in_from_the_record(
    qtbot, clinic, receptionist_ctx, patient_id, monkeypatch
) -> None:
    """The header offers "Check in (time)" for today's visit; it opens the check-in dialog
    and the visit is stored as arrived.  Another day's visit offers nothing."""
    from zoneinfo import ZoneInfo

    from app.data.models import Appointment
    from app.services.scheduling.booking import at_local

    day = date(2027, 3, 1)
    starts = at_local(day, 9 * 60, ZoneInfo("America/New_York"))
    monkeypatch.setattr(patients, "clinic_today", lambda session, now=None: day)
    monkeypatch.setattr("app.services.scheduling.day_board.utc_now", lambda: starts)
    monkeypatch.setattr("app.services.scheduling.appointment_status.utc_now", lambda: starts)
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Ada Lovelace")
        visit = Appointment(patient_id=patient_id, provider_id=provider.id, starts_at=starts,
                            ends_at=starts + timedelta(minutes=30))  # fmt: skip
        s.add(visit)
        s.flush()
        visit_id = visit.id
    window = open_window(qtbot, receptionist_ctx, patient_id)
    button = window.header.check_in_button
    assert button.isVisible() and button.text().replace("\u202f", " ") == "Chec&k in (9:00 AM)"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.header.check_in_dialog
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    qtbot.mouseClick(dialog.check_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not button.isVisible(), timeout=10_000)  # checked in: gone
    with clinic.db.uow() as s:
        assert s.get(Appointment, visit_id).status == "arrived"
