"""The main window's pages, in navigation order: later areas add one line each.

A page is a QWidget class constructed as ``Page(ctx, parent)``; it is imported
and built the first time the user opens it, so start-up stays fast.  A page
shows only when it is listed here *and* the signed-in role has its permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from app.services.clinic.permissions import Permission


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    permission: Permission
    #: "package.module:ClassName", imported on first use.
    factory: str

    def load(self) -> type:
        module_name, _, class_name = self.factory.partition(":")
        return getattr(import_module(module_name), class_name)


PAGES: list[PageSpec] = [
    PageSpec("today", "Today", Permission.VIEW_SCHEDULE, "app.ui.today_page:TodayPage"),
    PageSpec("calendar", "Calendar", Permission.VIEW_SCHEDULE, "app.ui.calendar.page:CalendarPage"),
    PageSpec("patients", "Patients", Permission.VIEW_PATIENTS, "app.ui.patients.page:PatientsPage"),
    PageSpec(
        "confirmations",
        "Confirmations",
        Permission.VIEW_SCHEDULE,
        "app.ui.calendar.confirmation_list:ConfirmationListPage",
    ),
    PageSpec(
        "recalls", "Recalls", Permission.VIEW_SCHEDULE, "app.ui.calendar.recall_list:RecallListPage"
    ),
    PageSpec(
        "pipeline",
        "Pipeline",
        Permission.VIEW_PATIENTS,
        "app.ui.patients.pipeline_page:PipelinePage",
    ),
    PageSpec("tasks", "Tasks", Permission.VIEW_PATIENTS, "app.ui.tasks.page:TasksPage"),
    # The front desk's messages: what is queued, sent, and what failed and why.
    PageSpec(
        "outbox", "Outbox", Permission.SEND_MESSAGES, "app.ui.messages.outbox_page:OutboxPage"
    ),
    PageSpec("plans", "Plans & Payments", Permission.VIEW_PLANS, "app.ui.plans.page:PlansPage"),
    PageSpec("contacts", "Contacts", Permission.VIEW_PATIENTS, "app.ui.contacts.page:ContactsPage"),
    PageSpec(
        "referrals",
        "Referrals",
        Permission.MANAGE_REFERRALS,
        "app.ui.referrals.page:ReferralsPage",
    ),
    PageSpec(
        "reports", "Reports", Permission.VIEW_PRACTICE_REPORTS, "app.ui.reports.page:ReportsPage"
    ),
    PageSpec(
        "settings",
        "Settings",
        Permission.MANAGE_SETTINGS,
        "app.ui.settings.settings_page:SettingsPage",
    ),
    PageSpec("audit", "Audit log", Permission.VIEW_AUDIT_LOG, "app.ui.audit_window:AuditWindow"),
]
