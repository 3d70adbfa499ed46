"""The Contacts page: the clinic's payers, specialists, referring providers, labs,
pharmacies and other clinics — found as you type, filtered by kind, with the chosen
contact's details beside the list, and the commands to add, change, merge, deactivate
and import them."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.contacts.directory import (
    KIND_LABELS,
    SEND_RECORDS_LABELS,
    ContactDetails,
    ContactLine,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.lazy_table import LazyTableModel, LazyTableStack
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, list_table

#: Typing pauses this long before the list is searched again.
SEARCH_DELAY_MS = 150
DETAILS_WIDTH = 310

COLUMNS = [
    Column("Name", lambda c: c.display_name),
    Column("Kind", lambda c: c.kind_label),
    Column("Specialty", lambda c: c.specialty),
    Column("Phone", lambda c: c.phone),
    Column("E-mail", lambda c: c.email),
    Column("City", lambda c: c.city),
]

#: Starting widths of the columns after the name (which stretches).
COLUMN_WIDTHS = (0, 120, 120, 115, 160, 95)


def _breakable(text: str) -> str:
    """A long e-mail may wrap after its "@" and dots (zero-width spaces) in the narrow panel."""
    if "@" not in text:
        return text
    return text.replace("@", "@\u200b").replace(".", ".\u200b")


def details_html(details: ContactDetails) -> str:
    """The details panel's text: who, how to reach them, what refers to them."""
    form = details.form
    e = html.escape
    parts = [f"<h3 style='margin:0'>{e(details.display_name)}</h3>"]
    kind = KIND_LABELS.get(form.kind, form.kind)
    what = f"{kind} · {form.specialty}" if form.specialty else kind
    parts.append(f"<p style='margin-top:2px'>{e(what)}</p>")
    if details.merged_into_id is not None:
        parts.append(
            f"<p><b>Merged into {e(details.merged_into_name)}</b>: inactive; everything that "
            "named it names that contact now.</p>"
        )
    elif not details.is_active:
        parts.append("<p><b>Inactive</b>: not offered when a contact is chosen.</p>")
    rows = [
        ("Phone", form.phone),
        ("Other phone", form.other_phone),
        ("Fax", form.fax),
        ("E-mail", form.email),
    ]
    if form.kind == "payer":
        rows += [("Payer ID", form.payer_id), ("Eligibility", form.eligibility_phone)]
    address = [form.address_line1, form.address_line2]
    city_line = " ".join(
        bit for bit in (f"{form.city}," if form.city else "", form.region, form.postal_code) if bit
    ).rstrip(",")
    address += [city_line, form.country]
    rows.append(("Address", "\n".join(line for line in address if line)))
    if form.send_records_by:
        rows.append(("Records by", SEND_RECORDS_LABELS.get(form.send_records_by, "")))
    cells = "".join(
        f"<tr><td style='color:#5d6b72; padding-right:10px'>{e(label)}</td>"
        f"<td>{_breakable(e(value)).replace(chr(10), '<br>')}</td></tr>"
        for label, value in rows
        if value
    )
    if cells:
        parts.append(f"<table cellspacing='0' cellpadding='2'>{cells}</table>")
    used = [f"{r.count} {r.label}" for r in details.references if r.count]
    parts.append(
        "<p><b>Named on</b> " + e(", ".join(used)) + ".</p>"
        if used
        else "<p>Nothing refers to this contact yet.</p>"
    )
    if form.notes:
        parts.append(f"<p><b>Notes</b><br>{e(form.notes).replace(chr(10), '<br>')}</p>")
    return "".join(parts)


