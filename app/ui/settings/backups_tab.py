"""Settings → Backups (owner): whether the clinic is backed up, when and where to, how many
to keep — and the backups themselves: make one now, check one, put one back.

At the top, the status every PC shows ("Last verified backup: today 2:00 PM (USB disk)")
and each warning.  The form is the house pattern (:class:`SettingsFormTab`): the service
checks the folder (it must be there and writable) and names the field it refuses.  Backing
up, checking and the restore check run on the backups' own thread
(:mod:`app.ui.backups.worker`), never on the write worker where they would hold up every
save; the restore itself, once the owner said yes, runs with the clinic closed
(``restore_requested``, relayed to the application like a move to the server).

On a clinic server, only the PC holding the server backup key makes the backups: the tab
says which PC does, offers "Make the backups on this PC…" (the key is made on the backups'
thread, then the recovery kit is offered), and on that PC "Print the backup key's recovery
kit…".
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.ui import ops
from app.ui.backups.lines import (
    BackupLine,
    backup_lines,
    reason_label,
    report_words,
    size_text,
)
from app.ui.backups.status import BackupWarnings, StatusView, load_status
from app.ui.backups.worker import backup_pending, makes_the_backups, run_backup_work
from app.ui.context import UiContext
from app.ui.settings.form_tab import SettingsFormTab
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form
from app.ui.widgets.messages import show_info
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    list_table,
    set_column_widths,
)

RED = "#b3261e"
GREEN = "#1b6e3a"
SAVE_FIRST = "Save the changes first: the backup goes to the saved folder."
SERVER_RESTORE = (
    "This clinic is on the clinic server: its backups are restored on the server, with "
    "`caredesk backup restore FILE` (see `caredesk backup restore --help`). Everyone "
    "closes CareDesk first."
)
KIT_NOT_SAVED = (
    "The recovery kit was not saved. Print it with “Print the backup key's recovery kit…” "
    "and keep it with the off-site backups: without it, nobody can restore the backups."
)
NO_BACKUPS = (
    "No backups yet. “Back up now” makes the first; then CareDesk backs the clinic up by "
    "itself while it runs, and at sign-out."
)


def ask_folder(parent: QWidget, start: str) -> str | None:
    """The folder chosen in the system's folder dialog, or None (tests answer for it)."""
    folder = QFileDialog.getExistingDirectory(parent, "Choose the backup folder", start)
    return folder or None


