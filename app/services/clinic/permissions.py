"""Who may do what: the one permission table every window and service asks."""

from __future__ import annotations

from enum import StrEnum

from app.data.models.staff import Role
from app.services.errors import PermissionDeniedError


class Permission(StrEnum):
    VIEW_SCHEDULE = "view_schedule"
    MANAGE_APPOINTMENTS = "manage_appointments"
    DOUBLE_BOOK = "double_book"
    VIEW_PATIENTS = "view_patients"
    EDIT_PATIENTS = "edit_patients"
    MERGE_PATIENTS = "merge_patients"
    READ_NOTE_BODIES = "read_note_bodies"
    WRITE_NOTES = "write_notes"
    SIGN_NOTES = "sign_notes"
    VIEW_PLANS = "view_plans"
    MANAGE_PLANS = "manage_plans"
    TAKE_PAYMENTS = "take_payments"
    VOID_PAYMENTS = "void_payments"
    MANAGE_REFERRALS = "manage_referrals"
    MANAGE_CONTACTS = "manage_contacts"
    SEND_MESSAGES = "send_messages"
    PRINT_DOCUMENTS = "print_documents"
    VIEW_REPORTS = "view_reports"
    VIEW_PRACTICE_REPORTS = "view_practice_reports"
    CLOSE_MONTHS = "close_months"
    MANAGE_STAFF = "manage_staff"
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_SETTINGS = "manage_settings"
    #: Bring patients, appointments, balances and contacts in from another system, and
    #: undo such an import.
    IMPORT_DATA = "import_data"
    #: Give a patient (or whoever they authorize) a copy of their record: a disclosure.
    EXPORT_RECORDS = "export_records"
    #: Export the whole clinic's data in open formats (to leave CareDesk, or keep a copy).
    EXPORT_CLINIC = "export_clinic"


#: What each permission lets a user do, for "Your role does not allow you to …".
DESCRIPTIONS: dict[Permission, str] = {
    Permission.VIEW_SCHEDULE: "see the appointment book",
    Permission.MANAGE_APPOINTMENTS: "book, move or cancel appointments",
    Permission.DOUBLE_BOOK: "double-book a time that is taken",
    Permission.VIEW_PATIENTS: "open patient records",
    Permission.EDIT_PATIENTS: "change patient records",
    Permission.MERGE_PATIENTS: "merge patient records",
    Permission.READ_NOTE_BODIES: "read consultation notes",
    Permission.WRITE_NOTES: "write consultation notes",
    Permission.SIGN_NOTES: "sign consultation notes",
    Permission.VIEW_PLANS: "see treatment and payment plans",
    Permission.MANAGE_PLANS: "change treatment and payment plans",
    Permission.TAKE_PAYMENTS: "record payments",
    Permission.VOID_PAYMENTS: "void payments or write off balances",
    Permission.MANAGE_REFERRALS: "manage referrals",
    Permission.MANAGE_CONTACTS: "add or change the clinic's contacts (payers, specialists …)",
    Permission.SEND_MESSAGES: "send e-mail and text messages, or retry and cancel them",
    Permission.PRINT_DOCUMENTS: "print or export patient documents",
    Permission.VIEW_REPORTS: "see the clinic's money figures",
    Permission.VIEW_PRACTICE_REPORTS: "see the schedule and coordination reports",
    Permission.CLOSE_MONTHS: "close or reopen a month, or change what is dated in a closed one",
    Permission.MANAGE_STAFF: "manage staff accounts",
    Permission.VIEW_AUDIT_LOG: "read the audit log",
    Permission.MANAGE_SETTINGS: "change the clinic's settings",
    Permission.IMPORT_DATA: "import data from another system, or undo an import",
    Permission.EXPORT_RECORDS: "export a copy of a patient's record",
    Permission.EXPORT_CLINIC: "export the whole clinic's data",
}

P = Permission
_FRONT_DESK = {
    P.VIEW_SCHEDULE,
    P.MANAGE_APPOINTMENTS,
    P.VIEW_PATIENTS,
    P.EDIT_PATIENTS,
    P.VIEW_PLANS,
    P.TAKE_PAYMENTS,
    P.PRINT_DOCUMENTS,
    # The desk adds a patient's insurance company or a referring office as it comes up.
    P.MANAGE_CONTACTS,
    # Reminders, confirmation requests and the outbox's retry/cancel are front-desk work.
    P.SEND_MESSAGES,
    # A patient asking for a copy of their record usually asks at the desk.
    P.EXPORT_RECORDS,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.COORDINATOR: frozenset(
        _FRONT_DESK
        | {
            P.DOUBLE_BOOK,
            P.MERGE_PATIENTS,
            P.READ_NOTE_BODIES,
            P.WRITE_NOTES,
            P.MANAGE_PLANS,
            P.MANAGE_REFERRALS,
            # The schedule and coordination figures (no money): the coordinator's KPIs.
            P.VIEW_PRACTICE_REPORTS,
        }
    ),
    Role.RECEPTIONIST: frozenset(_FRONT_DESK),
    Role.PROVIDER: frozenset(
        {
            P.VIEW_SCHEDULE,
            P.VIEW_PATIENTS,
            P.READ_NOTE_BODIES,
            P.WRITE_NOTES,
            P.SIGN_NOTES,
            P.VIEW_PLANS,
            P.MANAGE_PLANS,
            P.PRINT_DOCUMENTS,
            P.EXPORT_RECORDS,
        }
    ),
}

#: Emergency (break-glass) access adds full *read* access for the session, never writes.
EMERGENCY_READ = frozenset(
    {P.VIEW_SCHEDULE, P.VIEW_PATIENTS, P.READ_NOTE_BODIES, P.VIEW_PLANS, P.VIEW_REPORTS}
)


def role_allows(role: Role | str, permission: Permission, *, emergency: bool = False) -> bool:
    granted = ROLE_PERMISSIONS[Role(role)]
    return permission in granted or (emergency and permission in EMERGENCY_READ)


def require(actor, permission: Permission) -> None:
    """Raise PermissionDeniedError unless ``actor`` (an auth.Actor) may do this."""
    if not role_allows(actor.role, permission, emergency=actor.emergency_reason is not None):
        raise PermissionDeniedError(DESCRIPTIONS[permission])
