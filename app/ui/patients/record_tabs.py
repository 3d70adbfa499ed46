"""The tabs of a patient record window, in order, and the contract each tab keeps.

A tab is built the first time the user selects it (so a record opens fast) as
``TabClass(ctx, patient_id, parent)``.  It loads its own data through ``ops``
and refreshes itself from the change bus.  The window asks every built tab
before it closes, so nothing typed is lost without the user saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from PySide6.QtWidgets import QWidget

from app.services.clinic.permissions import Permission
from app.ui.context import UiContext


class RecordTab(QWidget):
    """Base class for the tabs: the hooks the record window calls."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id

    def reload(self) -> None:
        """Fetch this tab's data again (after a merge, a conflict reload, or on request)."""

    def has_unsaved_changes(self) -> bool:
        """True while the user has typed something the tab has not saved."""
        return False

    def save_before_close(self) -> bool:
        """Save what can be saved without asking (a note draft); False if that failed."""
        return True

    def discard_changes(self) -> None:
        """Throw away unsaved edits (the user chose "Discard" on close)."""


@dataclass(frozen=True)
class TabSpec:
    key: str
    title: str
    permission: Permission
    #: "package.module:ClassName", imported when the tab is first shown.
    factory: str

    def load(self) -> type[RecordTab]:
        module_name, _, class_name = self.factory.partition(":")
        return getattr(import_module(module_name), class_name)


_P = "app.ui.patients."
RECORD_TABS: list[TabSpec] = [
    TabSpec("details", "Details", Permission.VIEW_PATIENTS, _P + "details_tab:DetailsTab"),
    # Where things stand: each open plan, referral and task and what it waits on.
    TabSpec("care", "Care path", Permission.VIEW_PATIENTS, _P + "care_tab:CareTab"),
    TabSpec("insurance", "Insurance", Permission.VIEW_PATIENTS, _P + "insurance_tab:InsuranceTab"),
    TabSpec(
        "appointments",
        "Appointments",
        Permission.VIEW_SCHEDULE,
        _P + "appointments_tab:AppointmentsTab",
    ),
    TabSpec(
        "plans",
        "Treatment plans",
        Permission.VIEW_PLANS,
        "app.ui.plans.plans_tab:TreatmentPlansTab",
    ),
    TabSpec("account", "Account", Permission.VIEW_PLANS, "app.ui.plans.account_tab:AccountTab"),
    TabSpec("notes", "Consultation notes", Permission.VIEW_PATIENTS, _P + "notes_tab:NotesTab"),
    TabSpec("referrals", "Referrals", Permission.VIEW_PATIENTS, _P + "referrals_tab:ReferralsTab"),
    TabSpec(
        "communications",
        "Communication log",
        Permission.VIEW_PATIENTS,
        _P + "communications_tab:CommunicationsTab",
    ),
    TabSpec("consents", "Consents", Permission.VIEW_PATIENTS, _P + "consents_tab:ConsentsTab"),
    TabSpec("documents", "Documents", Permission.VIEW_PATIENTS, _P + "documents_tab:DocumentsTab"),
    TabSpec("tasks", "Tasks", Permission.VIEW_PATIENTS, _P + "tasks_tab:TasksTab"),
]