class ContactsPage(QWidget):
    """The directory: search, kind filter, inactive ones on request, details beside."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.details: ContactDetails | None = None
        self._details_generation = 0
        self._count_generation = 0
        may_change = ctx.allows(Permission.MANAGE_CONTACTS)
        may_merge = may_change and ctx.allows(Permission.MERGE_PATIENTS)

        title = QLabel("Contacts")
        title.setObjectName("pageTitle")
        self.import_button = QPushButton("&Import CSV…")
        self.import_button.setObjectName("importContactsButton")
        self.import_button.setToolTip(
            "Add contacts from a CSV file (checked first, all or nothing)"
        )
        self.new_button = QPushButton("&New contact…")
        self.new_button.setObjectName("primaryButton")
        self.new_button.setToolTip("Add a payer, specialist, lab … (Ctrl+N)")

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("contactSearch")
        self.search_edit.setPlaceholderText("Name, organization, specialty, phone, e-mail, city…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(200)
        search_label = QLabel("&Find")
        search_label.setBuddy(self.search_edit)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("contactKindFilter")
        self.kind_combo.addItem("All kinds", None)
        for code, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, code)
        kind_label = QLabel("&Kind")
        kind_label.setBuddy(self.kind_combo)
        self.inactive_check = QCheckBox("Show in&active")
        self.inactive_check.setObjectName("showInactiveContacts")
        self.count_label = QLabel()
        self.count_label.setObjectName("contactCount")
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)

        self.model = LazyTableModel(COLUMNS, parent=self)
        self.table = list_table(self.model, "contactsTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # The name takes the width left; the others are as wide as their usual text, and a
        # longer one is cut with "…" (the details panel shows it whole): never sideways.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        for column, width in enumerate(COLUMN_WIDTHS):
            if column:
                self.table.setColumnWidth(column, width)
        self.stack = LazyTableStack(self.table, "No contact matches. New contact… adds one.")

        self.details_label = QLabel("Choose a contact to see its details.")
        self.details_label.setObjectName("contactDetails")
        self.details_label.setWordWrap(True)
        self.details_label.setTextFormat(Qt.TextFormat.RichText)
        self.details_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.setContentsMargins(12, 10, 12, 10)
        scroll = QScrollArea()
        scroll.setObjectName("contactDetailsPanel")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setWidget(self.details_label)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setObjectName("editContact")
        self.merge_button = QPushButton("&Merge…")
        self.merge_button.setObjectName("mergeContact")
        self.merge_button.setToolTip("Fold a duplicate of this contact into it")
        self.active_button = QPushButton("&Deactivate")
        self.active_button.setObjectName("deactivateContact")
        self.message_label = QLabel()
        self.message_label.setObjectName("contactsMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        filters.addWidget(search_label)
        filters.addWidget(self.search_edit, 1)
        filters.addSpacing(8)
        filters.addWidget(kind_label)
        filters.addWidget(self.kind_combo)
        filters.addSpacing(8)
        filters.addWidget(self.inactive_check)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        for button in (self.edit_button, self.merge_button, self.active_button):
            actions.addWidget(button)
        actions.addStretch(1)
        side_panel = QWidget()
        side_panel.setFixedWidth(DETAILS_WIDTH)
        side = QVBoxLayout(side_panel)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(8)
        side.addWidget(scroll, 1)
        side.addLayout(actions)
        side.addWidget(self.message_label)
        listing = QVBoxLayout()
        listing.setSpacing(4)
        listing.addWidget(self.stack, 1)
        listing.addWidget(self.count_label)
        body = QHBoxLayout()
        body.setSpacing(12)
        body.addLayout(listing, 1)
        body.addWidget(side_panel)
        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.import_button)
        header.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 12)
        layout.setSpacing(12)
        layout.addLayout(header)
        layout.addLayout(filters)
        layout.addLayout(body, 1)

        for button in (self.new_button, self.import_button, self.edit_button, self.active_button):
            button.setVisible(may_change)
        self.merge_button.setVisible(may_merge)
        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.new_shortcut = QShortcut(QKeySequence("Ctrl+N"), self)
        for shortcut in (self.find_shortcut, self.new_shortcut):
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.new_shortcut.setEnabled(may_change)
        QWidget.setTabOrder(self.search_edit, self.kind_combo)
        QWidget.setTabOrder(self.kind_combo, self.inactive_check)
        QWidget.setTabOrder(self.inactive_check, self.table)
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.search_edit.textChanged.connect(self.on_search_text_changed)
        self.search_timer.timeout.connect(self.reload)
        self.kind_combo.currentIndexChanged.connect(self.reload)
        self.inactive_check.toggled.connect(self.reload)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.model.modelReset.connect(self.on_model_reset)
        self.table.activated.connect(self.on_edit_clicked)
        self.new_button.clicked.connect(self.on_new_clicked)
        self.import_button.clicked.connect(self.on_import_clicked)
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.merge_button.clicked.connect(self.on_merge_clicked)
        self.active_button.clicked.connect(self.on_active_clicked)
        self.find_shortcut.activated.connect(self.on_find_activated)
        self.new_shortcut.activated.connect(self.on_new_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- the list -------------------------------------------------------------------------------

    def _query(self) -> dict:
        return {
            "search": self.search_edit.text(),
            "kind": self.kind_combo.currentData(),
            "include_inactive": self.inactive_check.isChecked(),
        }

    @Slot()
    def reload(self, *_args) -> None:
        """Search again with what the filters say now."""
        from app.services.contacts.directory import count_contacts, list_contacts

        self.search_timer.stop()
        db, actor, query = self.ctx.db, self.ctx.actor, self._query()
        self.model.set_fetch(
            lambda offset, limit: list_contacts(db, actor, offset=offset, limit=limit, **query)
        )
        self._count_generation += 1
        generation = self._count_generation
        ops.run_query(
            lambda: count_contacts(db, actor, **query),
            on_success=lambda n: self._on_counted(generation, n),
            on_failure=lambda exc: self.count_label.setText(ops.user_message(exc)),
            owner=self,
        )

    def _on_counted(self, generation: int, count: int) -> None:
        if generation == self._count_generation:
            self.count_label.setText(f"{count:,} contact{'' if count == 1 else 's'}")

    @Slot(str)
    def on_search_text_changed(self, _text: str) -> None:
        self.search_timer.start()

    @Slot()
    def on_find_activated(self) -> None:
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def selected_line(self) -> ContactLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    @Slot()
    def on_model_reset(self) -> None:
        # After a refresh the same contact stays chosen, when it is still listed.
        if self.details is None:
            return
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == self.details.id:
                self.table.selectRow(row)
                return
        self._show_details(None)

    @Slot(QItemSelection, QItemSelection)
    def on_selection_changed(self, *_args) -> None:
        line = self.selected_line()
        if line is None:
            return
        if self.details is None or self.details.id != line.id:
            self.load_details(line.id)

    def load_details(self, contact_id: int) -> None:
        from app.services.contacts.directory import get_contact

        self._details_generation += 1
        generation = self._details_generation
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: get_contact(db, actor, contact_id),
            on_success=lambda details: self._on_details(generation, details),
            on_failure=lambda exc: self._on_details_failed(generation, exc),
            owner=self,
        )

    def _on_details(self, generation: int, details: ContactDetails) -> None:
        if generation == self._details_generation:
            self._show_details(details)

    def _on_details_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._details_generation:
            self._show_details(None)
            self.message_label.setText(ops.user_message(exc))

    def _show_details(self, details: ContactDetails | None) -> None:
        self.details = details
        self.details_label.setText(
            details_html(details) if details else "Choose a contact to see its details."
        )
        self._update_buttons()

    def _update_buttons(self) -> None:
        details = self.details
        chosen = details is not None
        merged = chosen and details.merged_into_id is not None
        self.edit_button.setEnabled(chosen and not merged)
        self.merge_button.setEnabled(chosen and details.is_active)
        self.active_button.setEnabled(chosen and not merged)
        if chosen and not details.is_active:
            self.active_button.setText("&Reactivate")
            self.active_button.setToolTip("Offer this contact again when a contact is chosen")
        else:
            self.active_button.setText("&Deactivate")
            self.active_button.setToolTip(
                "No longer offer it when a contact is chosen; what names it keeps doing so"
            )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if not changes.referrals:
            return
        self.model.refresh()
        if self.details is not None:
            self.load_details(self.details.id)
        self.reload_count()

    def reload_count(self) -> None:
        from app.services.contacts.directory import count_contacts

        self._count_generation += 1
        generation = self._count_generation
        db, actor, query = self.ctx.db, self.ctx.actor, self._query()
        ops.run_query(
            lambda: count_contacts(db, actor, **query),
            on_success=lambda n: self._on_counted(generation, n),
            owner=self,
        )

    # --- commands -------------------------------------------------------------------------------

    def _choose_after_save(self, details: ContactDetails) -> None:
        """Show the contact just saved: its details, and it in the list once listed."""
        self._details_generation += 1
        self._show_details(details)

    @Slot()
    def on_new_clicked(self) -> None:
        if not self.ctx.allows(Permission.MANAGE_CONTACTS):
            return
        from app.ui.contacts.contact_dialog import ContactDialog

        kind = self.kind_combo.currentData()
        saved = ContactDialog.ask(self.ctx, self, kind=kind)
        if saved is not None:
            self.message_label.setText(f"{saved.display_name} added.")
            self._choose_after_save(saved)

    @Slot()
    def on_edit_clicked(self, *_args) -> None:
        details = self.details
        if details is None or details.merged_into_id is not None:
            return
        if not self.ctx.allows(Permission.MANAGE_CONTACTS):
            return
        from app.ui.contacts.contact_dialog import ContactDialog

        saved = ContactDialog.ask(self.ctx, self, details=details)
        if saved is not None:
            self.message_label.setText(f"{saved.display_name} saved.")
            self._choose_after_save(saved)

    @Slot()
    def on_merge_clicked(self) -> None:
        line = self.selected_line()
        if line is None or self.details is None or not self.details.is_active:
            return
        from app.ui.contacts.merge_dialog import MergeContactsDialog

        result = MergeContactsDialog.ask(self.ctx, self, line)
        if result is not None:
            moved = sum(result.moved.values())
            self.message_label.setText(
                f"Merged: {moved} reference{'' if moved == 1 else 's'} moved to "
                f"{line.display_name}."
            )
            self.load_details(line.id)

    @Slot()
    def on_active_clicked(self) -> None:
        details = self.details
        if details is None or details.merged_into_id is not None:
            return
        from app.services.contacts.directory import deactivate_contact, reactivate_contact

        write = reactivate_contact if not details.is_active else deactivate_contact
        done = "is active again" if not details.is_active else "deactivated"
        db, actor, contact_id, version = self.ctx.db, self.ctx.actor, details.id, details.version
        self.active_button.setEnabled(False)
        ops.run_write(
            lambda: write(db, actor, contact_id, version),
            on_success=lambda saved: self._on_active_saved(saved, done),
            on_failure=self._on_write_failed,
            owner=self,
        )

    def _on_active_saved(self, saved: ContactDetails, done: str) -> None:
        self.message_label.setText(f"{saved.display_name} {done}.")
        self._choose_after_save(saved)

    def _on_write_failed(self, exc: BaseException) -> None:
        self._update_buttons()
        show_warning(self, ops.user_message(exc))

    def choose_import_file(self) -> Path | None:
        """The CSV file to import, asked of the user (tests answer it)."""
        name, _ = QFileDialog.getOpenFileName(
            self, "Import contacts", "", "CSV files (*.csv *.txt);;All files (*)"
        )
        return Path(name) if name else None

    @Slot()
    def on_import_clicked(self) -> None:
        if not self.ctx.allows(Permission.MANAGE_CONTACTS):
            return
        from app.services.contacts.importing import check_import_size
        from app.services.errors import CareDeskError
        from app.ui.contacts.import_dialog import ImportContactsDialog

        path = self.choose_import_file()
        if path is None:
            return
        try:
            check_import_size(path.stat().st_size)
            data = path.read_bytes()
        except CareDeskError as error:
            show_warning(self, str(error))
            return
        except OSError as error:
            show_warning(self, f"{path.name} cannot be read ({error.strerror or error}).")
            return
        result = ImportContactsDialog.ask(self.ctx, self, data, path.name)
        if result is not None:
            self.message_label.setText(result.summary())
