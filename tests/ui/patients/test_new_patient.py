"""New patient: the form, the duplicate warning with "Open" links, and nothing lost on Escape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from app.data.models import Patient
from app.services.clinic import auth
from app.services.patients import records as patients
from app.ui import ops
from app.ui.patients import new_patient
from app.ui.patients.new_patient import NewPatientDialog, split_typed_name
from app.ui.patients.windows import open_record_windows
from tests.ui.conftest import OWNER_PASSWORD

Left = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def close_record_windows(qtbot) -> Iterator[None]:
    yield
    for window in open_record_windows():
        window._may_close = True
        window.close()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def patient_count(db) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(Patient))


def make_dialog(qtbot, ctx, initial_name: str = "") -> NewPatientDialog:
    dialog = NewPatientDialog(ctx, None, initial_name)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return dialog


def fill(qtbot, dialog: NewPatientDialog, first: str, last: str, born: str = "") -> None:
    form = dialog.form
    qtbot.keyClicks(form.line_edits["first_name"], first)
    qtbot.keyClicks(form.line_edits["last_name"], last)
    if born:
        qtbot.keyClicks(form.dob_edit, born)


def test_focus_starts_in_first_name_and_a_new_patient_is_created(
    qtbot, clinic, receptionist_ctx
) -> None:
    dialog = make_dialog(qtbot, receptionist_ctx)
    assert dialog.focusWidget() is dialog.form.line_edits["first_name"]
    fill(qtbot, dialog, "Ana", "Ruiz", "3/14/1985")
    qtbot.keyClicks(dialog.form.line_edits["mobile_phone"], "207 555 0101")
    qtbot.keyClick(dialog.form.line_edits["mobile_phone"], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.created_id is not None, timeout=10_000)

    assert dialog.result() == NewPatientDialog.DialogCode.Accepted
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    record = patients.patient_header(clinic.db, owner, dialog.created_id)
    assert (record.form.first_name, record.form.last_name) == ("Ana", "Ruiz")
    assert record.form.date_of_birth == date(1985, 3, 14)
    assert record.form.mobile_phone == "+12075550101"


def test_a_missing_last_name_is_named_and_nothing_is_created(
    qtbot, clinic, receptionist_ctx
) -> None:
    dialog = make_dialog(qtbot, receptionist_ctx)
    qtbot.keyClicks(dialog.form.line_edits["first_name"], "Ana")
    qtbot.mouseClick(dialog.save_button, Left)
    assert dialog.form.fields["last_name"].error() == "Last name is required."
    assert dialog.isVisible()
    assert patient_count(clinic.db) == 0


def test_same_name_and_birthday_warns_and_open_shows_the_patient_on_file(
    qtbot, clinic, receptionist_ctx
) -> None:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    zoe = patients.create_patient(
        clinic.db,
        owner,
        patients.PatientForm(first_name="Zoë", last_name="Nguyễn", date_of_birth=date(1985, 3, 14)),
    )
    dialog = make_dialog(qtbot, receptionist_ctx, initial_name="zoe nguyen")
    assert dialog.form.line_edits["first_name"].text() == "Zoe"
    assert dialog.form.line_edits["last_name"].text() == "Nguyen"
    qtbot.keyClicks(dialog.form.dob_edit, "1985-03-14")
    qtbot.mouseClick(dialog.save_button, Left)
    qtbot.waitUntil(dialog.duplicate_frame.isVisible, timeout=10_000)

    texts = [w.text() for w in dialog.duplicate_frame.findChildren(new_patient.QLabel) if w.text()]
    assert any("Nguyễn, Zoë" in t and "same name and date of birth" in t for t in texts)
    assert [b.text() for b in dialog.duplicate_links] == ["Open Nguyễn, Zoë"]
    assert patient_count(clinic.db) == 1

    qtbot.mouseClick(dialog.duplicate_links[0], Left)
    qtbot.waitUntil(lambda: len(open_record_windows()) == 1, timeout=10_000)
    window = open_record_windows()[0]
    assert window.patient_id == zoe.id
    assert not dialog.isVisible()
    assert dialog.created_id is None
    assert patient_count(clinic.db) == 1


def test_create_anyway_makes_a_second_record(qtbot, clinic, receptionist_ctx) -> None:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    patients.create_patient(
        clinic.db,
        owner,
        patients.PatientForm(first_name="Ana", last_name="Ruiz", mobile_phone="207 555 0101"),
    )
    dialog = make_dialog(qtbot, receptionist_ctx)
    fill(qtbot, dialog, "Ana", "Ruiz-Diaz")
    qtbot.keyClicks(dialog.form.line_edits["mobile_phone"], "(207) 555-0101")
    qtbot.mouseClick(dialog.save_button, Left)
    qtbot.waitUntil(dialog.duplicate_frame.isVisible, timeout=10_000)
    assert "same phone number" in dialog.duplicate_frame.findChildren(new_patient.QLabel)[1].text()
    qtbot.mouseClick(dialog.create_anyway_button, Left)
    qtbot.waitUntil(lambda: dialog.created_id is not None, timeout=10_000)
    assert patient_count(clinic.db) == 2


def test_escape_after_typing_asks_before_losing_anything(
    qtbot, monkeypatch, receptionist_ctx
) -> None:
    dialog = make_dialog(qtbot, receptionist_ctx)
    qtbot.keyClicks(dialog.form.line_edits["first_name"], "Ana")
    asked: list[int] = []
    monkeypatch.setattr(
        new_patient.DiscardNewPatient, "ask", classmethod(lambda cls, p: asked.append(1) and False)
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert asked == [1]
    assert dialog.isVisible()
    assert dialog.form.line_edits["first_name"].text() == "Ana"


def test_escape_on_an_untouched_form_closes_without_asking(
    qtbot, monkeypatch, receptionist_ctx
) -> None:
    dialog = make_dialog(qtbot, receptionist_ctx, initial_name="Ruiz")
    monkeypatch.setattr(
        new_patient.DiscardNewPatient, "ask", classmethod(lambda cls, p: pytest.fail("asked"))
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_ten_thousand_character_name_gets_a_message(qtbot, clinic, receptionist_ctx) -> None:
    dialog = make_dialog(qtbot, receptionist_ctx)
    dialog.form.line_edits["first_name"].setFocus()
    dialog.form.line_edits["first_name"].insert("A" * 10_000)
    dialog.form.on_line_edited("first_name", dialog.form.line_edits["first_name"].text())
    qtbot.keyClicks(dialog.form.line_edits["last_name"], "Ruiz")
    qtbot.mouseClick(dialog.save_button, Left)
    assert dialog.form.fields["first_name"].error() == (
        "First name is too long: at most 100 characters."
    )
    assert patient_count(clinic.db) == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("nguyen", ("", "Nguyen")),
        ("Zoë Nguyễn", ("Zoë", "Nguyễn")),
        ("Nguyen, Zoe", ("Zoe", "Nguyen")),
        ("  ", ("", "")),
    ],
)
def test_a_typed_search_prefills_the_names(typed, expected) -> None:
    assert split_typed_name(typed) == expected
