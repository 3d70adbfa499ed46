"""Starting the GUI: the application object, the exception handler, and the open → login flow.

Heavy modules (SQLAlchemy, the services, Babel, reportlab) are imported only
once the login window is painted, so the first window appears fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QWidget

from app import __version__, paths
from app.ui import crash, ops
from app.ui.garbage import collect_on_gui_thread
from app.ui.login import LoginWindow

if TYPE_CHECKING:
    from app.services.clinic.actor import Actor
    from app.services.clinic.clinics import OpenClinic
    from app.services.clinic.keys import DatabaseKey
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

#: ``python -m bench startup`` sets this: "1" exits at the login window's first paint,
#: "ready" once the clinic is open behind it and a user could sign in.
BENCH_EXIT_ENV = "CAREDESK_BENCH_EXIT_ON_LOGIN_PAINT"
BENCH_MARKER = "CAREDESK_LOGIN_PAINTED"
#: With the flag above: save a PNG of the painted login window here before exiting
#: (the bundled app's screenshot for the installers' closing note).
BENCH_GRAB_ENV = "CAREDESK_BENCH_GRAB"
#: How long closing waits for a backup under way before the database is closed anyway (a
#: backup to a slow network share; a backup cut short leaves only a ``.partial`` file).
SHUTDOWN_BACKUP_WAIT_MS = 10 * 60_000


class _ExitOnPaint(QObject):
    """Benchmark hook: report the first paint of the watched window, then end the process."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            # Reported as the paint is handled; the process ends once it is drawn.
            print(f"{BENCH_MARKER} {os.environ.get(BENCH_EXIT_ENV, '')}", flush=True)
            grab_to = os.environ.get(BENCH_GRAB_ENV)

            def finish() -> None:
                if grab_to and isinstance(watched, QWidget):
                    watched.grab().save(grab_to)
                os._exit(0)

            QTimer.singleShot(0, finish)
        return False


class _ProgressRelay(QObject):
    """Carries a worker's progress callbacks to the GUI thread (queued signal)."""

    progressed = Signal(str, int, int)


def configure_application(app: QApplication) -> None:
    """Names (for QSettings), the window icon, the style sheet, and cycles collected on
    the GUI thread only (:mod:`app.ui.garbage`)."""
    collect_on_gui_thread(app)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_AUTHOR)
    app.setApplicationDisplayName("CareDesk")
    app.setApplicationVersion(__version__)
    # Wayland and the Linux taskbars match windows to installers/linux/caredesk.desktop.
    app.setDesktopFileName("caredesk")
    with contextlib.suppress(FileNotFoundError):
        app.setWindowIcon(QIcon(str(paths.resource("icons", "caredesk.svg"))))
    app.setStyleSheet(application_style())


def application_style() -> str:
    """CareDesk's style sheet (resources/style.qss), or none if the file is missing."""
    try:
        style = paths.resource("style.qss").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    return style.replace("{icons}", paths.resources_dir().joinpath("icons").as_posix())


def resolve_database_path(db_path: Path | None, demo: bool) -> Path:
    if db_path is not None:
        return Path(db_path)
    if demo:
        return paths.demo_database_path()
    # Read directly (as services.clinic.last_used_database does) to keep start-up imports light.
    try:
        text = paths.last_used_file().read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    last = Path(text) if text and not text.startswith("postgres") else None
    return last if last is not None and last.exists() else paths.default_database_path()


def resolve_server(server, db_path: Path | None, demo: bool):
    """The clinic server to open: the one asked for (``--server``, $CAREDESK_SERVER), else
    the clinic used last when that was on a server; None for a database file."""
    if server is not None:
        return server
    if db_path is not None or demo:
        return None
    from app.services.clinic.server_join import SERVER_ENV, ServerAddress, ServerAddressError

    text = os.environ.get(SERVER_ENV, "").strip()
    if not text:
        try:
            text = paths.last_used_file().read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not text.startswith("postgres"):
            return None
    try:
        return ServerAddress.parse(text)
    except ServerAddressError as error:
        show_fatal(str(error))
        return None


