"""Record → Details as the desk sees a STOP, a bounced address and a date of death: said under
the consents, ended by ticking "May text" again or typing a new address, a date checked."""

from __future__ import annotations

from datetime import UTC, date, datetime

from PySide6.QtCore import Qt

from app.data.models.patients import Patient
from app.ui import ops
from app.ui.patients.details_tab import DetailsTab
from app.ui.patients.record_header import RecordHeader
from tests.data.factories import add_patient

Left = Qt.MouseButton.LeftButton
STOPPED_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
BOUNCED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def add_stopped_patient(clinic) -> int:
    with clinic.db.uow() as session:
        return add_patient(
            session,
            first_name="Ana",
            last_name="Ruiz",
            date_of_birth=date(1984, 11, 2),
            mobile_phone="+12075550121",
            email="ana@example.com",
            may_text=True,
            may_email=True,
            text_opted_out_at=STOPPED_AT,
            email_bounced_at=BOUNCED_AT,
        ).id


def stored(clinic, patient_id: int) -> Patient:
    with clinic.db.uow() as session:
        patient = session.get(Patient, patient_id)
        session.expunge(patient)
        return patient


def make_tab(qtbot, ctx, patient_id: int) -> DetailsTab:
    tab = DetailsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1200, 700)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=10_000)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return tab


def retype(qtbot, edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def click_save(qtbot, tab: DetailsTab) -> None:
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Left)
    qtbot.waitUntil(lambda: not tab._saving and ops.pending() == 0, timeout=10_000)


def header_facts(qtbot, ctx, patient_id: int) -> str:
    header = RecordHeader(ctx, patient_id)
    qtbot.addWidget(header)
    header.reload()
    qtbot.waitUntil(lambda: header.record is not None, timeout=10_000)
    return header.facts_label.text()


def test_a_stop_and_a_bounce_are_said_and_ended_by_the_desk(
    qtbot, clinic, receptionist_ctx
) -> None:
    ana = add_stopped_patient(clinic)
    assert header_facts(qtbot, receptionist_ctx, ana).endswith(
        " · No texts (STOP) · E-mail bounced"
    )
    tab = make_tab(qtbot, receptionist_ctx, ana)
    may_text = tab.form.consent_checks["may_text"]
    notice = tab.form.messaging_notice
    assert not may_text.isChecked()
    assert notice.isVisible()
    assert "Texts: opted out (STOP on Nov 3, 2026)" in notice.text()
    assert "E-mail bounced on Nov 20, 2026" in notice.text()

    may_text.setFocus()
    qtbot.keyClick(may_text, Qt.Key.Key_Space)
    assert may_text.isChecked()
    assert "saving ends the opt-out" in notice.text()
    click_save(qtbot, tab)
    after = stored(clinic, ana)
    assert (after.may_text, after.text_opted_out_at) == (True, None)
    assert after.email_bounced_at is not None
    assert "Texts" not in notice.text()
    assert "E-mail bounced" in notice.text()

    retype(qtbot, tab.form.line_edits["email"], "ana.ruiz@example.org")
    click_save(qtbot, tab)
    after = stored(clinic, ana)
    assert (after.email, after.email_bounced_at) == ("ana.ruiz@example.org", None)
    assert not notice.isVisible()
    facts = header_facts(qtbot, receptionist_ctx, ana)
    assert "STOP" not in facts and "bounced" not in facts


def test_a_date_of_death_is_checked_as_typed_and_saved_when_it_can_be(
    qtbot, clinic, receptionist_ctx
) -> None:
    ana = add_stopped_patient(clinic)
    tab = make_tab(qtbot, receptionist_ctx, ana)
    died = tab.form.deceased_edit
    field = tab.form.fields["deceased_on"]

    retype(qtbot, died, "2099-01-01")
    assert field.error() == "The date of death cannot be in the future."
    assert not tab.save_button.isEnabled()
    retype(qtbot, died, "1984-11-01")
    assert field.error() == "The date of death cannot be before the date of birth."
    assert not tab.save_button.isEnabled()
    retype(qtbot, died, "last week")
    assert field.error().startswith("Type the date of death as")
    assert stored(clinic, ana).deceased_on is None  # nothing saved meanwhile

    retype(qtbot, died, "2020-05-01")
    assert field.error() == ""
    click_save(qtbot, tab)
    assert stored(clinic, ana).deceased_on == date(2020, 5, 1)
    assert died.text() == "5/1/2020"

    assert "Died 5/1/2020" in header_facts(qtbot, receptionist_ctx, ana)


def test_the_address_that_bounced_is_confirmed_right_and_may_get_e_mail_again(
    qtbot, clinic, receptionist_ctx
) -> None:
    ana = add_stopped_patient(clinic)
    tab = make_tab(qtbot, receptionist_ctx, ana)
    notice = tab.form.messaging_notice
    assert "The address is right" in notice.text()
    retype(qtbot, tab.form.line_edits["city"], "Bath")  # typing under way is kept
    notice.linkActivated.emit("confirm")
    qtbot.waitUntil(lambda: stored(clinic, ana).email_bounced_at is None, timeout=10_000)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert "E-mail bounced" not in notice.text()
    assert tab.status_label.text() == "E-mail may go to this address again."
    assert tab.form.line_edits["city"].text() == "Bath"
    click_save(qtbot, tab)  # against the version the confirmation left: no conflict
    after = stored(clinic, ana)
    assert (after.city, after.email, after.email_bounced_at) == ("Bath", "ana@example.com", None)


def test_a_role_that_cannot_edit_is_not_offered_to_clear_the_bounce(
    qtbot, clinic, owner_ctx
) -> None:
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    ana = add_stopped_patient(clinic)
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul", Role.PROVIDER, STAFF_PASSWORD)
    tab = make_tab(qtbot, make_context(clinic, "paul", STAFF_PASSWORD), ana)
    assert "E-mail bounced" in tab.form.messaging_notice.text()
    assert "The address is right" not in tab.form.messaging_notice.text()
