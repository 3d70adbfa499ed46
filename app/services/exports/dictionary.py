"""The data dictionary of the clinic's export: what every table and column holds, in words.

Each meaning is written by hand (:data:`TABLES`, with :data:`COMMON` for the columns many
tables share); the format of a value is added from the schema itself — money is a decimal
amount in the clinic's currency, a moment ISO 8601 UTC, a day an ISO 8601 date, a flag
true/false, a coded value lists the values its check constraint allows, a reference names
the table it points at.  :func:`missing_meanings` names every table or column of the
schema without a meaning (and every meaning left for one that is gone), so a schema change
that forgets the dictionary fails its test.

Columns never exported are listed with the reason (:data:`NOT_EXPORTED`): a secret (the
staff's password hashes), or bytes written as files instead (documents, the clinic's logo).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from app.data.types import Money, UTCDateTime
from app.services.exports.cells import safe_row

#: Where the clinic's logo goes in an export (instead of its column).
LOGO_FILE = "clinic/logo.png"

#: (table, column) → why it is left out of the CSV tables.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("staff", "password_hash"): (
        "Not exported: a secret. It is the one-way hash (argon2id) of the account's password; "
        "no other system can use it, and it must not leave the clinic."
    ),
    ("stored_documents", "content"): (
        "Not exported in the table: each document's bytes are the file "
        "documents/<chart number>/<id>-<file name> of the export."
    ),
    ("clinic_settings", "logo_png"): (
        f"Not exported in the table: the logo (a PNG picture) is the file {LOGO_FILE} of the "
        "export, when the clinic has one."
    ),
}

#: Meanings of the columns many tables share (a table's own entry wins).
COMMON: dict[str, str] = {
    "id": "Row number, unique in this table; other tables refer to the row by it.",
    "created_at": "When the row was made.",
    "updated_at": "When the row was last changed.",
    "version": (
        "How many times the row was saved (CareDesk's guard against two computers saving the "
        "same row at once)."
    ),
    "patient_id": "The patient.",
    "created_by_id": "The staff member who made it.",
    "is_active": "false once it was deactivated (it is kept for the history that names it).",
    "provider_id": "The provider.",
    "appointment_id": "The appointment it is about.",
    "service_id": "The service from the clinic's service list.",
    "installment_id": "The payment plan installment it is about.",
    "referral_id": "The referral it is about.",
    "contact_id": "The contact from the clinic's directory.",
    "address_line1": "First line of the street address.",
    "address_line2": "Second line of the street address.",
    "city": "City.",
    "region": "State, province or region.",
    "postal_code": "ZIP or postal code.",
    "country": "Country, as a two-letter ISO 3166 code (US, MX …).",
    "colour": "Color shown in the calendar and on printouts, as #rrggbb.",
    "position": "Order in lists and in the calendar (lowest first).",
    "language": "Language tag (en, es …).",
    "notes": "Free-text notes.",
}

#: Per table: what a row is, and what its own columns mean.
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "account_adjustments": (
        "A discount, write-off, insurance payment, fee or opening balance on a patient's "
        "account. Voided with a reason, never deleted.",
        {
            "kind": (
                "What it is. fee and opening_balance add to what the patient owes; the "
                "others reduce it."
            ),
            "amount": "The amount (always positive: the kind says which way it moves).",
            "reason": "Why it was made.",
            "posted_at": "When it took effect on the account.",
            "charge_id": "The charge it adjusts, when it is about one.",
            "insurance_policy_id": "The insurance policy that paid, for an insurance payment.",
            "voided_at": "When it was voided (empty while it counts).",
            "voided_by_id": "Who voided it.",
            "void_reason": "Why it was voided.",
        },
    ),
    "appointment_series": (
        "Visits booked together (for example 3 sessions 4 weeks apart).",
        {"description": "What the series is for."},
    ),
    "appointment_status_changes": (
        "Every step of every appointment's status: from, to, who, when.",
        {
            "from_status": "The status before (empty for the booking itself).",
            "to_status": "The status after.",
            "changed_at": "When it changed.",
            "changed_by_id": "Who changed it.",
            "reason": "Why, when one was given.",
        },
    ),
    "appointments": (
        "The appointment book. Canceled and missed visits are kept, never deleted.",
        {
            "room_id": "The room or chair.",
            "series_id": "The series it was booked with.",
            "treatment_phase_id": "The treatment plan phase this visit carries out.",
            "starts_at": "When the visit starts.",
            "ends_at": "When the visit ends.",
            "status": "Where the visit stands.",
            "notes": "Notes for the desk about this visit.",
            "booked_by_id": "Who booked it.",
            "double_booked": "true when it was booked over another visit on purpose.",
            "confirmed_at": "When the patient confirmed.",
            "arrived_at": "When the patient checked in.",
            "seated_at": "When the patient went in for treatment.",
            "ready_at": "When the provider was done (ready to check out).",
            "completed_at": "When the visit was completed.",
            "cancelled_at": "When it was canceled.",
            "cancelled_by": "Who canceled it: the patient or the clinic.",
            "cancel_reason": "Why it was canceled.",
            "late_cancel": "true when it was canceled inside the clinic's late-cancel window.",
        },
    ),
    "audit_log": (
        "The audit trail: who did what, when, to which record. Each row's hash covers its "
        "fields and the previous row's hash (SHA-256), so a changed or missing row shows. "
        "Rows name fields, never their values.",
        {
            "at": "When it happened.",
            "staff_id": "The staff member's id (staff.id; no reference, the trail outlives it).",
            "username": "The account's username at the time (system for CareDesk itself).",
            "action": "What was done (create, update, delete, login, print, export …).",
            "entity": "The table or kind of thing it was done to.",
            "entity_id": "The id of the row it was done to.",
            "patient_id": "The patient concerned (patients.id), when there is one.",
            "fields": "The names of the fields changed, comma-separated.",
            "detail": "More about it, in words.",
            "break_glass": "true when it was done under emergency access.",
            "prev_hash": "The previous row's hash (64 zeros for the first row).",
            "hash": "SHA-256 of this row's fields and prev_hash, in hex.",
        },
    ),
    "backup_runs": (
        "Every backup written, where, and whether it checked out.",
        {
            "started_at": "When the backup began.",
            "finished_at": "When it ended.",
            "reason": "Why it was made (automatic, sign-out, manual, before restore).",
            "place": "local: this computer's backup folder; folder: the owner's chosen folder.",
            "folder": "The folder it was written to.",
            "folder_label": "What the clinic calls that folder (USB disk …).",
            "file_name": "The backup file's name.",
            "size_bytes": "The file's size in bytes.",
            "sha256": "SHA-256 of the file, in hex.",
            "outcome": "Whether the backup checked out.",
            "message": "What went wrong, in words (empty when it was verified).",
            "computer": "The computer that made it.",
        },
    ),
    "backup_settings": (
        "The clinic's backup schedule (one row, once the owner saved the settings).",
        {
            "automatic": "true when backups are made on their own.",
            "every_minutes": "Minutes between automatic backups.",
            "opening_hours_only": "true: automatic backups only during opening hours.",
            "folder": "The owner's backup folder off this computer (empty: none chosen).",
            "folder_label": "What the clinic calls that folder.",
            "keep_hourly": "How many hourly backups are kept.",
            "keep_daily": "How many daily backups are kept.",
            "keep_weekly": "How many weekly backups are kept.",
            "keep_monthly": "How many monthly backups are kept.",
        },
    ),
    "charges": (
        "What patients owe: treatment done, no-show and late fees.",
        {
            "kind": "What it is for.",
            "posted_at": "When it was put on the account.",
            "service_date": "The day the service was given (reports count by it).",
            "description": "What is charged, as printed on statements.",
            "amount": "The amount owed.",
            "treatment_item_id": "The treatment plan item it charges.",
            "installment_id": "For a late-payment fee: the installment that was late.",
            "provider_id": "The provider who gave the service.",
        },
    ),
    "clinic_settings": (
        "The clinic's own details and settings (one row).",
        {
            "name": "The clinic's name.",
            "phone": "The clinic's phone number.",
            "email": "The clinic's e-mail address.",
            "website": "The clinic's website.",
            "timezone": "The clinic's time zone (IANA name, e.g. America/New_York).",
            "locale": "The clinic's language and region for dates and money (e.g. en_US).",
            "currency": "The clinic's currency (ISO 4217 code, e.g. USD): every amount is in it.",
            "paper_size": "The paper printouts are laid out for.",
            "logo_png": "The clinic's logo.",
            "privacy_line": "The confidentiality line printed on documents.",
            "idle_lock_minutes": "Minutes without use before the screen locks.",
            "late_cancel_hours": "A cancellation less than this many hours ahead is late.",
            "charge_no_show_fee": "true when a no-show is charged a fee.",
            "no_show_fee": "The fee for a missed visit.",
            "late_cancel_fee": "The fee for a late cancellation.",
            "verification_max_age_days": "Insurance verified longer ago than this is stale.",
            "wait_warning_minutes": "A patient waiting longer than this is highlighted.",
            "insurance_check_days": "Insurance is checked this many days before a visit.",
            "referral_visit_days_routine": "Days within which a routine referral is seen.",
            "referral_visit_days_soon": "Days within which a soon referral is seen.",
            "referral_visit_days_urgent": "Days within which an urgent referral is seen.",
            "referral_booking_days": "A sent referral with no visit booked after this is overdue.",
            "referral_report_days": "A referral visit with no report after this is overdue.",
            "consult_follow_up_days": "Days before an unconverted consultation is followed up.",
            "unscheduled_treatment_days": "Days before accepted, unscheduled treatment is chased.",
            "max_apr_basis_points": (
                "The highest APR a payment plan may charge, in basis points (3600 = 36.00 %)."
            ),
            "opens_at_minute": "Opening time, minutes after local midnight (480 = 8:00).",
            "closes_at_minute": "Closing time, minutes after local midnight.",
        },
    ),
    "communication_entries": (
        "The communication log: every call, e-mail, text, letter and visit in person with or "
        "about a patient.",
        {
            "occurred_at": "When it happened.",
            "channel": "How.",
            "direction": "inbound: they contacted the clinic; outbound: the clinic contacted them.",
            "purpose": "What it was about.",
            "outcome": "How it went, for a call (empty when not said).",
            "staff_id": "The staff member who made or took it.",
            "summary": "What was said.",
            "follow_up_needed": "true when someone must follow it up.",
            "follow_up_on": "The day to follow it up.",
            "contact_id": "The contact spoken to (a lab, a specialist …).",
        },
    ),
    "consent_templates": (
        "Consent forms the clinic uses; their wording is in consent_versions.",
        {"key": "The form's stable name (general_treatment, laser …)."},
    ),
    "consent_versions": (
        "Each wording of a consent form, in one language; a signed consent points at the "
        "version the patient saw. Never changed once written.",
        {
            "template_id": "The consent form.",
            "language": "The language of this wording (en, es …).",
            "version": "The wording's number within its form and language (1, 2 …).",
            "title": "The form's title.",
            "body": "The wording, with placeholders such as {patient_name}.",
            "risks": "The risks section.",
            "alternatives": "The alternatives section.",
        },
    ),
    "consultation_notes": (
        "Consultation notes. A signed note is never changed: corrections are addenda.",
        {
            "author_id": "The staff member who wrote it.",
            "consulted_at": "When the consultation took place.",
            "reason": "Why the patient came.",
            "treatments_discussed": "The treatments discussed.",
            "options_and_costs": "The options and their costs, as discussed.",
            "patient_questions": "The patient's questions.",
            "decision": "What the patient decided (empty: not yet recorded).",
            "decline_reason": "Why the patient declined.",
            "follow_up_on": "The day to follow up.",
            "body": "The note itself.",
            "status": "draft or signed.",
            "signed_by_id": "The provider who signed it.",
            "signed_at": "When it was signed.",
        },
    ),
    "contacts": (
        "The clinic's directory: payers, specialists, referring providers, labs, pharmacies "
        "and other clinics.",
        {
            "kind": "What kind of contact.",
            "organisation": "The organization's name.",
            "name": "A person at the organization (or a solo practitioner).",
            "specialty": "The specialty.",
            "phone": "Main phone number (E.164, e.g. +12075550142).",
            "other_phone": "Another phone number (E.164).",
            "fax": "Fax number (E.164).",
            "email": "E-mail address.",
            "send_records_by": "How they prefer to receive records (empty: not said).",
            "payer_id": "A payer's electronic payer id.",
            "eligibility_phone": "A payer's phone line for eligibility checks.",
            "merged_into_id": "Set when this was a duplicate merged into that contact.",
        },
    ),
    "day_closeouts": (
        "The end-of-day count of the cash drawer. A recount adds a row; the newest counts.",
        {
            "business_day": "The clinic's day the payments were taken.",
            "closed_at": "When the drawer was counted.",
            "closed_by_id": "Who counted it.",
            "expected": 'What the payments say, per method, as JSON: {"cash": "123.45", …}.',
            "counted": "What was counted, per method, as JSON in the same form.",
            "difference": "Counted minus expected over all methods (negative: short).",
            "note": "A note about the count.",
        },
    ),
    "import_batches": (
        "Each file imported from the clinic's previous system.",
        {
            "kind": "What the file held.",
            "source": "The system it came from (Open Dental, Dentrix, Generic CSV …).",
            "file_name": "The file's name.",
            "file_sha256": "SHA-256 of the file, in hex.",
            "encoding": "How the file was read (UTF-8, Windows-1252, XLSX …).",
            "imported_at": "When it was imported.",
            "staff_id": "Who imported it.",
            "created_count": "Rows it created.",
            "updated_count": "Rows it changed.",
            "skipped_count": "Lines it skipped.",
            "rejected_count": "Lines it refused.",
            "undone_at": "When the import was undone (empty: it stands).",
            "undone_by_id": "Who undid it.",
        },
    ),
    "import_mappings": (
        "The column mapping remembered for each source and kind of file.",
        {
            "source": "The system the files come from.",
            "kind": "What the files hold.",
            "columns": 'JSON: {"the file\'s header": "field"} for each column read.',
            "options": "JSON: the reading options (date order, delimiter, encoding …).",
        },
    ),
    "import_rows": (
        "Every row an import created or changed, so it can be traced and undone.",
        {
            "batch_id": "The import it came from.",
            "table_name": "The table of the row.",
            "row_id": "The row's id in that table.",
            "action": "created or updated.",
            "line": "The line of the file it came from.",
            "before": "JSON: the changed columns' values before the import.",
        },
    ),
    "installments": (
        "The schedule of each payment plan, one row per payment due.",
        {
            "payment_plan_id": "The payment plan.",
            "sequence": "Its number in the schedule (1, 2 …).",
            "due_on": "The day it is due.",
            "amount": "The amount due (principal plus interest).",
            "principal": "The part of it that pays down what was financed.",
            "interest": "The interest part of it.",
            "balance_after": "What is still financed once it is paid.",
            "paid_amount": "What payments have paid of it so far.",
        },
    ),
    "insurance_policies": (
        "Patients' insurance policies.",
        {
            "payer_id": "The insurance company (a contact of kind payer).",
            "plan_name": "The plan's name.",
            "member_id": "The member or subscriber id.",
            "group_number": "The group number.",
            "priority": "Which pays first.",
            "subscriber_name": "The policy holder's name.",
            "subscriber_relation": "The patient's relation to the policy holder.",
            "subscriber_date_of_birth": "The policy holder's date of birth.",
            "coverage_percent": "The share the plan pays, in percent (0 to 100).",
            "copay": "The patient's copay per visit.",
            "deductible": "The yearly deductible.",
            "deductible_met": "How much of the deductible was met.",
            "annual_maximum": "The most the plan pays in a year.",
            "effective_from": "The first day of coverage.",
            "effective_to": "The last day of coverage.",
        },
    ),
    "insurance_verifications": (
        "Each check of a policy with the insurance company: who, when, how, what they said.",
        {
            "policy_id": "The policy checked.",
            "verified_at": "When it was checked.",
            "verified_by_id": "Who checked it.",
            "method": "How it was checked.",
            "result": "What the insurance company said.",
            "reference_number": "The call or web reference.",
        },
    ),
    "message_replies": (
        "Texts and e-mails that came back, and what CareDesk did with each.",
        {
            "gateway_id": "The SMS gateway's (or mail server's) id of the reply.",
            "channel": "How it came.",
            "from_address": "The number (E.164) or e-mail address it came from.",
            "body": "What it said.",
            "received_at": "When it came.",
            "message_id": "The message it answers.",
            "appointment_id": "The visit it confirmed, when it did.",
            "action": "What CareDesk did with it.",
            "task_id": "The task made for the front desk to read it.",
        },
    ),
    "message_rules": (
        "When each kind of automatic message goes.",
        {
            "kind": "The kind of message.",
            "offset_minutes": (
                "Minutes from its event (the visit, the due day); negative: before."
            ),
            "send_email": "true: sent by e-mail.",
            "send_text": "true: sent by text message.",
            "service_id": "Only for visits of this service (empty: the clinic-wide rule).",
        },
    ),
    "message_templates": (
        "The clinic's own wording of a kind of message, per channel and language.",
        {
            "kind": "The kind of message.",
            "channel": "e-mail or text.",
            "subject": "The e-mail subject.",
            "body": "The wording, with placeholders such as {patient_first_name}.",
            "updated_by_id": "Who last changed it.",
        },
    ),
    "messages": (
        "Every e-mail and text message sent (or to be sent) to patients and contacts.",
        {
            "uid": "A random id: the e-mail's Message-ID and the SMS gateway's token.",
            "kind": "What the message is.",
            "channel": "e-mail or text.",
            "state": "Where it stands.",
            "state_changed_at": "When it entered its state.",
            "patient_id": "The patient it is to or about.",
            "contact_id": "The contact it is to (a specialist's office).",
            "to_address": "The e-mail address or number (E.164) it went to.",
            "language": "The language it is written in.",
            "subject": "The e-mail subject.",
            "body": "The message.",
            "due_at": "Not sent before this moment.",
            "next_attempt_at": "When it is tried again after a failure.",
            "attempts": "How many times sending was tried.",
            "reason": "Why it failed, bounced or was canceled.",
            "appointment_starts_at": "The visit's start when the message was queued.",
            "rule_id": "The rule that made it (empty: written by hand).",
            "automatic_key": "What a rule's message is about, so it is made only once.",
            "claimed_by": "The sending run that took it.",
            "claimed_at": "When that run took it.",
            "sent_at": "When it was sent.",
            "delivered_at": "When it was delivered.",
            "gateway_id": "The SMS gateway's id of the text.",
        },
    ),
    "messaging_settings": (
        "How the clinic sends e-mail and texts (one row). Passwords and tokens are kept in "
        "the computer's key store, never in the database.",
        {
            "email_enabled": "true: e-mail is sent.",
            "smtp_host": "The mail server.",
            "smtp_port": "The mail server's port.",
            "smtp_security": "How the connection to the mail server is secured.",
            "smtp_user": "The mail account's user name.",
            "from_address": "The address messages come from.",
            "from_name": "The name messages come from.",
            "imap_host": "Where bounces are read (empty: they are not read).",
            "imap_port": "That server's port.",
            "text_enabled": "true: texts are sent.",
            "sms_gateway": "The SMS gateway.",
            "sms_base_url": "The gateway's address.",
            "sms_account_sid": "The gateway account's id (not its secret token).",
            "sms_from_number": "The number texts come from (E.164).",
            "quiet_hours_start_minute": "No message goes after this, minutes after midnight.",
            "quiet_hours_end_minute": "… until this, minutes after midnight.",
            "include_service_name": "true: reminders name the service.",
            "include_provider_name": "true: reminders name the provider.",
            "sending_enabled": "false while the owner paused all sending.",
        },
    ),
    "month_closes": (
        "Each month the owner closed; a reopened close stays on file.",
        {
            "first_day": "The month's first day.",
            "last_day": "The month's last day.",
            "closed_at": "When it was closed.",
            "closed_by_id": "Who closed it.",
            "report": "The month-end report as it stood at the close, as JSON.",
            "seal_trail": "The audit trail's first hash at the close.",
            "seal_last_id": "The audit trail's last row id at the close.",
            "seal_last_hash": "That row's hash.",
            "seal_rows": "Rows in the audit trail at the close.",
            "sealed_at": "When the seal was taken.",
            "reopened_at": "When it was reopened (empty: still closed).",
            "reopened_by_id": "Who reopened it.",
            "reopen_reason": "Why it was reopened.",
        },
    ),
    "note_addenda": (
        "Corrections and additions to signed consultation notes.",
        {
            "note_id": "The note.",
            "author_id": "Who wrote it.",
            "body": "The addendum.",
        },
    ),
    "patient_search_terms": (
        "The words CareDesk finds each patient by (folded names, phone digits, e-mail, chart "
        "number): an index kept from the patients table.",
        {"term": "One searchable word.", "kind": "What the word is."},
    ),
    "patients": (
        "Patients: who they are, how to reach them, where they stand. A record is never "
        "deleted: it is deactivated, or merged into another.",
        {
            "chart_number": "The number printed on forms and typed at the desk.",
            "first_name": "First name.",
            "middle_name": "Middle name.",
            "last_name": "Last name.",
            "preferred_name": "The name the patient goes by.",
            "search_name": "The name folded for searching (lower case, no accents).",
            "date_of_birth": "Date of birth (empty for a lead without one).",
            "sex": "Sex (empty: not recorded).",
            "pronouns": "Pronouns.",
            "mobile_phone": "Mobile phone (E.164, e.g. +12075550142).",
            "home_phone": "Home phone (E.164).",
            "work_phone": "Work phone (E.164).",
            "email": "E-mail address (lower case).",
            "preferred_language": "The language of printed documents and messages (en, es …).",
            "may_text": "true: the patient agreed to text messages.",
            "may_email": "true: the patient agreed to e-mail.",
            "may_voicemail": "true: the patient agreed to voicemail messages.",
            "text_opted_out_at": "When the patient texted STOP (no text goes since).",
            "email_bounced_at": "When mail to the address bounced (no e-mail goes since).",
            "deceased_on": "The day the patient died (nothing is sent about them).",
            "emergency_contact_name": "Emergency contact's name.",
            "emergency_contact_phone": "Emergency contact's phone (E.164).",
            "emergency_contact_relation": "Emergency contact's relation to the patient.",
            "medical_alerts": "Medical alerts, one per line.",
            "allergies": "Allergies, one per line.",
            "medications": "Medications, one per line.",
            "lead_source": "How the patient found the clinic.",
            "journey_stage": "Where the patient stands with the clinic.",
            "journey_stage_since": "When the patient entered that stage.",
            "journey_reason": "Why the patient is lost or inactive.",
            "primary_provider_id": "The provider the patient usually sees.",
            "merged_into_id": "Set when this record was merged into that patient.",
            "merged_at": "When it was merged.",
            "is_active": "false for a deactivated or merged record.",
        },
    ),
    "payment_allocations": (
        "Which part of a payment paid which installment or charge; what no allocation took "
        "is the patient's credit.",
        {
            "payment_id": "The payment.",
            "charge_id": "The charge paid.",
            "amount": "The amount applied.",
        },
    ),
    "payment_plans": (
        "Payment plans: paying an amount over time. Changed terms make a new version; the "
        "old one is kept as superseded.",
        {
            "treatment_plan_id": "The treatment plan it pays for.",
            "supersedes_id": "The earlier terms this version replaces.",
            "terms_version": "The version of the terms (1, 2 …).",
            "status": "Where the plan stands.",
            "plan_date": "The day the plan was made.",
            "total_amount": "The total to be paid.",
            "down_payment": "The amount paid up front.",
            "financed_amount": "The amount paid over time.",
            "installment_count": "How many installments.",
            "frequency": "How often installments fall due.",
            "first_due_on": "The first installment's due day.",
            "apr_basis_points": "The annual percentage rate in basis points (990 = 9.90 %).",
            "late_fee_kind": "How a late installment is charged.",
            "late_fee_amount": "The late fee, when it is an amount.",
            "late_fee_basis_points": "The late fee, when it is a percentage, in basis points.",
            "grace_days": "Days after the due day before an installment is late.",
            "cancel_reason": "Why the plan was canceled.",
            "signed_at": "When the patient signed the agreement.",
            "agreement_document_id": "The signed agreement (a stored document).",
        },
    ),
    "payments": (
        "Money received, and refunds. Voided with a reason, never deleted.",
        {
            "kind": "A payment or a refund.",
            "method": "How it was paid.",
            "amount": "The amount (always positive: the kind says which way).",
            "received_at": "When it was received (or refunded).",
            "reference": "Card slip, check number, transfer id ….",
            "received_by_id": "Who took it.",
            "unapplied": "What of it no installment or charge took: the patient's credit.",
            "payer_contact_id": "Who paid when it was not the patient (an insurance payer).",
            "refund_of_id": "For a refund: the payment it gives back.",
            "voided_at": "When it was voided (empty while it counts).",
            "voided_by_id": "Who voided it.",
            "void_reason": "Why it was voided.",
        },
    ),
    "preauthorizations": (
        "Insurance companies' permissions for procedures.",
        {
            "policy_id": "The insurance policy.",
            "procedure": "What the insurance company calls the procedure.",
            "status": "Where the request stands.",
            "authorization_number": "The insurance company's authorization number.",
            "requested_on": "The day it was requested.",
            "decided_on": "The day it was approved or denied.",
            "expires_on": "The last day it may be used.",
            "approved_units": "Visits or units approved (empty: requested, or no limit).",
            "used_units": "Visits or units used.",
        },
    ),
    "provider_breaks": (
        "Times a provider cannot be booked: every week (lunch) or on one day.",
        {
            "weekday": "The weekday, for a weekly break (0 = Monday … 6 = Sunday).",
            "on_date": "The day, for a one-day break.",
            "start_minute": "Start, minutes after local midnight.",
            "end_minute": "End, minutes after local midnight.",
            "label": "What it is (Lunch …).",
        },
    ),
    "providers": (
        "The people patients are booked with (dentists, hygienists, injectors …).",
        {
            "name": "The provider's name.",
            "title": "Printed before the name (Dr. …).",
            "credentials": "Printed after the name (DDS, MS …).",
            "licence_number": "Professional license number.",
            "position": "Column order in the calendar's day view.",
            "staff_id": "The provider's own login, when they have one.",
        },
    ),
    "referral_events": (
        "Every dated step of a referral, by whom.",
        {
            "at": "When it was recorded.",
            "by_id": "Who recorded it.",
            "kind": "What kind of step.",
            "from_status": "The referral's status before, for a status step.",
            "to_status": "The referral's status after, for a status step.",
            "on_date": "The day it happened, when not the day it was recorded.",
            "note": "What happened.",
        },
    ),
    "referral_records": (
        "Documents and notes sent with a referral.",
        {
            "document_id": "A stored document sent with it.",
            "note_id": "A consultation note sent with it.",
        },
    ),
    "referrals": (
        "Referrals in (another provider sends a patient) and out (to a specialist).",
        {
            "direction": "incoming or outgoing.",
            "contact_id": "The specialist or referring provider at the other end.",
            "provider_id": "The clinic's provider who refers or receives.",
            "status": "Where the referral stands.",
            "status_changed_at": "When it entered that status.",
            "urgency": "How soon the patient should be seen.",
            "reason": "Why the patient is referred.",
            "attached_records": "Records sent that are not stored documents, one per line.",
            "referred_on": "The day of the referral.",
            "sent_at": "When it was sent.",
            "sent_via": "How it was sent (fax, e-mail, post, portal, by hand).",
            "visit_due_on": "The day by which the patient should be seen.",
            "visit_on": "The day of the visit, once booked.",
            "appointment_id": "Incoming: the consultation booked for the patient.",
            "seen_on": "The day the patient was seen.",
            "report_document_id": "The specialist's report (a stored document).",
            "report_received_on": "The day the report came.",
            "report_acknowledged_at": "When the clinic's provider read the report.",
            "report_acknowledged_by_id": "Who acknowledged the report.",
            "follow_up_on": "The day to chase it.",
            "closed_on": "The day it was closed, declined or canceled.",
            "outcome_reason": "Why it was declined or canceled.",
            "letter_document_id": "The referral letter (a stored document).",
        },
    ),
    "rooms": (
        "Treatment rooms and chairs.",
        {"name": "The room's name."},
    ),
    "sender_leases": (
        "Which computer sends messages now (one at a time).",
        {
            "name": "What the lease is for.",
            "holder": "The computer holding it.",
            "expires_at": "When the lease runs out.",
        },
    ),
    "service_consents": (
        "The consent forms a service needs signed before it is booked or done.",
        {"consent_template_id": "The consent form needed."},
    ),
    "services": (
        "The clinic's service list: what can be booked and charged.",
        {
            "name": "The service's name.",
            "code": "The clinic's or a billing code (CDT, CPT …).",
            "category": "The group it is listed under.",
            "default_duration_minutes": "How long a visit for it is booked for, in minutes.",
            "fee": "The fee.",
            "recall_interval_days": "Days after a visit when the patient is due back.",
            "follow_up_call_days": "Days after a visit when the patient is called (0: same day).",
            "requires_preauth": "true: it needs the insurance company's permission first.",
            "description": "What it is, for handouts.",
            "name_es": "The name in Spanish documents.",
            "description_es": "The description in Spanish documents.",
        },
    ),
    "staff": (
        "Staff accounts.",
        {
            "username": "The sign-in name (lower case).",
            "full_name": "The staff member's name.",
            "role": "What the account may do.",
            "password_hash": "The password's hash.",
            "is_active": "false once the account was deactivated.",
            "failed_logins": "Wrong passwords in a row.",
            "locked_until": "Locked until then after too many wrong passwords.",
            "must_change_password": "true: a new password must be set at the next sign-in.",
            "may_break_glass": "true: may open emergency access.",
            "last_login_at": "When the account last signed in.",
        },
    ),
    "stored_documents": (
        "Patients' documents: signed consents, intake forms, letters, scans. Their bytes "
        "are files of the export.",
        {
            "kind": "What the document is.",
            "title": "Its title.",
            "filename": "The file's name.",
            "mime_type": "The file's type.",
            "content": "The file's bytes.",
            "sha256": "SHA-256 of the bytes, in hex (shows a document was not altered).",
            "size_bytes": "The file's size in bytes.",
            "consent_version_id": "For a consent: the wording signed.",
            "signed_at": "When the patient signed it.",
            "witness_name": "The witness's name.",
            "signer_name": "Who signed (the patient or someone for them).",
            "signer_relationship": "The signer's relation to the patient.",
            "witness_staff_id": "The staff member who witnessed the signature.",
        },
    ),
    "tasks": (
        "The work queue: follow-ups, calls, verifications, referrals to chase.",
        {
            "kind": "What kind of task.",
            "title": "What to do.",
            "details": "More about it.",
            "patient_id": "The patient it is about.",
            "assignee_id": "Who it is for (empty: anyone at the desk).",
            "due_on": "The day it is due.",
            "status": "Where it stands.",
            "priority": "How urgent.",
            "automatic_key": "What an automatic task is about, so it is made only once.",
            "resolution": "Why it was closed, when not by hand.",
            "completed_at": "When it was done or canceled.",
            "completed_by_id": "Who did it.",
            "consultation_note_id": "The consultation note it came from.",
            "treatment_plan_id": "The treatment plan it is about.",
            "payment_plan_id": "The payment plan it is about.",
            "insurance_policy_id": "The insurance policy it is about.",
            "preauthorization_id": "The pre-authorization it is about.",
        },
    ),
    "treatment_items": (
        "The procedures of each treatment plan phase, with fees and estimates.",
        {
            "phase_id": "The phase.",
            "description": "The procedure.",
            "area": "Tooth number or body area (#14, forehead …).",
            "quantity": "How many.",
            "fee": "The fee for one.",
            "discount": "The discount on the line.",
            "insurance_estimate": "What insurance is expected to pay of the line.",
            "patient_portion": "What the patient is expected to pay of the line.",
            "status": "Where the item stands.",
            "completed_appointment_id": "The visit that carried it out.",
            "completed_at": "When it was done.",
        },
    ),
    "treatment_phases": (
        "The phases of each treatment plan.",
        {
            "plan_id": "The treatment plan.",
            "title": "The phase's title.",
            "title_es": "The title in Spanish documents.",
            "description": "What happens in this phase, in plain words.",
            "status": "Where the phase stands.",
            "presented_at": "When it was presented.",
            "decided_at": "When the patient decided.",
            "decline_reason": "Why it was declined.",
        },
    ),
    "treatment_plans": (
        "Treatment plans, with alternatives (Option A, Option B).",
        {
            "title": "The plan's title.",
            "title_es": "The title in Spanish documents.",
            "option_group": "Alternatives of one case share this group.",
            "alternative_label": "The alternative's label (Option A …).",
            "status": "Where the plan stands.",
            "presented_by_id": "Who presented it.",
            "presented_at": "When it was presented.",
            "decided_at": "When the patient decided.",
            "decline_reason": "Why it was declined.",
            "accepted_snapshot": "The items, fees and estimates as accepted, as JSON.",
            "accepted_handout_id": "The handout printed at acceptance (a stored document).",
        },
    ),
    "waitlist_entries": (
        "Patients who want an earlier slot, and when they would take one.",
        {
            "provider_id": "The provider wanted (empty: any).",
            "preferred_weekdays": (
                "Weekdays that suit, as bits: 1 = Monday, 2 = Tuesday, 4 = Wednesday … "
                "64 = Sunday, added up (127 = any day)."
            ),
            "earliest_minute": "Earliest start that suits, minutes after local midnight.",
            "latest_minute": "Latest end that suits, minutes after local midnight.",
            "wanted_before": "Not worth offering slots after this moment.",
            "current_appointment_id": "The booking the patient would move from.",
            "booked_appointment_id": "The booking made from the waitlist.",
            "status": "Where the entry stands.",
            "added_by_id": "Who added it.",
        },
    ),
    "working_hours": (
        "When each provider works, per weekday (a split shift is two rows).",
        {
            "weekday": "The weekday (0 = Monday … 6 = Sunday).",
            "start_minute": "Start, minutes after local midnight (540 = 9:00).",
            "end_minute": "End, minutes after local midnight.",
        },
    ),
}


# --- what the schema itself says -----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One column of the dictionary."""

    table: str
    column: str
    type: str
    meaning: str
    exported: bool


