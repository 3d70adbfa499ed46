"""The Settings page: one tab per area; a later area adds one line to ``TABS``."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from app.services.clinic.permissions import Permission
from app.ui.context import UiContext
from app.ui.pages import PageSpec

# A tab is described like a main-window page: built on first use, shown by permission.
SettingsTab = PageSpec

TABS: list[SettingsTab] = [
    SettingsTab(
        "clinic",
        "Clinic details",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.clinic_details:ClinicDetailsTab",
    ),
    SettingsTab(
        "providers", "Providers", Permission.MANAGE_SETTINGS, "app.ui.settings.catalog:ProvidersTab"
    ),
    SettingsTab("rooms", "Rooms", Permission.MANAGE_SETTINGS, "app.ui.settings.catalog:RoomsTab"),
    SettingsTab(
        "services", "Services", Permission.MANAGE_SETTINGS, "app.ui.settings.catalog:ServicesTab"
    ),
    SettingsTab(
        "scheduling",
        "Scheduling",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.scheduling_tab:SchedulingTab",
    ),
    SettingsTab(
        "payment_plans",
        "Payment plans",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.payment_plans_tab:PaymentPlansTab",
    ),
    SettingsTab(
        "consents",
        "Consent forms",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.consents_tab:ConsentsTab",
    ),
    SettingsTab(
        "follow_ups",
        "Follow-ups && referrals",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.follow_ups_tab:FollowUpsTab",
    ),
    SettingsTab(
        "messages",
        "Messages",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.messages_tab:MessagesTab",
    ),
    SettingsTab(
        "backups",
        "Backups",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.backups_tab:BackupsTab",
    ),
    SettingsTab(
        "staff", "Staff accounts", Permission.MANAGE_STAFF, "app.ui.settings.staff:StaffTab"
    ),
]


class SettingsPage(QWidget):
    #: Relayed from Clinic details: move this PC's clinic to the clinic server.
    move_to_server_requested = Signal(object)
    #: Relayed from Backups: restore a backup (a RestoreRequest) once signed out.
    restore_requested = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        title = QLabel("Settings")
        title.setObjectName("pageTitle")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        self.tabs.setDocumentMode(True)
        self.tab_widgets: dict[str, QWidget] = {}
        for spec in TABS:
            if ctx.allows(spec.permission):
                widget = spec.load()(ctx, self.tabs)
                self.tab_widgets[spec.key] = widget
                if (asked := getattr(widget, "move_to_server_requested", None)) is not None:
                    asked.connect(self.move_to_server_requested)
                if (restore := getattr(widget, "restore_requested", None)) is not None:
                    restore.connect(self.restore_requested)
                self.tabs.addTab(widget, spec.title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 0)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)

    def tab(self, key: str) -> QWidget:
        return self.tab_widgets[key]

    def show_part(self, key: str) -> None:
        """Show a tab ("backups": Today's "Backups…" link), when this role has it."""
        if key in self.tab_widgets:
            self.tabs.setCurrentWidget(self.tab_widgets[key])
