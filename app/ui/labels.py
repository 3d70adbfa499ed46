"""Words the UI shows for the domain's codes (roles, audit actions)."""

from __future__ import annotations

ROLE_LABELS: dict[str, str] = {
    "owner": "Owner",
    "coordinator": "Patient coordinator",
    "receptionist": "Receptionist",
    "provider": "Provider",
}

AUDIT_ACTION_LABELS: dict[str, str] = {
    "clinic_created": "Clinic created",
    "database_upgraded": "Database upgraded",
    "login": "Signed in",
    "login_failed": "Sign-in failed",
    "account_locked": "Account locked",
    "account_unlocked": "Account unlocked",
    "logout": "Signed out",
    "screen_locked": "Screen locked",
    "screen_unlocked": "Screen unlocked",
    "emergency_access": "Emergency access",
    "record_opened": "Record opened",
    "record_viewed": "Record viewed",
    "create": "Created",
    "update": "Changed",
    "delete": "Deleted",
    "print": "Printed",
    "consent_signed": "Consent signed",
    "export": "Exported",
    "recovery_kit": "Recovery kit printed",
    "audit_viewed": "Audit log viewed",
    "backup_restored": "Backup restored",
    "imported": "Imported",
    "import_undone": "Import undone",
    "disclosure": "Record disclosed",
}

ENTITY_LABELS: dict[str, str] = {
    "staff": "Staff account",
    "clinic_settings": "Clinic settings",
    "patients": "Patient",
    "appointments": "Appointment",
    "backup_runs": "Backup",
    "backup_settings": "Backup settings",
    "import_batches": "Import",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(str(role), str(role).title())


def audit_action_label(action: str) -> str:
    return AUDIT_ACTION_LABELS.get(action, action.replace("_", " ").capitalize())


def entity_label(entity: str) -> str:
    return ENTITY_LABELS.get(entity, entity.replace("_", " ").capitalize())