_CHECK_IN = re.compile(r"(\w+) IN \(((?:'[^']*'(?:, )?)+)\)")


def coded_values(table: Table) -> dict[str, tuple[str, ...]]:
    """Column → the values its check constraint allows (``kind IN ('a', 'b')``)."""
    found: dict[str, tuple[str, ...]] = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            for column, listed in _CHECK_IN.findall(str(constraint.sqltext)):
                found[column] = tuple(re.findall(r"'([^']*)'", listed))
    return found


def type_name(column: Column) -> str:
    """A column's type in the words the dictionary uses."""
    kind = column.type
    if isinstance(kind, Money):
        return "decimal"
    if isinstance(kind, UTCDateTime):
        return "datetime"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, LargeBinary):
        return "bytes"
    if isinstance(kind, String | Text):
        return "text"
    return str(kind).lower()


#: What a value of each type looks like (the introduction shows examples).
_FORMATS = {
    "decimal": "Decimal amount in the clinic's currency.",
    "datetime": "ISO 8601 UTC.",
    "date": "ISO 8601 date.",
    "boolean": "true/false.",
}


def hand_meaning(table: str, column: str) -> str | None:
    """The hand-written meaning of a column: its table's own, else the shared one."""
    own = TABLES.get(table, ("", {}))[1]
    return own.get(column) or COMMON.get(column)