def _moment_words(moment, details) -> str:
    """A backup's moment in the clinic's words ("Dec 8, 2026, 2:00 PM"), or "earlier"."""
    if moment is None or details is None:
        return "earlier"
    from app.i18n import format_datetime

    return format_datetime(moment, details.timezone, details.locale)


def show_fatal(message: str) -> None:
    """A problem CareDesk cannot go past (not a database, damaged, on a network share)."""
    box = QMessageBox(QMessageBox.Icon.Critical, "CareDesk", message, QMessageBox.StandardButton.Ok)
    box.setObjectName("fatalMessage")
    box.exec()


class AppController(QObject):
    """Walks the user from start-up to the main window and back on sign-out.

    ``finished(code)`` says CareDesk is done; :func:`run_gui` ends the event loop on it.
    """

    finished = Signal(int)

    def __init__(self, path: Path, demo: bool = False, server=None) -> None:
        super().__init__()
        self.path = Path(path)
        #: The clinic server to open instead of the file at ``path`` (a ServerAddress).
        self.server = server
        self.demo = demo
        self.clinic: OpenClinic | None = None
        self.details = None
        self.login_window: LoginWindow | None = None
        self.main_window: MainWindow | None = None
        self.wizard = None
        self.exit_code = 0
        #: CareDesk is done (:meth:`quit`): an open that finishes now is not shown.
        self.quitting = False

    # --- start --------------------------------------------------------------------------------

    def start(self) -> None:
        from app.ui.widgets.private_copies import remove_leftover_copies

        # Document copies a crashed CareDesk left for the viewer: patient data, unencrypted.
        # Once the first window is up: listing the temporary folder is no reason to wait.
        QTimer.singleShot(0, remove_leftover_copies)
        demo = self.demo and self.path == paths.demo_database_path()
        if self.server is None and not self.path.exists() and not demo:
            self._run_wizard()
            return
        self.login_window = LoginWindow(None)
        self._connect_login()
        if os.environ.get(BENCH_EXIT_ENV) == "1":
            self.login_window.installEventFilter(_ExitOnPaint(self.login_window))
        self.login_window.show()
        # Open (imports, keyring, key check) once the window has been painted.
        QTimer.singleShot(0, self.open_demo if demo else self.open_database)

    @Slot()
    def open_demo(self) -> None:
        """Open the demo clinic, making it first (a few seconds, with a progress dialog)."""
        from app.demo.demo_clinic import DEMO_PATIENTS, open_or_create_demo

        relay = _ProgressRelay(self)
        dialog: QProgressDialog | None = None
        if not self.path.exists():
            dialog = self._progress_dialog(
                relay,
                "CareDesk demo",
                f"Making the demo clinic: {DEMO_PATIENTS:,} made-up patients…",
                "Making the demo clinic — {stage}…",
            )
            dialog.setWindowModality(Qt.WindowModality.WindowModal)

        def opened(clinic: OpenClinic) -> None:
            if dialog is not None:
                dialog.close()
            self.clinic = clinic
            self._clinic_ready()

        def failed(exc: BaseException) -> None:
            if dialog is not None:
                dialog.close()
            show_fatal(ops.user_message(exc))
            self.quit(1)

        ops.run_write(
            lambda: open_or_create_demo(progress=relay.progressed.emit),
            on_success=opened,
            on_failure=failed,
            owner=self,
        )

    def _progress_dialog(
        self, relay: _ProgressRelay, title: str, first: str, each: str
    ) -> QProgressDialog:
        """A progress dialog (no Cancel) that ``relay``'s (stage, done, total) moves on;
        ``each`` words every stage ("… {stage}…")."""
        dialog = QProgressDialog(self.login_window)
        dialog.setWindowTitle(title)
        dialog.setLabelText(first)
        dialog.setCancelButton(None)
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(440)

        def show_progress(stage: str, done: int, total: int) -> None:
            dialog.setLabelText(each.format(stage=stage))
            dialog.setMaximum(max(total, 1))
            dialog.setValue(min(done, max(total, 1)))

        relay.progressed.connect(show_progress)
        dialog.show()
        return dialog

    def _run_wizard(self) -> None:
        from app.ui.setup_wizard import SetupWizard

        self.wizard = SetupWizard(self.path)
        self.wizard.finished.connect(self.on_wizard_finished)
        self.wizard.show()

    @Slot(int)
    def on_wizard_finished(self, _result: int) -> None:
        wizard, self.wizard = self.wizard, None
        if wizard is None or wizard.clinic is None:
            self.quit(0)
            return
        self.clinic = wizard.clinic
        wizard.deleteLater()
        self._clinic_ready()

    @Slot()
    def open_database(self) -> None:
        """Open the clinic on the writer thread: unlocking it, and backing it up and upgrading
        it when CareDesk is newer, can take a while.  The login window says "Opening the
        clinic…" meanwhile and keeps answering (moves, repaints, closing)."""
        self._open_with(None)

    def _open_with(self, key: DatabaseKey | None, key_message: str = "") -> None:
        """One attempt; ``key_message`` is the key prompt's text when ``key`` was typed."""
        from app.services.clinic.clinics import open_clinic, open_server_clinic

        path, server = self.path, self.server
        ops.run_write(
            lambda: open_server_clinic(server) if server is not None else open_clinic(path, key),
            on_success=self.on_clinic_opened,
            on_failure=lambda exc: self.on_open_failed(exc, key_message),
            owner=self,
        )

    def on_clinic_opened(self, clinic: OpenClinic) -> None:
        if self.quitting:  # closed while it opened: nobody is waiting for it
            clinic.db.close()
            return
        self.clinic = clinic
        self._clinic_ready()

    def on_open_failed(self, exc: BaseException, key_message: str) -> None:
        from app.services.errors import DatabaseLockedError, KeyRequiredError

        if self.quitting:
            return
        if isinstance(exc, KeyRequiredError):
            self._ask_for_key(str(exc), None)
        elif isinstance(exc, DatabaseLockedError) and key_message:
            self._ask_for_key(key_message, str(exc))  # the key typed is not this clinic's
        else:
            show_fatal(ops.user_message(exc))
            self.quit(1)

    def _ask_for_key(self, message: str, error: str | None) -> None:
        from app.ui.key_dialog import KeyDialog

        key = KeyDialog.ask(self.login_window, message, error)
        if key is None:
            self.quit(0)
        else:
            self._open_with(key, message)

    def _clinic_ready(self) -> None:
        from app.services.clinic.clinics import get_details

        assert self.clinic is not None
        self.details = get_details(self.clinic.db)
        if self.login_window is None:
            self.login_window = LoginWindow(None)
            self._connect_login()
        self.login_window.set_clinic(self.clinic.db, self.details.name)
        self.login_window.show()
        self.login_window.raise_()
        self.login_window.activateWindow()
        if os.environ.get(BENCH_EXIT_ENV) == "ready":
            self.login_window.installEventFilter(_ExitOnPaint(self.login_window))
            self.login_window.update()

    def _connect_login(self) -> None:
        assert self.login_window is not None
        self.login_window.signed_in.connect(self.on_login_signed_in)
        self.login_window.closed.connect(self.on_login_closed)

    # --- signed in ----------------------------------------------------------------------------

    @Slot(object)
    def on_login_signed_in(self, actor: Actor) -> None:
        from app.services.clinic.clinics import get_details
        from app.ui.context import UiContext
        from app.ui.main_window import MainWindow

        assert self.clinic is not None and self.login_window is not None
        self.details = get_details(self.clinic.db)
        ctx = UiContext(self.clinic, actor, self.details, demo=self.demo)
        self.main_window = MainWindow(ctx)
        self.main_window.signed_out.connect(self.on_main_signed_out)
        self.main_window.closed.connect(self.on_main_closed)
        self.main_window.start()
        self.main_window.message_sender.start()
        self.main_window.backup_scheduler.start()
        self.login_window.hide()

    @Slot()
    def on_main_signed_out(self) -> None:
        window, self.main_window = self.main_window, None
        move = restore = None
        if window is not None:
            self.details = window.ctx.details
            move = (window.pending_move, window.ctx.actor)
            restore = (window.pending_restore, window.ctx.actor)
            window.deleteLater()
        if move is not None and move[0] is not None:
            self._move_to_server(*move)
            return
        if restore is not None and restore[0] is not None:
            # No sign-out backup: the restore keeps the clinic as it is as a checked copy.
            self._restore_backup(*restore)
            return
        assert self.clinic is not None
        self._back_up_before_closing(closing=False, then=self._show_login)

    def _show_login(self) -> None:
        if self.quitting or self.clinic is None:
            return
        assert self.login_window is not None
        self.login_window.set_clinic(self.clinic.db, self.details.name)
        self.login_window.show()
        self.login_window.activateWindow()

    def _back_up_before_closing(self, *, closing: bool, then) -> None:
        """The backup made at sign-out and close (app.ui.backups.before_closing), then
        ``then`` — made, skipped or failed alike: a backup never keeps CareDesk open."""
        from app.ui.backups.before_closing import back_up_before_closing

        if self.clinic is None:
            then()
            return
        #: The window saying so, while the backup runs (tests look at it).
        self.closing_backup = back_up_before_closing(self.clinic, closing=closing, then=then)

    def _restore_backup(self, request, actor: Actor) -> None:
        """Settings → Backups → Restore…: close the file, put the backup in its place (the
        clinic as it was kept first, as a checked pre-restore copy) and open it; on any
        failure, open the untouched clinic again and say why."""
        from app.services.backups.restore import restore_file_backup
        from app.services.backups.schedule import local_folder
        from app.ui.backups.worker import run_backup_work
        from app.ui.messages.sender import wait_for_network
        from app.ui.widgets.messages import show_info, show_warning

        assert self.clinic is not None and self.clinic.path is not None
        file_clinic, self.clinic = self.clinic, None
        path, key = file_clinic.path, file_clinic.key
        relay = _ProgressRelay(self)
        dialog = self._progress_dialog(
            relay,
            "Restoring a backup",
            "Restoring the backup: keeping the clinic as it is now, then putting the backup "
            "in its place…",
            "{stage}…",
        )
        dialog.setRange(0, 0)
        when = _moment_words(request.made_at, self.details)

        def restored(result) -> None:
            dialog.close()
            kept = (
                f" The clinic as it was is kept as {result.kept_before}."
                if result.kept_before is not None
                else ""
            )
            show_info(
                self.login_window,
                f"The backup made {when} is restored.{kept} Sign in to go on.",
            )
            self._open_with(request.key)

        def failed(exc: BaseException) -> None:
            dialog.close()
            show_warning(
                self.login_window,
                "Nothing was restored, and the clinic is as it was: " + ops.user_message(exc),
            )
            self._open_with(key)

        def close_and_restore(_result: object = None) -> None:
            wait_for_network()  # a sender's run still under way, before the file is closed
            ops.wait_for_done()  # the sign-out's audit row, before the file is closed
            file_clinic.db.close()
            ops.run_write(
                lambda: restore_file_backup(
                    request.backup,
                    request.key,
                    path,
                    live_key=key,
                    keep_folder=local_folder(),
                    allow_other_clinic=request.allow_other_clinic,
                    by=actor.username,
                    verified=request.verified,
                ),
                on_success=restored,
                on_failure=failed,
                owner=self,
            )

        # After a backup under way on the backups' thread (it reads the file): the window
        # keeps answering meanwhile, then the file is closed.
        run_backup_work(lambda: None, on_success=close_and_restore, owner=self)

    def _move_to_server(self, request, actor: Actor) -> None:
        """Settings → Move to the clinic server: close the file, copy it to the server with
        every check, and open the clinic there; on any failure, open the file again and
        say why (the file is only ever read)."""
        from app.services.clinic.server_move import move_to_server_and_open
        from app.ui.widgets.messages import show_info, show_warning

        assert self.clinic is not None
        file_clinic, self.clinic = self.clinic, None
        path, key = file_clinic.path, file_clinic.key
        from app.ui.backups.worker import wait_for_backups
        from app.ui.messages.sender import wait_for_network

        wait_for_network()  # a sender's run still under way, before the file is closed
        wait_for_backups(SHUTDOWN_BACKUP_WAIT_MS)  # an automatic backup under way, likewise
        ops.wait_for_done()  # the sign-out's audit row, before the file is closed
        file_clinic.db.close()
        relay = _ProgressRelay(self)
        dialog = self._progress_dialog(
            relay, "Moving the clinic to the server", "Joining the clinic's server…", "{stage}…"
        )

        def moved(result) -> None:
            report, clinic = result
            dialog.close()
            self.server = clinic.server
            self.clinic = clinic
            show_info(
                self.login_window,
                f"The clinic is on the server now: {report.rows:,} records moved and checked "
                f"in {report.seconds:.0f} s. Sign in to go on. The file {path} was left as it "
                "was: keep it, with its recovery kit, until the server's backups run.",
            )
            self._clinic_ready()

        def failed(exc: BaseException) -> None:
            dialog.close()
            show_warning(
                self.login_window,
                "The clinic was not moved, and nothing changed on this PC: "
                + ops.user_message(exc),
            )
            self._open_with(key)

        ops.run_write(
            lambda: move_to_server_and_open(
                actor, path, key, request, progress=relay.progressed.emit
            ),
            on_success=moved,
            on_failure=failed,
            owner=self,
        )

    @Slot()
    def on_main_closed(self) -> None:
        self.main_window = None
        self._back_up_before_closing(closing=True, then=lambda: self.quit(0))

    @Slot()
    def on_login_closed(self) -> None:
        if self.main_window is None:
            self.quit(0)

    def quit(self, code: int) -> None:
        self.quitting = True
        self.exit_code = code
        for window in (self.login_window, self.main_window, self.wizard):
            if window is not None:
                window.hide()
        self.finished.emit(code)

    def shutdown(self) -> None:
        """Let a sender's run, a backup under way and queued writes (the sign-out audit
        row) finish, then close the database."""
        from app.ui.backups.worker import wait_for_backups
        from app.ui.messages.sender import wait_for_network

        wait_for_network()
        wait_for_backups(SHUTDOWN_BACKUP_WAIT_MS)
        ops.wait_for_done()
        if self.clinic is not None:
            self.clinic.db.close()
            self.clinic = None


def run_gui(db_path: Path | None, demo: bool, server=None) -> int:
    """Run CareDesk's windows until the user quits; returns the process exit code."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    configure_application(app)
    app.setQuitOnLastWindowClosed(False)  # the controller decides when CareDesk is done
    log_handler = crash.setup_logging(paths.log_dir())
    handler = crash.ExceptionHandler()
    handler.install()
    controller = AppController(
        resolve_database_path(db_path, demo), demo, resolve_server(server, db_path, demo)
    )
    controller.finished.connect(app.exit)
    try:
        QTimer.singleShot(0, controller.start)
        code = app.exec()
        return code or controller.exit_code
    finally:
        controller.shutdown()
        handler.uninstall()
        logging.getLogger("app").removeHandler(log_handler)
        logging.getLogger("caredesk").removeHandler(log_handler)
        log_handler.close()
