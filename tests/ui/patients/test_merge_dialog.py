"""Merging two records: side by side, swap, confirm, merge, report and broadcast."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from app.data.models.payments import Charge
from app.services.changes import Changes
from app.services.patients import merge
from app.services.patients import records as patients
from app.services.patients import search as patient_search
from app.services.patients.records import PatientForm
from app.ui import ops
from app.ui.patients.merge_dialog import MergeDialog, moved_summary


@pytest.fixture
def pair(clinic, owner_ctx):
    patients.create_patient(
        clinic.db, owner_ctx.actor, PatientForm(first_name="Ana", last_name="Ruiz")
    )
    dup = patients.create_patient(
        clinic.db,
        owner_ctx.actor,
        PatientForm(first_name="Anna", last_name="Ruiz", email="anna@example.com"),
    )
    with clinic.db.uow() as session:
        session.add(
            Charge(
                patient_id=dup.id,
                service_date=date(2026, 1, 5),
                description="Cleaning",
                amount=Decimal("120.00"),
            )
        )
    hits = patient_search.search_patients(clinic.db, owner_ctx.actor, "ruiz")
    return hits  # Ana (kept by default: the older record), Anna


def _dialog(qtbot, ctx, first, second) -> MergeDialog:
    dialog = MergeDialog(ctx, first, second)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_both_records_show_side_by_side_and_can_be_swapped(qtbot, coordinator_ctx, pair) -> None:
    ana, anna = pair
    dialog = _dialog(qtbot, coordinator_ctx, anna, ana)
    left, right = dialog._cells[0]
    assert (left.text(), right.text()) == ("Ruiz, Ana", "Ruiz, Anna")
    assert dialog._cells[3][1].text() == "anna@example.com"
    assert "cannot be undone" in dialog.warning.text()
    assert f"chart {anna.chart_number} is closed" in dialog.warning.text()
    qtbot.mouseClick(dialog.swap_button, Qt.MouseButton.LeftButton)
    assert (left.text(), right.text()) == ("Ruiz, Anna", "Ruiz, Ana")
    assert (dialog.keep.id, dialog.merge.id) == (anna.id, ana.id)


def test_merging_needs_the_confirmation_then_reports_what_moved(
    qtbot, clinic, coordinator_ctx, pair
) -> None:
    ana, anna = pair
    published: list[Changes] = []
    coordinator_ctx.bus.changed.connect(published.append)
    dialog = _dialog(qtbot, coordinator_ctx, ana, anna)
    assert not dialog.merge_button.isEnabled()
    dialog.confirm_check.click()
    assert dialog.merge_button.isEnabled()
    with qtbot.waitSignal(dialog.merged, timeout=10_000):
        qtbot.mouseClick(dialog.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ops.pending() == 0)
    assert dialog.result_label.isVisible()
    assert f"Chart {anna.chart_number} was merged into chart {ana.chart_number}" in (
        dialog.result_label.text()
    )
    assert "charges (1)" in dialog.result_label.text()
    assert dialog.cancel_button.text() == "Close" and dialog.merge_button.isHidden()
    (changes,) = published
    assert changes.patients and changes.appointments and changes.notes
    assert changes.plans and changes.payments and changes.documents
    merged = patients.open_patient(clinic.db, coordinator_ctx.actor, anna.id)
    assert merged.merged_into_id == ana.id and not merged.is_active


def test_a_refused_merge_says_why_and_can_be_tried_again(
    qtbot, monkeypatch, coordinator_ctx, pair
) -> None:
    from app.services.errors import ValidationError

    def refuse(*_args):
        raise ValidationError("One of these records was already merged into another.")

    monkeypatch.setattr(merge, "merge_patients", refuse)
    dialog = _dialog(qtbot, coordinator_ctx, *pair)
    dialog.confirm_check.click()
    qtbot.mouseClick(dialog.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result_label.isVisible())
    assert "already merged" in dialog.result_label.text()
    assert dialog.merge_button.isEnabled() and dialog.result_value is None


def test_the_summary_of_what_moved_reads_plainly() -> None:
    assert moved_summary({}) == "Nothing else was on file for the merged record."
    assert moved_summary({"appointments": 3, "referrals.referred_by_patient_id": 1}) == (
        "Moved to the kept record: appointments (3), referrals by referred by patient (1)."
    )
