"""A referral sent to us: a new patient referred in, the duplicate check offering the
record already on file instead, and the consultation booked and linked to the referral."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from sqlalchemy import func, select

from app.data.models.patients import Patient
from app.data.models.providers import Provider
from app.data.models.referrals import Referral
from app.ui.referrals.incoming import BookConsultationQuestion, IncomingReferralDialog
from app.ui.referrals.page import ReferralsPage
from tests.data.factories import add_appointment, add_patient, add_provider
from tests.ui.referrals.conftest import WAIT_MS


def make_dialog(qtbot, ctx) -> IncomingReferralDialog:
    dialog = IncomingReferralDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def type_new_patient(qtbot, dialog, first: str, last: str, born: str) -> None:
    qtbot.mouseClick(dialog.new_radio, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.first_name_edit, first)
    qtbot.keyClicks(dialog.last_name_edit, last)
    qtbot.keyClicks(dialog.dob_edit, born)
    qtbot.keyClicks(dialog.phone_edit, "(207) 555-0175")


def patients_named(db, last: str) -> list[int]:
    with db.uow() as session:
        return list(session.scalars(select(Patient.id).where(Patient.last_name == last)))


def test_a_new_patient_referred_in(qtbot, coordinator_ctx, referrer_id):
    db = coordinator_ctx.db
    dialog = make_dialog(qtbot, coordinator_ctx)
    dialog.referrer_picker.set_contact_id(referrer_id)
    type_new_patient(qtbot, dialog, "Amara", "Okonkwo", "1991-04-22")
    qtbot.keyClicks(dialog.reason_edit, "Veneers consultation")
    dialog.urgency_combo.setCurrentIndex(dialog.urgency_combo.findData("soon"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=WAIT_MS)

    [patient_id] = patients_named(db, "Okonkwo")
    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        assert (patient.first_name, patient.date_of_birth) == ("Amara", date(1991, 4, 22))
        assert patient.lead_source == "Specialist referral"
        referral = session.get(Referral, dialog.created.id)
        assert (referral.direction, referral.status) == ("incoming", "received")
        assert (referral.patient_id, referral.contact_id) == (patient_id, referrer_id)
        assert (referral.reason, referral.urgency) == ("Veneers consultation", "soon")


def test_a_bad_date_of_birth_is_refused_and_nothing_saved(qtbot, coordinator_ctx):
    dialog = make_dialog(qtbot, coordinator_ctx)
    type_new_patient(qtbot, dialog, "Amara", "Okonkwo", "22 Apro")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.fields["date_of_birth"].error().startswith("Type the date of birth as")
    assert dialog.isVisible() and dialog.created is None
    assert patients_named(coordinator_ctx.db, "Okonkwo") == []


def test_the_duplicate_check_offers_the_record_on_file(qtbot, coordinator_ctx, referrer_id):
    db = coordinator_ctx.db
    with db.uow() as session:
        on_file = add_patient(
            session, first_name="Maria", last_name="Lopez", date_of_birth=date(1984, 2, 9)
        ).id
    dialog = make_dialog(qtbot, coordinator_ctx)
    dialog.referrer_picker.set_contact_id(referrer_id)
    type_new_patient(qtbot, dialog, "Maria", "Lopez", "1984-02-09")
    qtbot.keyClicks(dialog.reason_edit, "Implant consultation")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.duplicate_frame.isVisible(), timeout=WAIT_MS)
    assert dialog.created is None
    assert [m.patient.id for m in dialog.duplicates] == [on_file]
    [use] = dialog.duplicate_buttons
    assert use.text().startswith("Use Lopez, Maria")
    assert dialog.add_anyway_button.isVisible()
    assert patients_named(db, "Lopez") == [on_file]  # nothing added yet

    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=WAIT_MS)
    assert dialog.created.patient_id == on_file
    assert patients_named(db, "Lopez") == [on_file]  # linked, no second record
    with db.uow() as session:
        assert session.scalar(select(func.count(Referral.id))) == 1


def test_the_consultation_is_booked_and_linked(
    qtbot, answer, monkeypatch, coordinator_ctx, referrer_id, patient_id
):
    db = coordinator_ctx.db
    with db.uow() as session:
        provider_id = add_provider(session, name="Hannah Whitfield").id
    starts = datetime.combine(coordinator_ctx.today() + timedelta(days=6), datetime.min.time())
    starts = starts.replace(hour=15, tzinfo=UTC)
    booked: list[int] = []

    def find_and_book(ctx, parent, *, patient_id, patient_name, service_id=None, notes=""):
        # The calendar's finder and booking dialog, answered: the 3 pm slot in six days.
        with db.uow() as session:
            patient = session.get(Patient, patient_id)
            provider = session.get(Provider, provider_id)
            booked.append(
                add_appointment(
                    session,
                    patient,
                    provider,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=1),
                ).id
            )
        assert notes == "Referred by Dr. Maria Ruiz, Ruiz Family Dentistry"
        return list(booked)

    monkeypatch.setattr("app.ui.calendar.booking_flow.find_and_book", find_and_book)
    monkeypatch.setattr(BookConsultationQuestion, "ask", classmethod(lambda cls, p, line: True))

    def fill(dialog: IncomingReferralDialog) -> None:
        dialog.referrer_picker.set_contact_id(referrer_id)
        dialog.patient_picker.set_patient(patient_id, "Nguyễn, Zoë")
        qtbot.keyClicks(dialog.reason_edit, "Whitening consultation")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    answer(IncomingReferralDialog, fill)
    page = ReferralsPage(coordinator_ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.mouseClick(page.incoming_button, Qt.MouseButton.LeftButton)

    def linked() -> bool:
        with db.uow() as session:
            referral = session.scalars(select(Referral)).one()
            return referral.status == "booked" and referral.appointment_id == booked[0]

    qtbot.waitUntil(linked, timeout=WAIT_MS)
    with db.uow() as session:
        referral = session.scalars(select(Referral)).one()
        zone = ZoneInfo(coordinator_ctx.details.timezone)
        assert referral.visit_on == starts.astimezone(zone).date()
    # The page shows it booked, with the visit.
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 1 and page.model.row_at(0).status == "booked",
        timeout=WAIT_MS,
    )


def test_a_seen_incoming_referral_offers_the_consult_letter_and_closes(
    qtbot, coordinator_ctx, referrer_id, patient_id
):
    from app.services.referrals import referrals as rs
    from app.ui.print_preview import PrintPreviewDialog
    from app.ui.referrals.referral_window import open_referral_window
    from tests.documents.pdfread import pdf_pages_text

    ctx, db, today = coordinator_ctx, coordinator_ctx.db, coordinator_ctx.today()
    line = rs.create_incoming(
        db, ctx.actor, referrer_contact_id=referrer_id, patient_id=patient_id, new_patient=None,
        reason="Crown on 14",
    )  # fmt: skip
    line = rs.record_booked(db, ctx.actor, line.id, version=line.version, visit_on=today)
    rs.record_seen(db, ctx.actor, line.id, version=line.version, seen_on=today)
    window = open_referral_window(ctx, line.id)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.line is not None, timeout=WAIT_MS)
    assert window.visible_steps() == ["Cl&ose referral"]
    assert window.next_label.text() == "Next: Send the consult letter and close"
    qtbot.mouseClick(window.consult_letter_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChildren(PrintPreviewDialog) != [], timeout=WAIT_MS)
    [letter] = window.findChildren(PrintPreviewDialog)
    qtbot.waitUntil(lambda: letter.page_count() >= 1, timeout=WAIT_MS)
    assert "Ruiz" in " ".join(pdf_pages_text(letter.content()))
    letter.close()
    qtbot.mouseClick(window.close_referral_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.line.status == "closed", timeout=WAIT_MS)
    with db.uow() as session:
        assert session.get(Referral, line.id).closed_on == today