class BackupListModel(RowTableModel):
    """The backups found: this PC's and the backup folder's, newest first."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("Made", self._made),
                Column("Why", self._reason, colour=lambda line: RED if line.problem else None),
                Column("Where", lambda line: line.where),
                Column("Size", lambda line: size_text(line.size), align_right=True),
                Column("Schema", lambda line: line.schema or "—"),
                Column(
                    "Rows",
                    lambda line: f"{line.row_count:,}" if line.row_count is not None else "—",
                    align_right=True,
                ),
                Column("File", lambda line: line.file_name),
            ],
            parent=parent,
        )

    def _made(self, line: BackupLine) -> str:
        if line.made_at is None:
            return "—"
        details = self.ctx.details
        return i18n.format_datetime(line.made_at, details.timezone, details.locale)

    @staticmethod
    def _reason(line: BackupLine) -> str:
        if line.problem:
            return "Unreadable"
        return reason_label(line.reason)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        line = self.row_at(index.row()) if index.isValid() else None
        if line is not None and role == Qt.ItemDataRole.ToolTipRole:
            if line.problem:
                return f"This backup cannot be used: {line.problem}."
            return str(line.path)
        return super().data(index, role)

    def lines(self) -> list[BackupLine]:
        return [self.row_at(r) for r in range(self.rowCount())]


class BackupsTab(SettingsFormTab):
    """The status, the schedule and folder, and the backups with Back up now, Verify and
    Restore…"""

    #: The owner chose a backup to restore (a RestoreRequest): the application signs them
    #: out, closes the clinic, restores it and opens it again.
    restore_requested = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.setObjectName("backupsTab")
        self.fields: dict[str, FormField] = {}
        #: A backup or a check of this tab's under way.
        self.busy = False
        self.status: StatusView | None = None

        # --- the status
        self.headline_label = QLabel("Reading the backups…")
        self.headline_label.setObjectName("backupHeadline")
        self.headline_label.setWordWrap(True)
        self.headline_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warnings = BackupWarnings()

        # --- a clinic server: which PC makes its backups (the one holding their key)
        self.this_pc = socket.gethostname()
        #: Whether this PC holds the server backup key (None: not read yet, or a file).
        self.holds_server_key: bool | None = None
        #: The computer that made the newest verified backup, as last read.
        self.backup_pc: str | None = None
        self.server_key_label = QLabel("Reading which PC makes the backups…")
        self.server_key_label.setObjectName("serverBackupPc")
        self.server_key_label.setWordWrap(True)
        self.server_key_label.setTextFormat(Qt.TextFormat.PlainText)
        self.make_here_button = QPushButton("Make the backups on this &PC…")
        self.make_here_button.setObjectName("makeBackupsHereButton")
        self.make_here_button.setToolTip(
            "Make a backup key on this PC: from then on this PC makes the clinic server's "
            "backups, encrypted with it"
        )
        self.print_key_kit_button = QPushButton("&Print the backup key's recovery kit…")
        self.print_key_kit_button.setObjectName("printBackupKeyKitButton")
        self.print_key_kit_button.setToolTip(
            "Save the sheet with the key that opens the clinic server's backups, to print and "
            "keep with the off-site backups"
        )
        for button in (self.make_here_button, self.print_key_kit_button):
            button.hide()  # until it is known whether this PC holds the key
        self.server_key_box = QWidget()
        self.server_key_box.setObjectName("serverBackupKey")
        server_row = QHBoxLayout(self.server_key_box)
        server_row.setContentsMargins(0, 0, 0, 0)
        server_row.setSpacing(12)
        server_row.addWidget(self.server_key_label, 1)
        server_row.addWidget(self.make_here_button, 0, Qt.AlignmentFlag.AlignVCenter)
        server_row.addWidget(self.print_key_kit_button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.server_key_box.setVisible(ctx.db.is_server)

        # --- when, and how many are kept
        self.automatic_check = QCheckBox(
            "Back up &automatically while CareDesk runs, and at sign-out"
        )
        self.automatic_check.setObjectName("backupAutomatic")
        self.every_spin = QSpinBox()
        self.every_spin.setObjectName("backupEvery")
        self.every_spin.setRange(15, 1440)
        self.every_spin.setSingleStep(15)
        self.every_spin.setSuffix(" minutes")
        self.every_spin.setMaximumWidth(150)
        self.hours_check = QCheckBox("only during &opening hours")
        self.hours_check.setObjectName("backupOpeningHours")
        self.hours_check.setToolTip("The clinic's hours, as Settings → Scheduling gives them")
        every_box = QWidget()
        every_row = QHBoxLayout(every_box)
        every_row.setContentsMargins(0, 0, 0, 0)
        every_row.setSpacing(12)
        every_row.addWidget(self.every_spin)
        every_row.addWidget(self.hours_check)
        every_row.addStretch(1)
        every_box.setFocusProxy(self.every_spin)
        self.keep_spins: dict[str, QSpinBox] = {}
        keep_box = QWidget()
        keep_grid = QGridLayout(keep_box)
        keep_grid.setContentsMargins(0, 0, 0, 0)
        keep_grid.setHorizontalSpacing(6)
        keep_grid.setVerticalSpacing(4)
        for position, (name, words, lowest) in enumerate(
            (
                ("keep_hourly", "newest", 1),
                ("keep_daily", "daily", 0),
                ("keep_weekly", "weekly", 0),
                ("keep_monthly", "monthly", 0),
            )
        ):
            spin = QSpinBox()
            spin.setObjectName(name)
            spin.setRange(lowest, 1000)
            spin.setMaximumWidth(110)
            spin.setAccessibleName(f"Keep {words}")
            self.keep_spins[name] = spin
            row, pair = divmod(position, 2)
            keep_grid.addWidget(spin, row, pair * 3)
            keep_grid.addWidget(QLabel(words), row, pair * 3 + 1)
        keep_grid.setColumnMinimumWidth(2, 12)
        keep_grid.setColumnStretch(5, 1)
        keep_box.setFocusProxy(self.keep_spins["keep_hourly"])
        when_form = growing_form()
        self._row(when_form, "automatic", "", self.automatic_check)
        self._row(when_form, "every_minutes", "&Every", every_box)
        self.fields["opening_hours_only"] = self.fields["every_minutes"]
        self._row(
            when_form, "keep_hourly", "&Keep", keep_box,
            "The newest, then one a day, a week, a month. Backups made by hand or before "
            "a restore are never removed.",
        )  # fmt: skip
        for name in ("keep_daily", "keep_weekly", "keep_monthly"):
            self.fields[name] = self.fields["keep_hourly"]

        # --- where
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("backupFolder")
        self.folder_edit.setPlaceholderText("E:\\CareDesk backups, /media/usb/backups…")
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("backupBrowse")
        folder_box = QWidget()
        folder_row = QHBoxLayout(folder_box)
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        folder_box.setFocusProxy(self.folder_edit)
        self.label_edit = QLineEdit()
        self.label_edit.setObjectName("backupFolderLabel")
        self.label_edit.setPlaceholderText("USB disk")
        self.label_edit.setMaxLength(60)
        where_form = growing_form()
        self._row(
            where_form, "folder", "Backup &folder", folder_box,
            "A USB disk, a network share, a synced cloud folder. This PC keeps a copy too.",
        )  # fmt: skip
        self._row(
            where_form, "folder_label", "Folder &name", self.label_edit,
            "Today says: “Last verified backup: … (USB disk)”.",
        )  # fmt: skip
        self.errors = FieldErrors(self.fields)

        settings_box = QGroupBox("Automatic backups")
        settings_row = QHBoxLayout(settings_box)
        settings_row.setSpacing(24)
        settings_row.addLayout(when_form, 1)
        settings_row.addLayout(where_form, 1)

        # --- the backups
        self.back_up_button = QPushButton("Back up no&w")
        self.back_up_button.setObjectName("backUpNowButton")
        self.back_up_button.setToolTip("Make a backup now, check it, and copy it to the folder")
        self.verify_button = QPushButton("&Verify")
        self.verify_button.setObjectName("verifyBackupButton")
        self.verify_button.setToolTip(
            "Check the selected backup as a restore would: every page, the rows, the audit trail"
        )
        self.restore_button = QPushButton("&Restore…")
        self.restore_button.setObjectName("restoreBackupButton")
        self.restore_button.setToolTip("Put the selected backup back in place of the clinic")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("backupBusy")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setMaximumHeight(10)
        self.busy_bar.setAccessibleName("Working")
        policy = self.busy_bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # the result does not jump when it stops
        self.busy_bar.setSizePolicy(policy)
        self.busy_bar.hide()
        self.result_label = QLabel()
        self.result_label.setObjectName("backupResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        list_title = QLabel("Backups")
        list_title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        actions.addWidget(list_title)
        actions.addSpacing(8)
        for button in (self.back_up_button, self.verify_button, self.restore_button):
            actions.addWidget(button)
        actions.addSpacing(8)
        actions.addWidget(self.busy_bar, 0, Qt.AlignmentFlag.AlignVCenter)
        actions.addWidget(self.result_label, 1)

        self.model = BackupListModel(ctx, self)
        self.table = list_table(self.model, "backupList")
        self.fitter = set_column_widths(self.table, (170, 110, 100, 80, 70, 80, 320))
        self.table.setMinimumHeight(120)
        self.empty_label = empty_state_label("Looking for backups…")
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.empty_label)
        self.list_stack.setCurrentWidget(self.empty_label)

        body = QWidget()
        body.setObjectName("pageBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(24, 16, 24, 4)
        column.setSpacing(10)
        column.addWidget(self.headline_label)
        column.addWidget(self.warnings)
        column.addWidget(self.server_key_box)
        column.addWidget(settings_box)
        column.addLayout(actions)
        column.addWidget(self.list_stack, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(body, 1)
        layout.addLayout(self.bar.layout)
        self._set_headline_style(ok=True)
        self._connect_form()
        self._start()

    # --- building -----------------------------------------------------------------------------

    def _row(self, form, name: str, label: str, editor: QWidget, hint: str = "") -> None:
        self.fields[name] = FormField(editor, hint)
        form.addRow(label, self.fields[name])

    def _connect_form(self) -> None:
        self.automatic_check.toggled.connect(self.on_form_edited)
        self.automatic_check.toggled.connect(self._update_schedule_fields)
        self.hours_check.toggled.connect(self.on_form_edited)
        self.every_spin.valueChanged.connect(self.on_form_edited)
        for spin in self.keep_spins.values():
            spin.valueChanged.connect(self.on_form_edited)
        for edit in (self.folder_edit, self.label_edit):
            edit.textEdited.connect(self.on_form_edited)
        self.browse_button.clicked.connect(self.on_browse_clicked)
        self.back_up_button.clicked.connect(self.on_back_up_clicked)
        self.verify_button.clicked.connect(self.on_verify_clicked)
        self.restore_button.clicked.connect(self.on_restore_clicked)
        self.make_here_button.clicked.connect(self.on_make_here_clicked)
        self.print_key_kit_button.clicked.connect(self.on_print_key_kit_clicked)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self._update_actions()
        )
        self.model.modelReset.connect(self._update_actions)
        self.table.doubleClicked.connect(lambda _index: self.on_verify_clicked())

    def _start(self) -> None:
        """As :meth:`SettingsFormTab.finish`, for a tab whose list fills the page below the
        form (the list scrolls, not the page)."""
        self.setEnabled(False)  # until the settings are loaded
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.reload()
        self.reload_status()
        self.reload_backups()
        self.reload_server_key()

    # --- SettingsFormTab ----------------------------------------------------------------------

    def loader(self):
        from app.services.backups.schedule import backup_config

        return backup_config

    def saver(self):
        from app.services.backups.schedule import save_backup_settings

        return save_backup_settings

    def fill(self, config) -> None:
        self.automatic_check.setChecked(config.automatic)
        self.every_spin.setValue(config.every_minutes)
        self.hours_check.setChecked(config.opening_hours_only)
        self.folder_edit.setText(config.folder)
        self.label_edit.setText(config.folder_label)
        for name, spin in self.keep_spins.items():
            spin.setValue(getattr(config, name))
        self._update_schedule_fields()

    def settings(self):
        assert self._loaded is not None
        return replace(
            self._loaded,
            automatic=self.automatic_check.isChecked(),
            every_minutes=self.every_spin.value(),
            opening_hours_only=self.hours_check.isChecked(),
            folder=self.folder_edit.text().strip(),
            folder_label=self.label_edit.text().strip(),
            **{name: spin.value() for name, spin in self.keep_spins.items()},
        )

    def set_settings(self, settings: Any) -> None:
        super().set_settings(settings)
        self._update_actions()

    def _on_saved(self, settings: Any) -> None:
        super()._on_saved(settings)
        self.reload_status()  # another folder: another status, another list
        self.reload_backups()

    @Slot()
    def _update_schedule_fields(self) -> None:
        on = self.automatic_check.isChecked()
        self.every_spin.setEnabled(on)
        self.hours_check.setEnabled(on)

    # --- the status and the list --------------------------------------------------------------

    def reload_status(self) -> None:
        load_status(self.ctx, self._on_status, self, self._on_status_failed)

    def _on_status(self, view: StatusView) -> None:
        self.status = view
        self.headline_label.setText(view.headline)
        self._set_headline_style(ok=view.verified and not view.warnings)
        self.warnings.set_warnings(view.warnings)

    def _on_status_failed(self, exc: BaseException) -> None:
        self.headline_label.setText("The backup status could not be read: " + ops.user_message(exc))
        self._set_headline_style(ok=False)

    def _set_headline_style(self, *, ok: bool) -> None:
        colour = "#1f3b45" if ok else RED
        self.headline_label.setStyleSheet(f"font-size: 15pt; font-weight: 600; color: {colour};")

    def reload_backups(self) -> None:
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: backup_lines(db, actor),
            on_success=self._on_backups,
            on_failure=lambda exc: self._on_backups([], ops.user_message(exc)),
            owner=self,
        )

    def _on_backups(self, lines: list[BackupLine], problem: str = "") -> None:
        selected = self.selected_line()
        self.model.set_rows(lines)
        if lines:
            self.list_stack.setCurrentWidget(self.table)
            ids = [line.id for line in lines]
            self.table.selectRow(ids.index(selected.id) if selected and selected.id in ids else 0)
        else:
            self.empty_label.setText(problem or NO_BACKUPS)
            self.list_stack.setCurrentWidget(self.empty_label)
        self._update_actions()

    def selected_line(self) -> BackupLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _update_actions(self) -> None:
        line = self.selected_line()
        self.back_up_button.setEnabled(not self.busy and self._loaded is not None)
        self.verify_button.setEnabled(not self.busy and line is not None)
        self.restore_button.setEnabled(not self.busy and line is not None)
        self.make_here_button.setEnabled(not self.busy)
        self.print_key_kit_button.setEnabled(not self.busy)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.busy_bar.setVisible(busy)
        if text:
            self._show_result(text, ok=None)
        self._update_actions()

    def _show_result(self, text: str, *, ok: bool | None, tip: str = "") -> None:
        """``ok`` None: under way (grey); True: green; False: red; ``tip``: the long form."""
        label = self.result_label
        colour = "#5d6b72" if ok is None else GREEN if ok else RED
        weight = "" if ok is None else " font-weight: 600;"
        label.setStyleSheet(f"color: {colour};{weight}")
        label.setText(text)
        label.setToolTip(tip or text)

    # --- a clinic server's backup key ---------------------------------------------------------

    def reload_server_key(self) -> None:
        """Whether this PC holds the server backup key, and which PC made the last backup
        (off the GUI thread: the key store may take its time to answer)."""
        if not self.ctx.db.is_server:
            return
        from app.services.backups.schedule import backup_pc

        db, actor = self.ctx.db, self.ctx.actor

        def read() -> tuple[bool, str | None]:
            return makes_the_backups(db), backup_pc(db, actor)

        ops.run_query(
            read,
            on_success=self._on_server_key,
            on_failure=lambda exc: self.server_key_label.setText(
                "Which PC makes the backups could not be read: " + ops.user_message(exc)
            ),
            owner=self,
        )

    def _on_server_key(self, found: tuple[bool, str | None]) -> None:
        self.holds_server_key, self.backup_pc = found
        self.server_key_label.setText(self._server_key_words())
        self.make_here_button.setVisible(not self.holds_server_key)
        self.print_key_kit_button.setVisible(bool(self.holds_server_key))
        self._update_actions()

    def _server_key_words(self) -> str:
        pc = self.backup_pc
        if self.holds_server_key:
            return (
                f"This PC ({self.this_pc}) makes the clinic server's backups: their key is in "
                "its key store. Keep the key's recovery kit with the off-site backups."
            )
        if pc is None:
            return (
                "No PC makes the clinic server's backups yet. They are made on the one PC "
                "that holds their key."
            )
        if pc == self.this_pc:
            return (
                f"The clinic server's last backup was made on this PC ({pc}), but its key "
                "store no longer holds the backup key: that backup opens only with the key's "
                "recovery kit."
            )
        return (
            f"The clinic server's backups are made on {pc}, the PC that holds their key: "
            "Back up now and Verify work there."
        )

    @Slot()
    def on_make_here_clicked(self) -> None:
        from app.ui.backups.backup_key_dialog import MakeBackupsHereDialog

        if self.busy or not self.ctx.db.is_server:
            return
        other = self.backup_pc
        if not MakeBackupsHereDialog.ask(self, other, self.this_pc):
            return
        self._set_busy(True, "Making the backup key…")
        db = self.ctx.db

        def make_key() -> bool:
            from app.services.backups.server_dump import server_backup_key

            # Only whether it is there crosses to the GUI thread, not the key.
            return server_backup_key(db, create=True) is not None

        run_backup_work(
            make_key, on_success=self._on_key_made, on_failure=self._on_work_failed, owner=self
        )

    def _on_key_made(self, _made: bool) -> None:
        self._set_busy(False)
        self._show_result(
            "✓ This PC now makes the clinic server's backups. Save and print the backup key's "
            "recovery kit.",
            ok=True,
        )
        self._on_server_key((True, self.backup_pc))
        self.reload_status()  # "No PC backs the clinic server up yet" is no longer so
        self.reload_server_key()
        self.save_key_kit(after_making=True)

    @Slot()
    def on_print_key_kit_clicked(self) -> None:
        if not self.busy:
            self.save_key_kit(after_making=False)

    def save_key_kit(self, *, after_making: bool) -> None:
        """Ask where to save the backup key's recovery kit, and save it there."""
        from app.ui.recovery_kit import RecoveryKitSaver

        def saved(path: Path) -> None:
            self._show_result(
                f"✓ The backup key's recovery kit was saved to {path.name}. Print it, keep it "
                "with the off-site backups, then delete the file.",
                ok=True,
                tip=str(path),
            )

        started = RecoveryKitSaver.save(
            self,
            self.ctx.clinic,
            self.ctx.details,
            self.ctx.actor,
            self.ctx.actor.full_name,
            on_saved=saved,
            on_failed=lambda message: self._show_result(message, ok=False),
        )
        if started:
            self._show_result("Saving the recovery kit…", ok=None)
        elif after_making:
            self._show_result(KIT_NOT_SAVED, ok=False)

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_browse_clicked(self) -> None:
        folder = ask_folder(self, self.folder_edit.text().strip())
        if folder is None:
            return
        self.folder_edit.setText(folder)
        self.fields["folder"].set_error(None)
        self.on_form_edited()

    @Slot()
    def on_back_up_clicked(self) -> None:
        from app.services.backups.files import BackupError
        from app.services.backups.schedule import NO_SERVER_KEY, back_up

        if self.busy or self._loaded is None:
            return
        if self.is_dirty():
            self._show_result(SAVE_FIRST, ok=False)
            return
        waiting = backup_pending() > 0
        self._set_busy(
            True,
            "Waiting for the backup under way, then backing up…" if waiting
            else "Backing up: copying the clinic, then checking the copy…",
        )  # fmt: skip
        db, key, actor = self.ctx.db, self.ctx.clinic.key, self.ctx.actor

        def back_up_here():
            if not makes_the_backups(db):
                raise BackupError(NO_SERVER_KEY)  # said here, not recorded as a failed backup
            return back_up(db, key, actor, reason="manual")

        run_backup_work(
            back_up_here,
            on_success=self._on_backed_up,
            on_failure=self._on_work_failed,
            owner=self,
        )

    def _on_backed_up(self, report: Any) -> None:
        self._set_busy(False)
        text, ok = report_words(report)
        self._show_result(text, ok=ok, tip=report.summary())
        self.reload_status()
        self.reload_backups()

    def _on_work_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._show_result(ops.user_message(exc), ok=False)

    @Slot()
    def on_verify_clicked(self) -> None:
        from app.services.backups.archive import verify_backup

        line = self.selected_line()
        if line is None or self.busy:
            return
        self._set_busy(True, f"Checking {line.file_name}…")
        db, key, path = self.ctx.db, self.ctx.clinic.key, line.path
        server = line.kind == "server" and db.is_server

        def verify():
            check_key = key
            if server:
                from app.services.backups.server_dump import server_backup_key

                check_key = server_backup_key(db, create=False)
            return verify_backup(path, check_key)

        run_backup_work(
            verify, on_success=self._on_verified, on_failure=self._on_work_failed, owner=self
        )

    def _on_verified(self, verification: Any) -> None:
        self._set_busy(False)
        text = verification.summary() + "."
        self._show_result(("✓ " if verification.ok else "") + text, ok=verification.ok)

    @Slot()
    def on_restore_clicked(self) -> None:
        from app.ui.backups.restore_dialog import RestoreDialog

        line = self.selected_line()
        if line is None or self.busy:
            return
        if self.ctx.clinic.path is None:
            show_info(self, SERVER_RESTORE)
            return
        request = RestoreDialog.ask(self.ctx, self, line)
        if request is not None:
            self.restore_requested.emit(request)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        # A backup run (here, automatic, on another PC) writes backup_runs: "clinic".
        super().on_bus_changed(changes)  # the form, when nothing is typed in it
        if changes.clinic:
            self.reload_status()
            self.reload_backups()
            self.reload_server_key()  # a backup on another PC: that PC makes them