def describe(table: Table, column: Column, coded: dict[str, tuple[str, ...]]) -> str:
    """The full meaning of a column: its hand-written words, then what the schema says."""
    parts = [hand_meaning(table.name, column.name) or ""]
    kind = type_name(column)
    if kind in _FORMATS:
        parts.append(_FORMATS[kind])
    if column.name in coded:
        values = ", ".join(v if v else "(empty)" for v in coded[column.name])
        parts.append(f"One of: {values}.")
    for key in column.foreign_keys:
        parts.append(f"Refers to {key.column.table.name}.{key.column.name}.")
    if column.nullable and not column.primary_key and kind != "text":
        parts.append("Empty when not set.")
    reason = NOT_EXPORTED.get((table.name, column.name))
    if reason:
        parts.append(reason)
    return " ".join(p for p in parts if p)


def entries(metadata: MetaData) -> Iterator[Entry]:
    """Every column of every table (by table name, then column order)."""
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        coded = coded_values(table)
        for column in table.columns:
            yield Entry(
                table=table.name,
                column=column.name,
                type=type_name(column),
                meaning=describe(table, column, coded),
                exported=(table.name, column.name) not in NOT_EXPORTED,
            )


def exported_columns(table: Table) -> list[Column]:
    """The columns of ``table`` its CSV file holds, in table order."""
    return [c for c in table.columns if (table.name, c.name) not in NOT_EXPORTED]


