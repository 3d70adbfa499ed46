"""Record → Care path, built directly with a context: the open threads on top (what each
waits on, in bold words; overdue said in words), the steps below newest first and
narrowed to one thread from the keyboard, the empty state, and a refresh when a referral
moves on elsewhere — through the real services."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from app.services.clinic import auth, staff
from app.services.referrals import referrals as rs
from app.ui import ops
from app.ui.patients.care_tab import NOTHING_GOING_ON, CareTab
from tests.data.factories import add_named_patient
from tests.services.test_care_timeline import SURGEON, TODAY, Care, at
from tests.ui.conftest import STAFF_PASSWORD, make_context

SHOTS = "/tmp/shots"


@pytest.fixture
def care(clinic, owner_ctx, frozen_clock) -> Care:
    def make_staff(username: str, role: str, full_name: str):
        staff.create_staff(clinic.db, owner_ctx.actor, username, full_name, role, STAFF_PASSWORD)
        return auth.login(clinic.db, username, STAFF_PASSWORD)

    built = Care(clinic, owner_ctx.actor, make_staff, frozen_clock)
    built.plan()
    built.referral_to("report_received")
    frozen_clock(at(TODAY, 17))
    return built


def make_tab(qtbot, ctx, patient_id) -> CareTab:
    tab = CareTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 620)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def shot(qtbot, tab, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    qtbot.wait(50)  # the summary's height settles once its lines have wrapped
    tab.grab().save(os.path.join(SHOTS, name))


def steps(tab) -> list[tuple[str, ...]]:
    model = tab.model
    return [
        tuple(model.data(model.index(r, c)) for c in range(model.columnCount()))
        for r in range(model.rowCount())
    ]


def test_the_summary_says_what_each_thread_waits_on_and_the_steps_follow(qtbot, clinic, care):
    ctx = make_context(clinic, "cora", STAFF_PASSWORD)
    tab = make_tab(qtbot, ctx, care.patient_id)
    shot(qtbot, tab, "care-path.png")

    lines = [label.accessibleName() for label in tab.summary_lines]
    assert lines == [
        f"{SURGEON} — Report received · 34 days in this stage · Dr. Daniel Okafor. "
        "Waiting on Dr. Daniel Okafor to acknowledge the report.",
        "Plan: Implant and crown — Phase 2 of 3: Implant placement · Dr. Mina Park · next "
        "visit Dec 10, 2026. Waiting on the patient to attend.",
    ]
    # Who it waits on stands out in bold words, not by colour alone.
    assert "Waiting on <b>the patient to attend</b>" in tab.summary_lines[1].text()
    assert all(label.isVisible() for label in tab.summary_lines)

    rows = steps(tab)
    assert rows[0] == ("Nov 9, 2026", "Visits", "Missed a visit", "Dr. Daniel Okafor")
    assert rows[-1] == ("Sep 14, 2026", "Visits", "Seen for a visit", "Dr. Daniel Okafor")
    assert ("Oct 22, 2026", "Plan: Implant and crown", "Plan accepted", "—") in rows

    # Narrowed to the plan from the keyboard: its steps alone, newest first.
    tab.thread_filter.setFocus()
    index = tab.thread_filter.findText("Plan: Implant and crown")
    while tab.thread_filter.currentIndex() != index:
        qtbot.keyClick(tab.thread_filter, Qt.Key.Key_Down)
    assert [r[2] for r in steps(tab)] == [
        "Phase 1 of 3 completed: Extraction",
        "Seen: Extraction (phase 1 of 3)",
        "Plan accepted",
        "Plan presented: Implant and crown (3 phases)",
    ]
    qtbot.keyClick(tab.thread_filter, Qt.Key.Key_Tab)
    assert tab.table.hasFocus() or not tab.isActiveWindow()


def test_an_overdue_thread_says_so_in_words(qtbot, clinic, owner_ctx, frozen_clock):
    def make_staff(username: str, role: str, full_name: str):
        staff.create_staff(clinic.db, owner_ctx.actor, username, full_name, role, STAFF_PASSWORD)
        return auth.login(clinic.db, username, STAFF_PASSWORD)

    care = Care(clinic, owner_ctx.actor, make_staff, frozen_clock)
    care.referral_to("sent")  # Oct 21, never booked
    frozen_clock(at(TODAY, 17))
    tab = make_tab(qtbot, owner_ctx, care.patient_id)
    (line,) = tab.summary_lines
    assert line.accessibleName().endswith(
        "Waiting on the specialist's office to book. "
        "Overdue: No visit booked 47 days after sending."
    )
    assert "<b>Overdue:</b>" in line.text()
    shot(qtbot, tab, "care-overdue.png")


def test_a_patient_with_nothing_going_on_gets_a_sentence(qtbot, clinic, owner_ctx):
    patient_id = add_named_patient(clinic.db)
    tab = make_tab(qtbot, owner_ctx, patient_id)
    assert tab.stack.currentWidget() is tab.empty_label
    assert tab.empty_label.isVisible() and tab.empty_label.text() == NOTHING_GOING_ON
    shot(qtbot, tab, "care-empty.png")


def test_the_desk_sees_that_a_consultation_took_place_not_what_was_said(qtbot, clinic, care):
    desk = make_context(clinic, "rita", STAFF_PASSWORD)
    tab = make_tab(qtbot, desk, care.patient_id)
    whats = [r[2] for r in steps(tab)]
    assert "Consultation" in whats
    assert not any("Missing #14" in what for what in whats)


def test_a_referral_moving_on_elsewhere_refreshes_the_path(qtbot, clinic, care):
    ctx = make_context(clinic, "cora", STAFF_PASSWORD)
    tab = make_tab(qtbot, ctx, care.patient_id)
    line = rs.patient_referrals(clinic.db, ctx.actor, care.patient_id)[0]
    # Dr. Okafor acknowledges the report from his own desk (a write broadcast on the bus).
    ops.run_write(
        lambda: rs.acknowledge_report(clinic.db, care.okafor_login, line.id, version=line.version)
    )
    qtbot.waitUntil(
        lambda: "Waiting on us to close the referral." in tab.summary_lines[0].accessibleName(),
        timeout=10_000,
    )
    assert steps(tab)[0][2] == "Report acknowledged"
