"""Navigation follows the role; the status bar says who is signed in."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog

from app.data.models.staff import Role
from app.services.clinic.audit_log import AuditFilter, list_entries
from app.services.clinic.staff import list_staff, update_staff
from app.ui import ops
from app.ui.audit_window import AuditWindow
from app.ui.calendar.page import CalendarPage
from app.ui.main_window import EmergencyAccessDialog, MainWindow
from app.ui.patients.page import PatientsPage
from app.ui.settings.settings_page import SettingsPage
from app.ui.today_page import TodayPage

from .conftest import make_context


def test_owner_sees_every_page_and_starts_on_today(qtbot, owner_ctx):
    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.start()
    assert window.page_titles() == [
        "Today",
        "Calendar",
        "Patients",
        "Confirmations",
        "Recalls",
        "Pipeline",
        "Tasks",
        "Outbox",
        "Plans & Payments",
        "Contacts",
        "Referrals",
        "Reports",
        "Settings",
        "Audit log",
    ]
    assert isinstance(window.stack.currentWidget(), TodayPage)
    assert isinstance(window.show_page("calendar"), CalendarPage)
    assert isinstance(window.show_page("patients"), PatientsPage)
    assert isinstance(window.show_page("settings"), SettingsPage)
    assert "Olivia Owner · Owner" in window.user_label.text()
    assert not window.emergency_badge.isVisible()
    assert window.windowTitle() == "CareDesk — Harbour Dental Care"
    audit = window.show_page("audit")
    assert isinstance(audit, AuditWindow)


def test_receptionist_sees_patients_but_neither_settings_nor_audit(qtbot, receptionist_ctx):
    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    assert window.page_titles() == [
        "Today",
        "Calendar",
        "Patients",
        "Confirmations",
        "Recalls",
        "Pipeline",
        "Tasks",
        "Outbox",
        "Plans & Payments",
        "Contacts",
    ]


def test_a_role_with_no_pages_gets_a_home_page(qtbot, receptionist_ctx, monkeypatch):
    monkeypatch.setattr("app.ui.main_window.PAGES", [])
    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    assert window.page_titles() == []
    assert not window.nav.isVisible()
    home = window.stack.currentWidget()
    assert home is window.home_page
    text = home.summary.text()
    assert "Harbour Dental Care" in text
    assert "signed in as <b>Rita Reception</b>, receptionist" in text
    assert "Book, move or cancel appointments" in text
    assert "audit log" not in text.lower()  # not something a receptionist may do


def test_geometry_is_remembered(qtbot, owner_ctx, monkeypatch):
    # The offscreen screen is 800 × 600, narrower than the calendar page's toolbar and
    # Today's list beside its to-do panel (about 1,150 pixels with the navigation; they
    # fit 1,366), so this window shows the other pages only.
    from app.ui.pages import PAGES

    wide = ("calendar", "today")
    monkeypatch.setattr("app.ui.main_window.PAGES", [p for p in PAGES if p.key not in wide])
    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.start()
    window.resize(780, 520)
    size = window.size()
    window.close()
    assert QSettings().value("main_window/geometry") is not None
    again = MainWindow(owner_ctx)
    qtbot.addWidget(again)
    assert again.size() == size


def test_emergency_access_shows_the_badge_and_flags_actions(
    qtbot, clinic, owner_ctx, receptionist, monkeypatch
):
    update_staff(
        clinic.db,
        owner_ctx.actor,
        receptionist.id,
        full_name="Rita Reception",
        role=receptionist.role,
        may_break_glass=True,
    )
    ctx = make_context(clinic, "rita", "blue tulips on friday 9")
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.start()
    monkeypatch.setattr(
        EmergencyAccessDialog,
        "ask",
        classmethod(lambda cls, parent: "Patient collapsed in the waiting room"),
    )
    monkeypatch.setattr("app.ui.main_window.show_info", lambda *a, **k: None)
    window.emergency_action.trigger()
    qtbot.waitUntil(lambda: ctx.actor.in_emergency, timeout=10_000)
    assert window.emergency_badge.isVisible()
    assert window.emergency_badge.text() == "EMERGENCY ACCESS"
    assert not window.emergency_action.isEnabled()
    rows = list_entries(clinic.db, owner_ctx.actor, AuditFilter(action="emergency_access"))
    assert rows and rows[0].break_glass


def test_emergency_access_refused_without_a_grant(qtbot, receptionist_ctx, monkeypatch):
    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    monkeypatch.setattr(
        EmergencyAccessDialog, "ask", classmethod(lambda cls, parent: "Needed for a patient now")
    )
    shown: list[str] = []
    monkeypatch.setattr("app.ui.main_window.show_warning", lambda _p, text: shown.append(text))
    window.emergency_action.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert not receptionist_ctx.actor.in_emergency
    assert not window.emergency_badge.isVisible()
    assert shown and "an owner must grant it first" in shown[0]


def test_emergency_dialog_escape_cancels(qtbot):
    dialog = EmergencyAccessDialog(None)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClick(dialog, "\x1b")
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_sign_out_returns_to_login(qtbot, owner_ctx):
    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.start()
    with qtbot.waitSignal(window.signed_out):
        window.sign_out_button.click()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)
    assert len(list_staff(owner_ctx.db, owner_ctx.actor)) == 1
    actions = [r.action for r in list_entries(owner_ctx.db, owner_ctx.actor, AuditFilter())]
    assert actions[0] == "logout"


def test_a_reset_password_must_be_replaced_before_work_starts(
    qtbot, clinic, owner_ctx, receptionist, monkeypatch
):
    from app.services.clinic import auth, staff
    from app.ui.change_password import ChangePasswordDialog, PasswordChange

    staff.reset_password(clinic.db, owner_ctx.actor, receptionist.id, "temporary-pass-4471")
    asked = []

    def ask(cls, parent, *, forced, error=None):
        asked.append((forced, error))
        if error is None:  # first try: too short, the dialog comes back with the reason
            return PasswordChange("temporary-pass-4471", "short")
        return PasswordChange("temporary-pass-4471", "sunny harbour days 2027")

    monkeypatch.setattr(ChangePasswordDialog, "ask", classmethod(ask))
    ctx = make_context(clinic, "rita", "temporary-pass-4471")
    assert ctx.actor.must_change_password
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.start()
    qtbot.waitUntil(lambda: len(asked) == 2 and ops.pending() == 0)
    assert asked[0] == (True, None)
    assert "at least 12" in str(asked[1][1])
    qtbot.waitUntil(lambda: not window.ctx.actor.must_change_password)
    assert auth.login(clinic.db, "rita", "sunny harbour days 2027").username == "rita"


def test_refusing_to_change_a_reset_password_signs_out(
    qtbot, clinic, owner_ctx, receptionist, monkeypatch
):
    from app.services.clinic import staff
    from app.ui.change_password import ChangePasswordDialog

    staff.reset_password(clinic.db, owner_ctx.actor, receptionist.id, "temporary-pass-4471")
    monkeypatch.setattr(ChangePasswordDialog, "ask", classmethod(lambda cls, *a, **k: None))
    window = MainWindow(make_context(clinic, "rita", "temporary-pass-4471"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.signed_out):
        window.start()


def test_change_password_dialog_checks_the_repeat(qtbot):
    from app.ui.change_password import ChangePasswordDialog

    dialog = ChangePasswordDialog(None, forced=False)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.current_edit, "old password 123")
    qtbot.keyClicks(dialog.new_edit, "new password 4567")
    qtbot.keyClicks(dialog.confirm_edit, "new password 4568")
    dialog.on_accept_clicked()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "not the same" in dialog.fields["confirm"].error()


def test_signing_in_charges_the_late_fees_that_fell_due(qtbot, owner_ctx):
    """Nobody runs a nightly job at a clinic: the first sign-in charges overdue installments'
    late fees (once each), as the system."""
    from datetime import timedelta
    from decimal import Decimal

    from sqlalchemy import select

    from app.data.models import Charge, Installment, PaymentPlan
    from tests.data.factories import add_named_patient

    patient_id = add_named_patient(owner_ctx.db)
    due = owner_ctx.today() - timedelta(days=20)
    with owner_ctx.db.uow() as session:
        plan = PaymentPlan(
            patient_id=patient_id,
            status="active",
            plan_date=due - timedelta(days=30),
            total_amount=Decimal("300.00"),
            financed_amount=Decimal("300.00"),
            installment_count=1,
            first_due_on=due,
            late_fee_kind="amount",
            late_fee_amount=Decimal("25.00"),
            grace_days=10,
        )
        plan.installments.append(
            Installment(
                sequence=1,
                due_on=due,
                amount=Decimal("300.00"),
                principal=Decimal("300.00"),
                balance_after=Decimal("0.00"),
            )
        )
        session.add(plan)
    for _ in range(2):  # a second sign-in charges nothing more
        window = MainWindow(owner_ctx)
        qtbot.addWidget(window)
        window.start()
        ops.wait_for_done()
        qtbot.waitUntil(lambda: ops.pending() == 0)
        window.close()
    with owner_ctx.db.uow() as session:
        fees = session.scalars(select(Charge).where(Charge.kind == "late_payment_fee")).all()
        assert [(f.amount, f.installment_id) for f in fees] == [
            (Decimal("25.00"), session.scalar(select(Installment.id)))
        ]
    entries = list_entries(owner_ctx.db, owner_ctx.actor, AuditFilter(patient_id=patient_id))
    assert [e.username for e in entries if e.entity == "charges"] == ["system"]


def test_an_action_refused_because_the_account_changed_locks_the_session(
    qtbot, clinic, receptionist_ctx
):
    """Any operation of the session refused as "your account changed" locks the window
    with the reason; signing in again with the new role goes on with that role's pages."""
    from app.services.clinic import auth, staff
    from app.services.clinic.permissions import role_allows
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD

    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    rita = receptionist_ctx.actor
    staff.update_staff(clinic.db, owner, rita.staff_id, full_name="Rita Reception",
                       role=Role.COORDINATOR, may_break_glass=False)  # fmt: skip
    db = receptionist_ctx.db
    ops.run_write(lambda: auth.lock_screen(db, rita, idle=False))  # any action of hers
    qtbot.waitUntil(lambda: window.screen_lock.is_locked, timeout=10_000)
    subtitle = window.screen_lock.overlay.login.subtitle_label.text()
    assert subtitle.startswith("Your role was changed (you are now a coordinator)")
    login = window.screen_lock.overlay.login
    qtbot.keyClicks(login.password_edit, STAFF_PASSWORD)
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.screen_lock.is_locked, timeout=10_000)
    assert window.ctx.actor.role == Role.COORDINATOR
    titles = window.page_titles()
    assert [spec.title for spec in window.allowed_pages()] == titles
    assert role_allows(Role.COORDINATOR, window.allowed_pages()[0].permission)


def test_a_read_after_the_account_was_deactivated_locks_the_session_with_one_warning(
    qtbot, clinic, receptionist_ctx
):
    """A pure read (the calendar refreshing) is re-checked like a write: the window locks
    with the reason, and the calendar's own failure shows it once, not once per read."""
    from app.services.clinic import auth, staff
    from app.ui.widgets import messages
    from tests.ui.conftest import OWNER_PASSWORD

    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    calendar = window.show_page("calendar")
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.set_active(clinic.db, owner, receptionist_ctx.actor.staff_id, False)
    for _ in range(3):  # the first failure locks (closing its box); two fail after
        calendar.refresh()
    qtbot.waitUntil(lambda: window.screen_lock.is_locked, timeout=10_000)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    subtitle = window.screen_lock.overlay.login.subtitle_label.text()
    assert subtitle.startswith("Your account was deactivated")
    warnings = [box.text() for box in messages._open_boxes if box.isVisible()]
    assert len(warnings) == 1 and warnings[0].startswith("Your account was deactivated")
    for box in list(messages._open_boxes):
        box.close()