def missing_meanings(metadata: MetaData) -> list[str]:
    """What the dictionary lacks for ``metadata``: each table or column without a meaning,
    and each meaning written for a table or column that is not there (empty: complete)."""
    problems: list[str] = []
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        if table.name not in TABLES:
            problems.append(f"table {table.name} has no meaning")
            continue
        problems += [
            f"column {table.name}.{column.name} has no meaning"
            for column in table.columns
            if not hand_meaning(table.name, column.name)
        ]
        problems += [
            f"meaning of {table.name}.{name} for a column that is not there"
            for name in TABLES[table.name][1]
            if name not in table.columns
        ]
    problems += [
        f"meaning of table {name} that is not there"
        for name in sorted(TABLES)
        if name not in metadata.tables
    ]
    problems += [
        f"{table}.{column} is listed as not exported but is not there"
        for table, column in NOT_EXPORTED
        if table not in metadata.tables or column not in metadata.tables[table].columns
    ]
    return problems


# --- the files ------------------------------------------------------------------------------------

_INTRO = """\
# Data dictionary

Every table of the clinic's database is a CSV file in `tables/` (UTF-8 with a byte-order
mark, comma-separated, the first row naming the columns). In every file:

- money is a plain decimal amount in the clinic's currency: `123.45`, `-5.00`;
- a moment is ISO 8601 in UTC: `2026-12-07T14:00:00Z` (with fractions of a second when
  they were recorded); the clinic's time zone is in `clinic_settings.timezone`;
- a day is an ISO 8601 date: `2026-12-07`;
- a flag is `true` or `false`;
- an empty cell is a value that was never set (NULL);
- a text that begins with `=`, `+`, `-`, `@`, a tab, a carriage return or an apostrophe has
  an apostrophe (`'`) put before it, so that spreadsheet programs show it as text instead
  of running it as a formula: remove one leading apostrophe from a cell that has one to get
  the stored text back (numbers are never changed).

Columns marked "no" under *Exported* are not in the CSV files; the meaning says why.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def dictionary_markdown(metadata: MetaData, rows: dict[str, int] | None = None) -> str:
    """The dictionary for people: the formats, then each table with what a row is (and how
    many rows the export holds, when ``rows`` says) and a table of its columns."""
    lines = [_INTRO]
    by_table: dict[str, list[Entry]] = {}
    for entry in entries(metadata):
        by_table.setdefault(entry.table, []).append(entry)
    for name, columns in by_table.items():
        lines.append(f"## {name}\n")
        about = TABLES.get(name, ("", {}))[0]
        counted = f" File: `tables/{name}.csv`" + (
            f", {rows[name]:,} rows." if rows is not None and name in rows else "."
        )
        lines.append(about + counted + "\n")
        lines.append("| Column | Type | Meaning | Exported |")
        lines.append("| --- | --- | --- | --- |")
        lines += [
            f"| `{e.column}` | {e.type} | {_cell(e.meaning)} | {'yes' if e.exported else 'no'} |"
            for e in columns
        ]
        lines.append("")
    return "\n".join(lines)


def dictionary_csv(metadata: MetaData) -> bytes:
    """The dictionary for programs: table, column, type, meaning, exported (yes/no), UTF-8
    with a byte-order mark like the tables."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["table", "column", "type", "meaning", "exported"])
    for e in entries(metadata):
        writer.writerow(
            safe_row([e.table, e.column, e.type, e.meaning, "yes" if e.exported else "no"])
        )
    return buffer.getvalue().encode("utf-8-sig")
