"""The main window: navigation on the left, the page on the right, who is signed in below."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.actor import Actor
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.backups.scheduler import BackupScheduler
from app.ui.context import UiContext
from app.ui.home_page import HomePage
from app.ui.labels import role_label
from app.ui.lock import ScreenLock
from app.ui.messages.sender import BackgroundSender
from app.ui.pages import PAGES, PageSpec
from app.ui.widgets.form_field import dialog_buttons
from app.ui.widgets.messages import show_info, show_warning

_log = logging.getLogger(__name__)

GEOMETRY_KEY = "main_window/geometry"
STATE_KEY = "main_window/state"


class EmergencyAccessDialog(QDialog):
    """Asks why emergency (break-glass) access is needed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Emergency access")
        intro = QLabel(
            "Emergency access gives you read access to every patient record for the rest of "
            "this session. Every action you take is flagged in the audit log for the owner "
            "to review.\n\nSay why you need it:"
        )
        intro.setWordWrap(True)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setPlaceholderText(
            "e.g. Patient in the chair reports an allergic reaction"
        )
        self.reason_edit.setTabChangesFocus(True)
        self.reason_edit.setFixedHeight(90)
        buttons, _accept = dialog_buttons("Open emergency access")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.reason_edit)
        layout.addWidget(buttons)
        self.resize(460, 260)

    @classmethod
    def ask(cls, parent: QWidget | None) -> str | None:
        dialog = cls(parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.reason_edit.toPlainText().strip()


class MainWindow(QMainWindow):
    signed_out = Signal()
    #: Closed for good (Quit or the window's close button), not by signing out.
    closed = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("mainWindow")
        self._pages: dict[str, QWidget] = {}
        self._specs: list[PageSpec] = []
        self._signing_out = False
        #: A MoveRequest the owner made: the application moves the clinic once signed out.
        self.pending_move = None
        #: A RestoreRequest the owner made: the application restores it once signed out.
        self.pending_restore = None
        self._hidden_records: list[QWidget] = []

        host = QWidget()
        host.setObjectName("centralHost")
        self.shell = QWidget()
        shell_layout = QHBoxLayout(self.shell)
        shell_layout.setContentsMargins(0, 0, 0, 0)
        shell_layout.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(200)
        self.nav.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pageStack")
        shell_layout.addWidget(self.nav)
        shell_layout.addWidget(self.stack, 1)
        host_layout = QVBoxLayout(host)
        host_layout.setContentsMargins(0, 0, 0, 0)
        host_layout.addWidget(self.shell)
        self.setCentralWidget(host)
        self.screen_lock = ScreenLock(ctx, host, self.shell)
        # Sends the outbox on its own thread while someone who may send is signed in; the
        # application starts it (a window made by a test or the screenshots sends nothing).
        self.message_sender = BackgroundSender(ctx, self)
        # Automatic backups while someone is signed in (and while the screen is locked: see
        # app.ui.backups.scheduler); the application starts it, like the sender.
        self.backup_scheduler = BackupScheduler(ctx, self)
        self.home_page: HomePage | None = None

        self._build_actions()
        self._build_status_bar()
        self._connect_signals()
        self.refresh_title()
        self.refresh_status()
        self.rebuild_navigation()
        self.resize(1180, 760)
        self._restore_geometry()

    # --- construction -------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.lock_action = QAction("&Lock screen", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.sign_out_action = QAction("Sign &out", self)
        self.sign_out_action.setShortcut(QKeySequence("Ctrl+Shift+Q"))
        self.emergency_action = QAction("&Emergency access…", self)
        self.change_password_action = QAction("Change my &password…", self)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        menu = self.menuBar().addMenu("&CareDesk")
        menu.addAction(self.lock_action)
        menu.addAction(self.emergency_action)
        menu.addAction(self.change_password_action)
        menu.addSeparator()
        menu.addAction(self.sign_out_action)
        menu.addAction(self.quit_action)
        # Moving in and out: the owner's (rebuilt with the Go menu for whoever signs in).
        self.file_menu = self.menuBar().addMenu("&File")
        self.import_action = QAction("&Import from another system…", self)
        self.import_history_action = QAction("Import &history…", self)
        self.export_clinic_action = QAction("&Export the clinic's data…", self)
        self.file_menu.addAction(self.import_action)
        self.file_menu.addAction(self.import_history_action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.export_clinic_action)
        self.go_menu = self.menuBar().addMenu("&Go")
        self._go_actions: list[QAction] = []
        for action in (self.lock_action, self.sign_out_action, self.quit_action):
            self.addAction(action)  # shortcuts work even with the menu bar hidden

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        self.user_label = QLabel()
        self.user_label.setObjectName("statusUser")
        self.emergency_badge = QLabel("EMERGENCY ACCESS")
        self.emergency_badge.setObjectName("emergencyBadge")
        self.emergency_badge.setToolTip("Every action in this session is flagged in the audit log.")
        self.demo_badge = QLabel("DEMO CLINIC")
        self.demo_badge.setObjectName("demoBadge")
        # On the clinic server: shown while other PCs' changes cannot be heard (the views then
        # do not refresh by themselves; CareDesk reconnects and refreshes everything).
        self.offline_badge = QLabel("Not hearing other PCs — reconnecting…")
        self.offline_badge.setObjectName("offlineBadge")
        self.offline_badge.setToolTip(
            "The live connection to the clinic server was lost. Saving still works when the "
            "server answers; lists refresh by themselves once it is back."
        )
        self.offline_badge.setVisible(False)
        bar.addWidget(self.user_label)
        bar.addWidget(self.emergency_badge)
        bar.addWidget(self.demo_badge)
        bar.addWidget(self.offline_badge)
        self.demo_badge.setVisible(self.ctx.demo)
        self.lock_button = QPushButton("Lock  (Ctrl+L)")
        self.lock_button.setObjectName("statusButton")
        self.lock_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("statusButton")
        self.sign_out_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bar.addPermanentWidget(self.lock_button)
        bar.addPermanentWidget(self.sign_out_button)

    def _connect_signals(self) -> None:
        self.nav.currentRowChanged.connect(self.on_nav_current_row_changed)
        self.lock_action.triggered.connect(self.on_lock_triggered)
        self.lock_button.clicked.connect(self.on_lock_triggered)
        self.sign_out_action.triggered.connect(self.on_sign_out_triggered)
        self.sign_out_button.clicked.connect(self.on_sign_out_triggered)
        self.emergency_action.triggered.connect(self.on_emergency_triggered)
        self.change_password_action.triggered.connect(self.on_change_password_triggered)
        self.import_action.triggered.connect(self.on_import_triggered)
        self.import_history_action.triggered.connect(self.on_import_history_triggered)
        self.export_clinic_action.triggered.connect(self.on_export_clinic_triggered)
        self.quit_action.triggered.connect(self.close)
        self.screen_lock.locked.connect(self.on_screen_lock_locked)
        self.screen_lock.unlocked.connect(self.on_screen_lock_unlocked)
        self.screen_lock.sign_out_requested.connect(self.on_sign_out_triggered)
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.ctx.bus.server_connection.connect(self.on_server_connection)
        ops.session_ended_signal().connect(self.on_session_ended)

    # --- navigation ---------------------------------------------------------------------------

    def allowed_pages(self) -> list[PageSpec]:
        return [spec for spec in PAGES if self.ctx.allows(spec.permission)]

    def rebuild_file_menu(self) -> None:
        """The File menu's actions this role may use; the menu itself only when it has one."""
        from app.services.clinic.permissions import Permission

        may_import = self.ctx.allows(Permission.IMPORT_DATA)
        self.import_action.setVisible(may_import)
        self.import_history_action.setVisible(may_import)
        self.export_clinic_action.setVisible(self.ctx.allows(Permission.EXPORT_CLINIC))
        actions = (self.import_action, self.import_history_action, self.export_clinic_action)
        self.file_menu.menuAction().setVisible(any(a.isVisible() for a in actions))

    def rebuild_navigation(self) -> None:
        self.rebuild_file_menu()
        current = self.current_page_key()
        self._specs = self.allowed_pages()
        self.nav.blockSignals(True)
        self.nav.clear()
        for action in self._go_actions:
            self.go_menu.removeAction(action)
        self._go_actions.clear()
        for number, spec in enumerate(self._specs, start=1):
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            self.nav.addItem(item)
            action = QAction(spec.title, self)
            if number <= 9:
                action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _=False, row=number - 1: self.nav.setCurrentRow(row))
            self.go_menu.addAction(action)
            self.addAction(action)
            self._go_actions.append(action)
        self.nav.blockSignals(False)
        self.nav.setVisible(bool(self._specs))
        self.go_menu.menuAction().setVisible(bool(self._specs))
        if not self._specs:
            if self.home_page is None:
                self.home_page = HomePage(self.ctx)
                self.stack.addWidget(self.home_page)
            self.home_page.refresh()
            self.stack.setCurrentWidget(self.home_page)
            return
        keys = [spec.key for spec in self._specs]
        self.nav.setCurrentRow(keys.index(current) if current in keys else 0)

    def current_page_key(self) -> str | None:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def page_titles(self) -> list[str]:
        return [self.nav.item(i).text() for i in range(self.nav.count())]

    def show_page(self, key: str) -> QWidget:
        """Open a page by key (built on first use); raises KeyError when the role may not."""
        keys = [spec.key for spec in self._specs]
        self.nav.setCurrentRow(keys.index(key))
        return self._pages[key]

    def page(self, key: str) -> QWidget | None:
        return self._pages.get(key)

    #: The parts of a page a link may open: (page, part) → the attribute of its tab.
    _PARTS = {
        ("plans", "unscheduled"): "unscheduled",
        ("plans", "collections"): "collections",
        ("patients", "insurance"): "queue",
    }

    @Slot(str)
    def go_to(self, target: str) -> None:
        """Open a page ("recalls") or a tab of one ("plans:collections") — Today's links."""
        key, _, part = target.partition(":")
        if key not in [spec.key for spec in self._specs]:
            return  # not this role's page
        page = self.show_page(key)
        attribute = self._PARTS.get((key, part))
        if attribute is not None:
            page.tabs.setCurrentWidget(getattr(page, attribute))
        elif part and hasattr(page, "show_part"):
            page.show_part(part)  # a page's own view ("tasks:follow_ups")

    @Slot(int)
    def on_nav_current_row_changed(self, row: int) -> None:
        if not 0 <= row < len(self._specs):
            return
        spec = self._specs[row]
        page = self._pages.get(spec.key)
        if page is None:
            page = spec.load()(self.ctx, self.stack)
            page.setObjectName(f"page_{spec.key}")
            if (asked := getattr(page, "move_to_server_requested", None)) is not None:
                asked.connect(self.on_move_to_server_requested)
            if (restore := getattr(page, "restore_requested", None)) is not None:
                restore.connect(self.on_restore_requested)
            if (navigate := getattr(page, "navigate_requested", None)) is not None:
                navigate.connect(self.go_to)
            self._pages[spec.key] = page
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)

    # --- status -------------------------------------------------------------------------------

    def refresh_title(self) -> None:
        demo = " (demo)" if self.ctx.demo else ""
        self.setWindowTitle(f"CareDesk — {self.ctx.details.name}{demo}")

    def refresh_status(self) -> None:
        actor = self.ctx.actor
        self.user_label.setText(f"Signed in: {actor.full_name} · {role_label(actor.role)}")
        self.emergency_badge.setVisible(actor.in_emergency)
        self.emergency_action.setEnabled(not actor.in_emergency)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.staff:
            self._recheck_account()
        if changes.clinic:
            self.refresh_title()
            self.screen_lock.idle.set_minutes(self.ctx.details.idle_lock_minutes)
            if self.home_page is not None:
                self.home_page.refresh()

    @Slot(bool)
    def on_server_connection(self, live: bool) -> None:
        self.offline_badge.setVisible(not live)

    def _recheck_account(self) -> None:
        """Deactivating an account or changing its role ends that person's session on every
        PC at once (other PCs' staff changes arrive through the bus too)."""
        from app.services.clinic import auth

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: auth.session_ended_by_account_change(db, actor),
            on_success=self.on_account_rechecked,
            owner=self,
        )

    def on_account_rechecked(self, reason: str | None) -> None:
        if reason is not None:
            self.on_session_ended(reason)

    @Slot(str)
    def on_session_ended(self, reason: str) -> None:
        """The account changed (on any PC): the session is locked with the reason; only a
        fresh sign-in by the same person, with what the account now allows, goes on (what
        was typed stays underneath)."""
        if self.isVisible() and not self.screen_lock.is_locked:
            self.screen_lock.lock(reason=reason)

    # --- lock, sign out, emergency ------------------------------------------------------------

    def start(self) -> None:
        """Show the window and start the idle countdown."""
        self.show()
        self.screen_lock.start()
        self._assess_late_fees()
        if self.ctx.actor.must_change_password:
            QTimer.singleShot(0, lambda: self.on_change_password_triggered(forced=True))

    def _assess_late_fees(self) -> None:
        """Late fees fall due while nobody is signed in: the first sign-in of the day charges
        them (as the system, each installment once), and open views refresh."""
        from app.services.billing.payment_plans import assess_late_fees

        db = self.ctx.db

        def failed(exc: BaseException) -> None:
            _log.warning("late fees were not assessed: %s", type(exc).__name__)

        ops.run_write(lambda: assess_late_fees(db, None), on_failure=failed, owner=self)

    @Slot()
    def on_change_password_triggered(
        self, forced: bool = False, error: ValidationError | None = None
    ) -> None:
        from app.services.clinic import auth
        from app.ui.change_password import ChangePasswordDialog

        change = ChangePasswordDialog.ask(self, forced=forced, error=error)
        if change is None:
            if forced:  # nobody works on a password the owner knows
                self.on_sign_out_triggered()
            return
        db, actor = self.ctx.db, self.ctx.actor

        def changed(updated: Actor) -> None:
            self.ctx.actor = updated
            show_info(self, "Your password is changed. Use it from your next sign-in.")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationError):
                self.on_change_password_triggered(forced=forced, error=exc)
            else:
                show_warning(self, ops.user_message(exc))

        ops.run_write(
            lambda: auth.change_own_password(db, actor, change.current, change.new),
            on_success=changed,
            on_failure=failed,
            owner=self,
        )

    @Slot()
    def on_import_triggered(self) -> None:
        from app.ui.imports.import_wizard import ImportWizard

        ImportWizard.ask(self.ctx, self)

    @Slot()
    def on_import_history_triggered(self) -> None:
        from app.ui.imports.history_dialog import ImportHistoryDialog

        ImportHistoryDialog.ask(self.ctx, self)

    @Slot()
    def on_export_clinic_triggered(self) -> None:
        from app.ui.exports.clinic_export_dialog import ClinicExportDialog

        ClinicExportDialog.ask(self.ctx, self)

    @Slot()
    def on_lock_triggered(self) -> None:
        self.screen_lock.lock(idle=False)

    @Slot()
    def on_screen_lock_locked(self) -> None:
        # Patient records and referrals open in their own windows must not stay readable
        # behind the lock; they keep whatever was typed in them and come back on unlock.
        self._hidden_records = [w for w in self._patient_windows() if w.isVisible()]
        for window in self._hidden_records:
            window.hide()
        for action in (self.lock_action, self.emergency_action, *self._go_actions):
            action.setEnabled(False)
        self.menuBar().setEnabled(False)
        self.lock_button.setEnabled(False)
        self.message_sender.pause()

    @Slot(object)
    def on_screen_lock_unlocked(self, actor: Actor) -> None:
        if [spec.key for spec in self.allowed_pages()] != [spec.key for spec in self._specs]:
            self.rebuild_navigation()  # signed in again with another role
        self.rebuild_file_menu()  # another role may keep the pages but not the File menu
        for action in (self.lock_action, *self._go_actions):
            action.setEnabled(True)
        self.menuBar().setEnabled(True)
        self.lock_button.setEnabled(True)
        self.refresh_status()
        for window in self._hidden_records:
            window.show()
        self._hidden_records = []
        self.message_sender.resume()  # for whoever signed in again, if they may send

    @Slot(object)
    def on_move_to_server_requested(self, request) -> None:
        """Sign out; the application then moves the clinic (see AppController)."""
        self.pending_move = request
        self.on_sign_out_triggered()
        if self.isVisible():  # a record window kept CareDesk open: no move
            self.pending_move = None

    @Slot(object)
    def on_restore_requested(self, request) -> None:
        """Sign out; the application then restores the backup with the clinic closed (see
        AppController._restore_backup)."""
        self.pending_restore = request
        self.on_sign_out_triggered()
        if self.isVisible():  # a record window kept CareDesk open: no restore
            self.pending_restore = None

    @Slot()
    def on_sign_out_triggered(self) -> None:
        self._signing_out = True
        self.close()

    @Slot()
    def on_emergency_triggered(self) -> None:
        if self.screen_lock.is_locked:
            return
        reason = EmergencyAccessDialog.ask(self)
        if reason is None:
            return
        from app.services.clinic import auth

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: auth.start_emergency_access(db, actor, reason),
            on_success=self.on_emergency_opened,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def on_emergency_opened(self, actor: Actor) -> None:
        self.ctx.actor = actor
        self.refresh_status()
        self.rebuild_navigation()
        show_info(
            self,
            "Emergency access is open until you sign out. Every action is flagged in the "
            "audit log.",
        )

    # --- geometry and closing -----------------------------------------------------------------

    def _restore_geometry(self) -> None:
        settings = QSettings()
        geometry = settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value(STATE_KEY)
        if state is not None:
            self.restoreState(state)

    def _patient_windows(self) -> list[QWidget]:
        """The windows about one patient this user has open (record and referral windows)."""
        from app.ui.patients.windows import record_windows_of
        from app.ui.referrals.referral_window import referral_windows_of

        return [*record_windows_of(self.ctx), *referral_windows_of(self.ctx)]

    def closeEvent(self, event: QCloseEvent) -> None:
        # Each record window asks about its own unsaved changes; "Cancel" there keeps
        # CareDesk open and signed in.
        for window in self._patient_windows():
            window.show()
            window.close()
        if any(w.isVisible() for w in self._patient_windows()):
            self._signing_out = False
            event.ignore()
            return
        settings = QSettings()
        settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(STATE_KEY, self.saveState())
        self.screen_lock.stop()
        self.message_sender.stop()
        self.backup_scheduler.stop()  # the application makes the sign-out backup
        from app.services.clinic import auth

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(lambda: auth.logout(db, actor))
        self.ctx.bus.close()
        super().closeEvent(event)
        if self._signing_out:
            self._signing_out = False
            self.signed_out.emit()
        else:
            self.closed.emit()
