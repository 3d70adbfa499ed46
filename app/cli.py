"""The ``caredesk`` command: the GUI by default, sub-commands for scripted work.

Heavy imports (Qt, SQLAlchemy, reportlab) happen inside the command that needs
them, so ``caredesk --help`` and the GUI's first paint stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: A recovery key (from the recovery kit) for `backup verify` and `backup restore`.
RECOVERY_KEY_ENV = "CAREDESK_RECOVERY_KEY"
#: The clinic server's owner role's password, for `backup restore --server`.
OWNER_PASSWORD_ENV = "CAREDESK_OWNER_PASSWORD"

#: ``caredesk print DOCUMENT`` → the option naming the row it prints (None: the patient
#: alone; a consent form names its template with ``--template NAME``).
PRINT_ROW_OPTION: dict[str, str | None] = {
    "intake": None,
    "consent": None,
    "receipt": "payment",
    "plan": "plan",
    "agreement": "plan",
    "referral": "referral",
}
PRINTABLE_DOCUMENTS = tuple(PRINT_ROW_OPTION)

#: ``caredesk messages list --status S``: a message state, or one of the Outbox's views.
MESSAGE_LIST_STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "bounced",
    "cancelled",
    "problems",
)


#: The largest number a database id can be on either kind of database (the server's
#: integer columns hold 32 bits).
LARGEST_ID = 2**31 - 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    if value > LARGEST_ID:
        raise argparse.ArgumentTypeError(f"{text} is larger than any id or count CareDesk keeps")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _server_address(text: str):
    from app.data.server import ServerAddress, ServerAddressError

    try:
        return ServerAddress.parse(text)
    except ServerAddressError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_user(sub: argparse.ArgumentParser) -> None:
    """--user NAME: patient data is shown to staff, signed in, as in the window."""
    sub.add_argument(
        "--user",
        metavar="NAME",
        help="sign in as this member of staff (default: $CAREDESK_USER); the password is "
        "asked for, or read from $CAREDESK_PASSWORD",
    )


def _add_location(sub: argparse.ArgumentParser) -> None:
    """--db PATH or --server URL: which clinic a command works on (default: the one used
    last, or $CAREDESK_SERVER)."""
    location = sub.add_mutually_exclusive_group()
    location.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="the clinic's database file (default: the clinic used last)",
    )
    location.add_argument(
        "--server",
        type=_server_address,
        metavar="URL",
        help="the clinic server, postgresql://caredesk_app@HOST/caredesk (default: "
        "$CAREDESK_SERVER); the password comes from the key store or "
        "$CAREDESK_SERVER_PASSWORD",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caredesk",
        description="CareDesk: front-desk software for small clinics. "
        "With no command, opens the clinic used last (or the setup wizard).",
    )
    parser.add_argument("--version", action="version", version=f"CareDesk {__version__}")
    location = parser.add_mutually_exclusive_group()
    location.add_argument(
        "--db", type=Path, metavar="PATH", help="open the clinic database file at PATH"
    )
    location.add_argument(
        "--server",
        type=_server_address,
        metavar="URL",
        help="open the clinic on its server: postgresql://caredesk_app@HOST/caredesk "
        "(default: $CAREDESK_SERVER)",
    )
    parser.add_argument(
        "--demo", action="store_true", help="open the demo clinic (created on first use)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation headless (encrypted database, PDFs, Qt) and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    seed = commands.add_parser(
        "seed",
        help="create a large deterministic clinic database (benchmarks, demos)",
        description="Create a new encrypted clinic database filled with realistic made-up data. "
        "The key goes to the OS keyring, or comes from CAREDESK_PASSPHRASE where there is none.",
    )
    seed.add_argument("--db", type=Path, required=True, metavar="PATH", help="new database file")
    seed.add_argument("--patients", type=_positive_int, default=2000, help="default: 2000")
    seed.add_argument("--years", type=_positive_int, default=2, help="years of history (2)")
    seed.add_argument("--seed", type=_non_negative_int, default=7, help="random seed (7)")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")

    db = commands.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, text in (
        ("upgrade", "back up, then upgrade the database to this version's schema"),
        ("check", "check the file's integrity, encryption and references"),
    ):
        sub = db_commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _add_location(sub)
    move = db_commands.add_parser(
        "move-to-server",
        help="copy this PC's clinic file into the clinic server's new, empty database",
        description="Copy every row of the clinic file into the empty database `caredesk "
        "server setup` prepared, check the copy (rows per table, audit trail, schema) and "
        "keep it only when all of it agrees. The file is only read: close CareDesk on this "
        "PC first. Signs in as the owner role caredesk_owner; its password comes from "
        "$CAREDESK_SERVER_PASSWORD, or is asked for.",
    )
    move.add_argument(
        "--from", dest="source", type=Path, required=True, metavar="PATH", help="the clinic file"
    )
    move.add_argument(
        "--server",
        type=_server_address,
        required=True,
        metavar="URL",
        help="the clinic server's database, postgresql://HOST/caredesk",
    )
    move.add_argument("--quiet", action="store_true", help="no progress bar")

    audit = commands.add_parser("audit", help="audit trail", description="Audit trail tools.")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="prove no audit row was edited or deleted",
        description="Recompute the audit trail's hash chain and name any edited or deleted row, "
        "then check it against every seal known (the seals file beside the database, and each "
        "--seal file): rows gone from the end, a rewritten trail or one started again are "
        "named. A clean check is sealed.",
    )
    verify.add_argument(
        "--seal",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a seal from `audit seal --out`, or a backup's manifest (repeat for several)",
    )
    _add_location(verify)
    seal = audit_commands.add_parser(
        "seal",
        help="record where the audit trail ends now, to keep outside the database",
        description="Seal the audit trail (its last row, that row's hash, how many rows) into "
        "the seals file beside the database and, with --out, into a file of its own to keep "
        "elsewhere — a USB stick, the month's paperwork. `audit verify --seal FILE` checks the "
        "trail against it later. An existing file is never overwritten.",
    )
    seal.add_argument("--out", type=Path, metavar="FILE", help="also write the seal to FILE")
    _add_location(seal)

    patients = commands.add_parser("patients", help="patients", description="Patient tools.")
    patient_commands = patients.add_subparsers(
        dest="patients_command", metavar="ACTION", required=True
    )
    search = patient_commands.add_parser(
        "search",
        help="find patients as the Patients page does",
        description="Find patients by name, phone, e-mail, date of birth or chart number "
        "(the same search as the Patients page). Prints id, chart number, name, date of "
        "birth and phone; the search is recorded in the audit trail.",
    )
    search.add_argument("query", metavar="QUERY", help='e.g. "nguyen", "(512) 555-0142"')
    search.add_argument("--json", action="store_true", help="print one JSON list")
    search.add_argument("--limit", type=_positive_int, default=50, help="most results (50)")
    _add_location(search)
    _add_user(search)

    contacts = commands.add_parser(
        "contacts",
        help="the contacts directory",
        description="The clinic's contacts: payers, specialists, referring providers, labs, "
        "pharmacies and other clinics.",
    )
    contact_commands = contacts.add_subparsers(
        dest="contacts_command", metavar="ACTION", required=True
    )
    contact_kinds = ["payer", "specialist", "referring_provider", "lab", "pharmacy", "clinic"]
    contact_kinds.append("other")
    contacts_import = contact_commands.add_parser(
        "import",
        help="add contacts from a CSV file",
        description="Add the contacts of a CSV file whose first line names the columns (Kind, "
        "Organization, Name, Specialty, Phone, Other phone, Fax, Email, Address 1, Address 2, "
        "City, State, ZIP, Country, Send records by, Payer ID, Eligibility phone, Notes). All "
        "or nothing: a row that cannot be read stops the import and is named with its line; a "
        "row repeating a contact already there is skipped.",
    )
    contacts_import.add_argument("file", type=Path, metavar="FILE", help="the CSV file")
    contacts_import.add_argument(
        "--dry-run", action="store_true", help="say what would be added; add nothing"
    )
    contacts_import.add_argument(
        "--kind", choices=contact_kinds, help="the kind of rows that do not say theirs"
    )
    _add_location(contacts_import)
    _add_user(contacts_import)
    contacts_list = contact_commands.add_parser(
        "list",
        help="list the active contacts",
        description="Print the active contacts, by name: id, kind, name, phone, e-mail.",
    )
    contacts_list.add_argument("--kind", choices=contact_kinds, help="only contacts of this kind")
    contacts_list.add_argument("--search", default="", metavar="S", help="as the page's search")
    _add_location(contacts_list)
    _add_user(contacts_list)

    tasks = commands.add_parser(
        "tasks", help="the clinic's tasks", description="The clinic's work queue."
    )
    task_commands = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    follow_ups = task_commands.add_parser(
        "follow-ups",
        help="make the automatic follow-up tasks that fell due and close those done",
        description="Run the automatic follow-up rules once, as Today does when it opens (for "
        "a scheduled task when nobody is signed in): make each task that fell due, once, and "
        "close each one whose condition is met. The run is in the audit trail.",
    )
    follow_ups.add_argument(
        "--today", metavar="YYYY-MM-DD", help="the clinic's day to run for (default: today)"
    )
    _add_location(follow_ups)
    _add_user(follow_ups)

    backup = commands.add_parser(
        "backup",
        help="back up the clinic, list, check and restore its backups",
        description="Encrypted, checked backups of the clinic: made into this computer's "
        "backups folder and the backup folder chosen in Settings → Backups (or --to), each "
        "with its manifest. A backup opens only with the clinic's key: keep the recovery kit "
        "with the backups kept off-site. Each command prints one line per result and exits "
        "non-zero when something failed.",
    )
    backup_commands = backup.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    backup_now = backup_commands.add_parser(
        "now",
        help="back the clinic up now and check the backup",
        description="Back the clinic up now (while others may keep working in it), check "
        "the backup, copy it to the backup folder, and remove the automatic backups the "
        "rotation no longer keeps. For a scheduled task: nobody needs to be signed in.",
    )
    backup_now.add_argument(
        "--to", type=Path, metavar="DIR", help="back up into DIR instead of the chosen folder"
    )
    backup_now.add_argument(
        "--new-key",
        action="store_true",
        help="(clinic server) make this computer the one that backs the server up: make the "
        "server backup key, keep it in its key store and print it once for the recovery kit",
    )
    _add_location(backup_now)
    backup_list = backup_commands.add_parser(
        "list",
        help="list the clinic's backups, newest first",
        description="One line per backup of the clinic in this computer's backups folder "
        "and the chosen backup folder: when it was made (UTC), why, where, size, schema, "
        "rows, file.",
    )
    backup_list.add_argument(
        "--folder", type=Path, metavar="DIR", help="list the backups in DIR as well"
    )
    _add_location(backup_list)
    backup_verify = backup_commands.add_parser(
        "verify",
        help="check a backup as a restore would",
        description="Check a backup: its manifest and SHA-256, then (with the clinic's key) "
        "every page, the row counts and the audit trail against its seal. The key is the "
        "clinic's (--db/--server), $CAREDESK_PASSPHRASE, or the recovery key from "
        f"${RECOVERY_KEY_ENV} (asked for at a terminal).",
    )
    backup_verify.add_argument("file", type=Path, metavar="FILE", help="the backup file")
    _add_location(backup_verify)
    backup_restore = backup_commands.add_parser(
        "restore",
        help="put a backup back (the clinic as it was is kept first)",
        description="Restore a backup: it is checked first; the clinic as it is now is kept "
        "as a pre-restore copy in this computer's backups folder; then the backup replaces "
        "it in one step. CareDesk must be closed on this computer. With --to PATH the backup "
        "is restored into a new file instead, and the clinic is left alone.",
    )
    backup_restore.add_argument("file", type=Path, metavar="FILE", help="the backup file")
    backup_restore.add_argument(
        "--to", type=Path, metavar="PATH", help="restore into this new file instead"
    )
    backup_restore.add_argument(
        "--other-clinic",
        action="store_true",
        help="yes, replace this clinic with another clinic's backup",
    )
    _add_location(backup_restore)
    _add_user(backup_restore)

    messages = commands.add_parser(
        "messages",
        help="reminders and messages: send what is due, list, configure",
        description="The outbox of e-mails and texts to patients.",
    )
    message_commands = messages.add_subparsers(
        dest="messages_command", metavar="ACTION", required=True
    )
    messages_run = message_commands.add_parser(
        "run",
        help="queue what the rules say is due and send it; one summary line",
        description="Run the sender once, as the app does every minute (for a scheduled task "
        "when nobody is signed in): queue the messages the rules say are due, send what is "
        "due, and read delivery statuses and replies. Only one computer sends at a time; a "
        "run that finds another sending says so and sends nothing.",
    )
    messages_run.add_argument(
        "--now",
        metavar="ISO",
        help="the moment to run at, e.g. 2026-06-16T09:00 (the clinic's time) or with an "
        "offset (default: now)",
    )
    messages_run.add_argument(
        "--dry-run", action="store_true", help="say what would be queued and sent; change nothing"
    )
    messages_run.add_argument(
        "--limit", type=_positive_int, default=500, help="most messages to send (500)"
    )
    _add_location(messages_run)
    _add_user(messages_run)
    messages_list = message_commands.add_parser(
        "list",
        help="list the outbox",
        description="Print the outbox, latest change first: id, state, channel, kind, due "
        "(UTC), to, patient or contact, attempts, reason.",
    )
    messages_list.add_argument(
        "--status",
        metavar="S",
        choices=MESSAGE_LIST_STATUSES,
        help="only these: " + ", ".join(MESSAGE_LIST_STATUSES) + " (default: all)",
    )
    messages_list.add_argument("--limit", type=_positive_int, default=500, help="most lines (500)")
    _add_location(messages_list)
    _add_user(messages_list)
    configure = message_commands.add_parser(
        "configure",
        help="set the clinic's mail server for e-mail messages",
        description="Set the mail server CareDesk sends e-mail through, and turn e-mail "
        "messages on (the owner). The password comes from $CAREDESK_SMTP_PASSWORD (or is "
        "asked for at a terminal) and is kept in this computer's key store, never in the "
        "database; none given keeps the stored one.",
    )
    configure.add_argument("--smtp-host", required=True, metavar="H", help="the mail server")
    configure.add_argument(
        "--smtp-port", required=True, type=_positive_int, metavar="P", help="e.g. 587 or 465"
    )
    configure.add_argument(
        "--smtp-security",
        required=True,
        choices=["starttls", "ssl", "none"],
        help="none (plain SMTP) only to this computer",
    )
    configure.add_argument("--smtp-user", default="", metavar="U", help="the account's user name")
    configure.add_argument(
        "--from", dest="from_address", required=True, metavar="ADDR", help="the from address"
    )
    configure.add_argument("--from-name", metavar="N", help="the name shown as the sender")
    configure.add_argument(
        "--imap-host",
        metavar="H",
        help="read bounces from this mailbox server (IMAP over SSL, the same account); "
        '"" stops reading them; not given keeps what is set',
    )
    configure.add_argument(
        "--imap-port", type=_positive_int, metavar="P", help="the mailbox server's port (993)"
    )
    _add_location(configure)
    _add_user(configure)

    report = commands.add_parser(
        "report", help="the owner's reports", description="The owner's month-end report."
    )
    report_commands = report.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    report_month = report_commands.add_parser(
        "month",
        help="one month's figures",
        description="One month's figures (defined in docs/reports.md), beside the month "
        "before and the same month a year earlier: the month-end summary as a PDF "
        "(FILE.pdf), a spreadsheet (FILE.xlsx) or CSV files, one per table, in a zip "
        "(FILE.zip); or as JSON under stable keys, money as decimal strings (FILE.json, or "
        "printed without --out). The owner's has the money; a coordinator's the schedule "
        "and coordination. The export is recorded in the audit trail.",
    )
    report_month.add_argument("month", metavar="YYYY-MM", help="e.g. 2026-11")
    report_range = report_commands.add_parser(
        "range",
        help="the figures of any range of days",
        description="The figures of the clinic-local days --from … --to (both included, at "
        "most 5 years), as `report month` writes them.",
    )
    report_range.add_argument("--from", dest="first", required=True, metavar="YYYY-MM-DD")
    report_range.add_argument("--to", dest="last", required=True, metavar="YYYY-MM-DD")
    for sub in (report_month, report_range):
        sub.add_argument(
            "--out",
            type=Path,
            metavar="FILE",
            help="write it to a new file: .pdf, .xlsx, .zip (CSV files) or .json",
        )
        sub.add_argument(
            "--format",
            dest="report_format",
            metavar="FORMAT",
            help="pdf, xlsx, csv or json (default: from --out's extension; json without --out)",
        )
        sub.add_argument("--lang", metavar="LANG", help="en or es (default: the clinic's language)")
        _add_location(sub)
        _add_user(sub)

    calendar = commands.add_parser(
        "calendar", help="appointment book exports", description="Appointment book exports."
    )
    calendar_commands = calendar.add_subparsers(
        dest="calendar_command", metavar="ACTION", required=True
    )
    daysheet = calendar_commands.add_parser(
        "daysheet",
        help="print one provider's day sheet to a PDF",
        description="Write one provider's day sheet (the day's appointments, working hours "
        "and totals) to a PDF. It names patients: the print is recorded in the audit trail.",
    )
    daysheet.add_argument("--provider", required=True, metavar="NAME", help='e.g. "Dr. Okafor"')
    daysheet.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the day to print")
    daysheet.add_argument("--out", type=Path, required=True, metavar="F.pdf", help="PDF to write")
    _add_location(daysheet)
    _add_user(daysheet)
    ics = calendar_commands.add_parser(
        "export-ics",
        help="export one provider's appointments to an iCalendar (.ics) file",
        description="Write one provider's appointments from --from to --to (at most 366 days) "
        "to an .ics file any calendar app can import. Events carry the service and room only; "
        "--with-names adds patient names (the file leaves the encrypted database). "
        "The export is recorded in the audit trail.",
    )
    ics.add_argument("--provider", required=True, metavar="NAME", help='e.g. "Dr. Okafor"')
    ics.add_argument("--from", dest="first_day", required=True, metavar="YYYY-MM-DD")
    ics.add_argument("--to", dest="last_day", required=True, metavar="YYYY-MM-DD")
    ics.add_argument(
        "--with-names", action="store_true", help="put patient names in the events' titles"
    )
    ics.add_argument("--out", type=Path, required=True, metavar="F.ics", help=".ics file to write")
    _add_location(ics)
    _add_user(ics)

    plans = commands.add_parser("plans", help="payment plans", description="Payment plan tools.")
    plan_commands = plans.add_subparsers(dest="plans_command", metavar="ACTION", required=True)
    quote = plan_commands.add_parser(
        "quote",
        help="print a payment plan's schedule (no database needed)",
        description="Print the schedule the payment plan window would preview: due date, "
        "amount, principal, interest and remaining balance of each installment, with totals. "
        "Give --installments or --installment-amount.",
    )
    quote.add_argument("--amount", required=True, metavar="TOTAL", help="total amount, e.g. 4800")
    quote.add_argument("--down", default="0", metavar="AMOUNT", help="down payment (0)")
    quote.add_argument("--installments", metavar="N", help="number of installments")
    quote.add_argument("--installment-amount", metavar="AMOUNT", help="amount of each installment")
    quote.add_argument(
        "--frequency",
        default="monthly",
        choices=["weekly", "biweekly", "monthly"],
        help="how often installments are due (monthly)",
    )
    quote.add_argument("--first", required=True, metavar="YYYY-MM-DD", help="first due date")
    quote.add_argument("--plan-date", metavar="YYYY-MM-DD", help="default: today")
    quote.add_argument("--apr", default="0", metavar="PERCENT", help="annual rate, e.g. 9.9 (0)")
    quote.add_argument(
        "--max-apr", default="36", metavar="PERCENT", help="the legal APR cap to check against (36)"
    )
    quote.add_argument("--currency", default="USD", metavar="CODE", help="currency (USD)")
    quote.add_argument("--json", action="store_true", help="print one JSON object")

    printer = commands.add_parser(
        "print",
        help="print one patient document to a PDF",
        description="Write one of a patient's documents to a PDF: a payment receipt "
        "(--payment), a treatment-plan handout (--plan: the treatment plan), a payment plan "
        "agreement (--plan: the payment plan) or a referral letter (--referral). Documents "
        "print in the patient's preferred language (a referral letter, read by the "
        "specialist, in the clinic's) unless --lang says otherwise. An existing file is "
        "never overwritten. The print is recorded in the audit trail.",
    )
    printer.add_argument(
        "document",
        choices=PRINTABLE_DOCUMENTS,
        metavar="DOCUMENT",
        help=" | ".join(PRINTABLE_DOCUMENTS),
    )
    printer.add_argument("--patient", required=True, type=_positive_int, metavar="ID")
    printer.add_argument("--payment", type=_positive_int, metavar="ID", help="receipt: the payment")
    printer.add_argument(
        "--plan",
        type=_positive_int,
        metavar="ID",
        help="plan: the treatment plan; agreement: the payment plan",
    )
    printer.add_argument("--referral", type=_positive_int, metavar="ID", help="the referral")
    printer.add_argument(
        "--template", metavar="NAME", help="consent: the consent form (general_treatment, laser …)"
    )
    printer.add_argument(
        "--blank",
        action="store_true",
        help="intake: the empty, fillable form with the patient's banner (not pre-filled)",
    )
    printer.add_argument(
        "--lang", metavar="LANG", help="en or es (default: the patient's language)"
    )
    printer.add_argument("--out", type=Path, required=True, metavar="F.pdf", help="PDF to write")
    _add_location(printer)
    _add_user(printer)

    _add_import_commands(commands)
    _add_export_commands(commands)

    server = commands.add_parser(
        "server",
        help="the clinic server (PostgreSQL) the clinic's PCs share",
        description="Set up the clinic server, upgrade its database after updating CareDesk "
        "(both on the server PC itself, as its administrator), or join this PC to it.",
    )
    server_commands = server.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    setup = server_commands.add_parser(
        "setup",
        help="prepare the clinic database and encrypted connections; print the join code",
        description="On the server PC, as PostgreSQL's administrator: create (or bring up to "
        "date) the clinic database and CareDesk's two roles, switch the server to encrypted "
        "connections checked against the clinic's own certificate authority, and print the "
        "join code every PC joins with. Safe to run again: the certificate authority and "
        "the application role's password are kept, so joined PCs keep working. The "
        "administrator's password comes from $CAREDESK_SERVER_PASSWORD, or is asked for.",
    )
    setup.add_argument(
        "--server",
        type=_server_address,
        required=True,
        metavar="URL",
        help="the server as its administrator, on this computer: "
        "postgresql://postgres@localhost:5432/caredesk",
    )
    setup.add_argument(
        "--hostname",
        action="append",
        metavar="NAME",
        help="a name or IP address the PCs reach the server by (repeat for several; the first "
        "goes in the join code). Default: the names setup used before, or this computer's "
        "network address and names",
    )
    setup.add_argument(
        "--join-code-out", type=Path, metavar="FILE", help="also write the join code to FILE"
    )
    setup.add_argument(
        "--app-password-env",
        metavar="VAR",
        help="give caredesk_app the password in the environment variable VAR (default: keep "
        "its password; a new one, printed once, the first time)",
    )
    setup.add_argument(
        "--renew-ca",
        action="store_true",
        help="make a new certificate authority: every PC must then join again",
    )
    upgrade = server_commands.add_parser(
        "upgrade",
        help="upgrade the clinic database to this version's schema",
        description="Run this version's migrations on the clinic server as the owner role "
        "caredesk_owner, and grant caredesk_app its rights on every table again. Its "
        "password comes from $CAREDESK_SERVER_PASSWORD, this computer's key store (setup "
        "leaves it there), or is asked for.",
    )
    upgrade.add_argument(
        "--server",
        type=_server_address,
        required=True,
        metavar="URL",
        help="the clinic database, postgresql://caredesk_owner@localhost/caredesk",
    )
    join = server_commands.add_parser(
        "join",
        help="join this PC to the clinic server with its join code",
        description="Check the server against the clinic's certificate authority named in "
        "the join code, sign in once as caredesk_app and keep the password in this "
        "computer's key store. The password comes from $CAREDESK_SERVER_PASSWORD, or is "
        "asked for.",
    )
    join.add_argument("code", metavar="CODE", help="the join code `caredesk server setup` printed")
    return parser


#: What each `caredesk import KIND` reads, for its help.
_IMPORT_KINDS = {
    "patients": "patients (matched by chart number, then by the duplicate rules: same name "
    "and date of birth, phone or e-mail)",
    "appointments": "appointments, onto providers, rooms and services by name (clashes are "
    "listed, not double-booked)",
    "balances": "opening balances: one dated adjustment per patient, by chart number",
    "contacts": "contacts: payers, specialists, referring providers, labs …",
}


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a date written YYYY-MM-DD") from None


def _add_import_commands(commands) -> None:
    imports = commands.add_parser(
        "import",
        help="bring patients, appointments, balances or contacts in from another system",
        description="Import a CSV (any delimiter; UTF-8, Windows-1252 or UTF-16) or XLSX file "
        "exported by the clinic's previous system. The columns are matched to CareDesk's "
        "fields by the mapping remembered for the system (--source), a ready-made one (Open "
        "Dental, Dentrix, Jane, Generic CSV) or --mapping. Check first with --dry-run: it "
        "says how many rows would be created, updated or skipped and names every row that "
        "cannot be imported. The import is one transaction: while a row is bad nothing is "
        "imported (unless --skip-bad-rows), and an interrupted import changes nothing. The "
        "owner may undo an import the same day (`caredesk import undo`).",
    )
    kinds = imports.add_subparsers(dest="import_command", metavar="WHAT", required=True)
    for kind, what in _IMPORT_KINDS.items():
        sub = kinds.add_parser(kind, help=f"import {what.split(' (')[0].split(':')[0]}",
                               description=f"Import {what}.")  # fmt: skip
        sub.add_argument("file", type=Path, metavar="FILE", help="the CSV or XLSX file")
        sub.add_argument(
            "--dry-run", action="store_true", help="check the file and say what would happen"
        )
        sub.add_argument(
            "--source",
            metavar="SYSTEM",
            help="the system the file comes from: Open Dental, Dentrix, Jane, Generic CSV or "
            "the name of a mapping saved before (default: recognized from the columns)",
        )
        sub.add_argument(
            "--mapping",
            type=Path,
            metavar="M.json",
            help='the columns: {"columns": {"Header or column number": "field"}, '
            '"date_order": "DMY"}',
        )
        sub.add_argument(
            "--date-order",
            choices=["MDY", "DMY", "YMD"],
            help="how dates like 03/04/2020 read (needed when the file's dates read two ways)",
        )
        sub.add_argument("--sheet", metavar="NAME", help="the XLSX sheet (default: the first)")
        sub.add_argument(
            "--no-header", action="store_true", help="the first line is data, not column names"
        )
        sub.add_argument(
            "--rejects",
            type=Path,
            metavar="OUT.csv",
            help="write the rows that cannot be imported there, each with why",
        )
        sub.add_argument(
            "--skip-bad-rows",
            action="store_true",
            help="import the good rows and leave the bad ones out (default: nothing while a "
            "row is bad)",
        )
        if kind == "appointments":
            sub.add_argument(
                "--names",
                type=Path,
                metavar="N.json",
                help='the file\'s names for providers, rooms and services: {"provider": '
                '{"DrL": "Dr. Lee"}, "room": {…}, "service": {…}} (default: matched as written)',
            )
            sub.add_argument(
                "--double-book",
                action="store_true",
                help="import appointments that clash as double bookings instead of leaving "
                "them out",
            )
        if kind == "balances":
            sub.add_argument(
                "--as-of",
                type=_date,
                metavar="YYYY-MM-DD",
                help="the date of balances whose row gives none (default: today)",
            )
        _add_location(sub)
        _add_user(sub)
    history = kinds.add_parser(
        "history",
        help="list the imports made",
        description="Each file imported: id, when, who, what, from which system, the counts, "
        "and whether it was undone.",
    )
    _add_location(history)
    _add_user(history)
    undo = kinds.add_parser(
        "undo",
        help="undo an import made today",
        description="Take back everything an import made or changed, as a whole, on the day it "
        "was made — refused when anything it brought in has been used or changed since.",
    )
    undo.add_argument("batch", type=_positive_int, metavar="ID", help="the id `history` lists")
    _add_location(undo)
    _add_user(undo)


def _add_export_commands(commands) -> None:
    exports = commands.add_parser(
        "export",
        help="a patient's record, or the whole clinic, in open formats",
        description="Export a copy of one patient's record (a disclosure, audited with to "
        "whom and why), or the whole clinic's data to move to another system.",
    )
    what = exports.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    patient = what.add_parser(
        "patient",
        help="a patient's record as a .zip (PDF summary, documents, FHIR R4 bundle)",
        description="Write one patient's record as a .zip: a readable PDF summary, the stored "
        "documents and a FHIR R4 Bundle (JSON). Consultation notes are included only for "
        "staff who may read them. Audited as a disclosure.",
    )
    patient.add_argument(
        "patient", type=_positive_int, metavar="ID", help="the id `patients search` prints"
    )
    patient.add_argument("--out", type=Path, metavar="F.zip", required=True, help="the file")
    patient.add_argument(
        "--to", dest="to_whom", metavar="WHOM", required=True, help='e.g. "the patient"'
    )
    patient.add_argument("--why", metavar="WHY", required=True, help='e.g. "patient\'s request"')
    patient.add_argument(
        "--language", choices=["en", "es"], help="of the PDF summary (default: the patient's)"
    )
    _add_location(patient)
    _add_user(patient)
    clinic = what.add_parser(
        "clinic",
        help="every table as CSV with a data dictionary, FHIR R4 NDJSON and the documents",
        description="Write the whole clinic (owner only) into a new or empty folder: every "
        "table as CSV (money as decimals, times ISO 8601 UTC) with a data dictionary, FHIR R4 "
        "NDJSON per resource type, and every stored document — or, with --encrypt, into one "
        "AES-256 encrypted .zip whose password comes from $CAREDESK_EXPORT_PASSWORD or is "
        "asked for twice.",
    )
    clinic.add_argument("--out", type=Path, metavar="DIR", required=True, help="the folder")
    clinic.add_argument(
        "--encrypt", action="store_true", help="write a password-protected .zip at --out instead"
    )
    clinic.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_location(clinic)
    _add_user(clinic)


def _say(text: str) -> None:
    print(text, flush=True)


def _fail(text: str, code: int = EXIT_FAILED) -> int:
    print(f"caredesk: {text}", file=sys.stderr, flush=True)
    return code


def _clinic_location(args):
    """The file or server a command works on: --db, --server, $CAREDESK_SERVER, then the
    clinic used last; None when there is none.  A bad $CAREDESK_SERVER is a usage error."""
    from app.data.server import SERVER_ENV, ServerAddress, ServerAddressError
    from app.services.clinic.clinics import last_used_location

    if getattr(args, "db", None) is not None:
        return args.db
    if getattr(args, "server", None) is not None:
        return args.server
    from_env = os.environ.get(SERVER_ENV, "").strip()
    if from_env:
        try:
            return ServerAddress.parse(from_env)
        except ServerAddressError as error:
            raise _UsageError(f"{SERVER_ENV}: {error}") from None
    return last_used_location()


USER_ENV = "CAREDESK_USER"
PASSWORD_ENV = "CAREDESK_PASSWORD"


def _staff_credentials(args) -> tuple[str, str]:
    """Who signs in for a command that shows or changes patient data, and their password —
    checked before anything is opened."""
    import getpass

    username = (args.user or os.environ.get(USER_ENV, "")).strip()
    if not username:
        raise _UsageError(
            f"sign in as a member of staff with --user NAME (or {USER_ENV}): patient data is "
            "shown to staff only, as in CareDesk's window"
        )
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise _UsageError(
                f"no password for {username}: set {PASSWORD_ENV}, or run the command at a "
                "terminal to be asked"
            )
        password = getpass.getpass(f"Password for {username}: ")
    return username, password


def _sign_in(db, credentials: tuple[str, str]):
    """The staff member's Actor (a failed sign-in is audited and counts toward the lockout,
    as at the window); their role's permissions apply to what the command does."""
    from app.services.clinic import auth

    return auth.login(db, *credentials)


def _open_for_cli(args, *, upgrade: bool = False, as_is: bool = False):
    """Open the clinic the command names (see _clinic_location); ``as_is``: a check that
    reads any schema, upgrading nothing."""
    from app.data.server import ServerAddress
    from app.services.clinic.clinics import open_clinic, open_server_clinic

    where = _clinic_location(args)
    if where is None:
        raise _UsageError("no clinic given (use --db PATH or --server URL)")
    # A command never changes which clinic CareDesk opens next (checking a backup copy
    # with --db must not make the copy the clinic).
    if isinstance(where, ServerAddress):
        return open_server_clinic(where, remember=False)
    return open_clinic(where, upgrade=upgrade, remember=False, as_is=as_is)


def _cmd_db(args) -> int:
    if args.db_command == "move-to-server":
        return _cmd_move_to_server(args)
    from app.data import migrate
    from app.data.database import check_integrity

    upgrading = args.db_command == "upgrade"
    clinic = _open_for_cli(args, upgrade=upgrading, as_is=not upgrading)
    where = clinic.db.describe()
    try:
        if args.db_command == "upgrade":
            if clinic.server is not None:
                _say(
                    f"{where} is up to date ({migrate.head_revision()}). A server's schema is "
                    "upgraded on the server itself: `caredesk server upgrade`."
                )
                return EXIT_OK
            if clinic.backup_before_upgrade:
                _say(f"Upgraded to {migrate.head_revision()}.")
                _say(f"Backup of the old version: {clinic.backup_before_upgrade}")
            else:
                _say(f"Already up to date ({migrate.head_revision()}).")
            return EXIT_OK
        problems = list(check_integrity(clinic.db).problems)
        schema, current = None, True
        if not problems:  # (a damaged file is not read any further)
            schema = migrate.current_revision(clinic.db)
            current = schema == migrate.HEAD_REVISION
            if current:
                problems += _money_problems(clinic.db)
        if not problems:
            checked = (
                "references, constraints and installments"
                if clinic.server is not None
                else "integrity, encryption, references and installments"
            )
            if not current:  # a backup made before an upgrade, checked as it is
                checked = (
                    f"integrity, encryption and references; schema {schema}, upgraded when opened"
                )
            _say(f"{where}: OK ({checked} checked)")
            return EXIT_OK
        for problem in problems:
            _say(problem)
        return _fail(f"{len(problems)} problem(s) found in {where}")
    finally:
        clinic.db.close()


def _cmd_move_to_server(args) -> int:
    """``caredesk db move-to-server --from PATH --server URL``."""
    import getpass

    from app.data.server import PASSWORD_ENV
    from app.services.clinic.server_move import move_clinic_to_server, owner_address

    signs_in_as = owner_address(args.server)
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        if not sys.stdin.isatty():
            raise _UsageError(f"set {PASSWORD_ENV} to the password of {signs_in_as.user}")
        password = getpass.getpass(
            f"Password of {signs_in_as.user} on {signs_in_as.describe()}: ", stream=sys.stderr
        )
    bar = _ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    report = move_clinic_to_server(args.source, args.server, password, progress=bar)
    width = max(len(table.name) for table in report.tables)
    for table in report.tables:
        _say(f"  {table.name:<{width}} {table.rows:>12,}")
    _say(
        f"Moved {report.rows:,} rows in {len(report.tables)} tables to "
        f"{args.server.describe()} in {report.seconds:.1f} s; every table's rows, the audit "
        f"trail ({report.audit_rows_checked:,} rows) and the schema ({report.revision}) checked."
    )
    _say(
        f"Every PC now joins {report.server.as_url()}. {args.source} was only read: keep it "
        "as a backup, but do not work in it any more."
    )
    return EXIT_OK


def _money_problems(db) -> list[str]:
    """Installments whose recorded payments, and payments whose unapplied money, differ from
    their live allocations (and refunds)."""
    from app.services.billing import balances

    with db.uow() as session:
        wrong = balances.unbalanced_installments(session)
        unapplied = balances.unbalanced_payments(session)
    return [
        f"installment {installment_id}: what it was paid differs from its allocations"
        for installment_id in wrong
    ] + [
        f"payment {payment_id}: its unapplied money differs from its allocations and refunds"
        for payment_id in unapplied
    ]


def _cmd_audit(args) -> int:
    from app.services.clinic.audit_seals import export_seal, verify_trail

    if args.audit_command == "seal" and args.out is not None:
        _check_new_out(args.out)
    for seal_file in getattr(args, "seal", []):
        if not seal_file.is_file():
            raise _UsageError(f"--seal {seal_file}: there is no such file")
    clinic = _open_for_cli(args, as_is=True)
    try:
        if args.audit_command == "seal":
            if args.out is None:
                from app.services.clinic.audit_seals import record_seal, seals_file

                sealed = record_seal(clinic.db, "sealed by hand")
                where = seals_file(clinic.db)
            else:
                sealed = export_seal(clinic.db, args.out)
                where = args.out
            if sealed is None:
                return _fail("the audit trail is empty: there is nothing to seal yet")
            _say(f"Sealed at row {sealed.last_id:,} ({sealed.rows:,} rows) into {where}.")
            return EXIT_OK
        result = verify_trail(clinic.db, args.seal)
    finally:
        clinic.db.close()
    for note in result.notes:
        _say(f"note: {note}")
    if result.ok:
        against = (
            f"; {result.seals_checked:,} seal(s) agree"
            if result.seals_checked
            else "; no seals yet"
        )
        _say(
            f"Audit trail intact: {result.chain.rows_checked} rows, every hash and link verified"
            f"{against}."
        )
        return EXIT_OK
    for problem in (*result.chain.problems, *result.problems):
        _say(f"TAMPERED: {problem}")
    count = len(result.chain.problems) + len(result.problems)
    return _fail(f"the audit trail has {count} problem(s)")


def _cmd_patients(args) -> int:
    import json

    from app.services.patients.search import command_search

    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        hits = command_search(clinic.db, actor, args.query, limit=args.limit)
    finally:
        clinic.db.close()
    if args.json:
        rows = [
            {
                "id": hit.id,
                "chart_number": hit.chart_number,
                "name": hit.display_name,
                "date_of_birth": hit.date_of_birth.isoformat() if hit.date_of_birth else None,
                "phone": hit.phone,
            }
            for hit in hits
        ]
        _say(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    for hit in hits:
        born = hit.date_of_birth.isoformat() if hit.date_of_birth else "-"
        _say(f"{hit.id}\t{hit.chart_number}\t{hit.display_name}\t{born}\t{hit.phone or '-'}")
    if not hits:
        _say("No patient matches.")
    return EXIT_OK


def _cmd_contacts(args) -> int:
    if args.contacts_command == "import":
        return _contacts_import(args)
    from app.services.contacts.directory import list_contacts

    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        lines, offset = [], 0
        while True:
            page = list_contacts(
                clinic.db, actor, search=args.search, kind=args.kind, offset=offset, limit=500
            )
            lines += page
            offset += len(page)
            if len(page) < 500:
                break
    finally:
        clinic.db.close()
    for line in lines:
        phone, email = line.phone or "-", line.email or "-"
        _say(f"{line.id}\t{line.kind}\t{line.display_name}\t{phone}\t{email}")
    if not lines:
        _say("No contact matches.")
    return EXIT_OK


def _contacts_import(args) -> int:
    from app.services.contacts.importing import check_import_size, import_contacts_csv

    path: Path = args.file
    try:
        check_import_size(path.stat().st_size)  # before reading a huge file whole
        data = path.read_bytes()
    except FileNotFoundError:
        return _fail(f"{path}: no such file")
    except IsADirectoryError:
        return _fail(f"{path}: is a folder, not a CSV file")
    except OSError as error:
        return _fail(f"{path}: cannot be read ({error.strerror or error})")
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        result = import_contacts_csv(
            clinic.db, actor, data, dry_run=args.dry_run, default_kind=args.kind
        )
    finally:
        clinic.db.close()
    for problem in result.errors:
        print(problem.sentence(), file=sys.stderr, flush=True)
    for problem in result.skipped:
        _say(problem.sentence())
    if result.errors:
        return _fail(result.summary())
    _say(result.summary())
    return EXIT_OK


#: The password of an encrypted clinic export, for scripts (otherwise asked for twice).
EXPORT_PASSWORD_ENV = "CAREDESK_EXPORT_PASSWORD"


def _read_small_file(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > 1024 * 1024:
            raise _UsageError(f"{path}: too large for {what} (at most 1 MB)")
        return path.read_bytes()
    except FileNotFoundError:
        raise _UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise _UsageError(f"{path}: is a folder, not {what}") from None
    except OSError as error:
        raise _UsageError(f"{path}: cannot be read ({error.strerror or error})") from None


def _write_user_file(path: Path, data: bytes) -> None:
    """A file the user asked for, written whole or not at all."""
    from app.services.backups.files import write_atomically

    try:
        write_atomically(path, data)
    except OSError as error:
        raise _UsageError(f"{path}: cannot be written ({error.strerror or error})") from None


def _cmd_import(args) -> int:
    if args.import_command == "history":
        return _import_history(args)
    if args.import_command == "undo":
        return _import_undo(args)
    from dataclasses import replace

    from app.data.models.imports import ImportKind
    from app.services.imports import batches, mappings, names, sources
    from app.services.imports.common import ImportRequest

    kind = ImportKind(args.import_command)
    path: Path = args.file
    if path.is_dir():
        return _fail(f"{path}: is a folder, not a CSV or XLSX file")
    if not path.exists():
        return _fail(f"{path}: no such file")
    mapping_json = _read_small_file(args.mapping, "a mapping") if args.mapping else None
    names_json = (
        _read_small_file(args.names, "a names file") if getattr(args, "names", None) else None
    )
    try:
        source_file = sources.read_source(
            path, has_header=False if args.no_header else None, sheet=args.sheet
        )
    except sources.ImportFileError as error:
        return _fail(f"{path}: {error}")
    except OSError as error:
        return _fail(f"{path}: cannot be read ({error.strerror or error})")
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    bar = _ProgressBar(enabled=sys.stderr.isatty())
    try:
        actor = _sign_in(clinic.db, credentials)
        if mapping_json is not None:
            mapping = mappings.mapping_from_json(mapping_json, source_file, kind.value)
        else:
            source = args.source or mappings.detect_source(kind.value, source_file.headers)
            source = source or "Generic CSV"
            mapping = mappings.remembered_mapping(
                clinic.db, actor, source, kind.value, source_file
            ) or mappings.guess_mapping(kind.value, source_file, source)
        if args.date_order:
            mapping = replace(mapping, date_order=args.date_order)
        _say(f"{source_file.name}: {source_file.describe()}, read as {mapping.source}.")
        for index in sorted(mapping.columns):
            _say(f"  {source_file.headers[index]} → {mapping.columns[index]}")
        problems = mapping.problems(source_file.headers, source_file.rows)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr, flush=True)
            return _fail(
                "the file's columns do not give what an import needs: say which column is "
                "which with --mapping M.json",
                EXIT_USAGE,
            )
        rows = mappings.mapped_rows(source_file, mapping)
        chosen, matches = {}, None
        if kind is ImportKind.APPOINTMENTS:
            matches = names.match_names(clinic.db, actor, rows)
            if names_json is not None:
                matches = names.with_choices(matches, names.choices_from_json(names_json))
            chosen = {what: matches.names.get(what, {}) for what in names.NAMED_FIELDS}
        request = ImportRequest(
            kind=kind,
            source=mapping.source,
            file_name=source_file.name,
            file_sha256=source_file.sha256,
            encoding=source_file.encoding,
            headers=source_file.headers,
            rows=rows,
            date_order=mapping.date_order,
            providers=chosen.get("provider", {}),
            rooms=chosen.get("room", {}),
            services=chosen.get("service", {}),
            double_book=getattr(args, "double_book", False),
            as_of=getattr(args, "as_of", None),
        )
        preview = batches.dry_run(
            clinic.db, actor, request, progress=lambda done, total: bar("Checking", done, total)
        )
        if preview.date_order_needed:
            return _fail(
                "some dates in the file read two ways (03/04/2020: March 4 or 3 April?): say "
                "which with --date-order MDY, DMY or YMD",
                EXIT_USAGE,
            )
        unmatched = matches.unmatched() if kind is ImportKind.APPOINTMENTS else {}
        for what, unknown in unmatched.items():
            listed = ", ".join(f"“{name}”" for name in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            print(f"No {what} here is called {listed}{more}: match them with --names N.json.",
                  file=sys.stderr, flush=True)  # fmt: skip
        for reject in preview.rejects:
            print(reject.sentence(), file=sys.stderr, flush=True)
        for skipped in preview.skipped_rows:
            _say(skipped.sentence())
        if args.rejects is not None and preview.rejects:
            _write_user_file(args.rejects, batches.rejects_csv(request, preview.rejects))
            _say(f"The {len(preview.rejects):,} rows that cannot be imported: {args.rejects}")
        if args.dry_run:
            _say(preview.summary())
            return EXIT_FAILED if preview.rejects and not args.skip_bad_rows else EXIT_OK
        if preview.rejects and not args.skip_bad_rows:
            return _fail(
                f"{len(preview.rejects):,} rows cannot be imported (above), so nothing was "
                "imported: correct them, or import the other rows with --skip-bad-rows"
            )
        outcome = batches.run_import(
            clinic.db,
            actor,
            request,
            skip_rejects=args.skip_bad_rows,
            progress=lambda done, total: bar("Importing", done, total),
        )
        if mapping_json is None:
            mappings.remember_mapping(clinic.db, actor, mapping, source_file.headers)
    finally:
        clinic.db.close()
    _say(outcome.summary())
    _say(
        f"Import {outcome.batch_id}: undo it today with `caredesk import undo {outcome.batch_id}`."
    )
    return EXIT_OK


def _import_history(args) -> int:
    from app.services.imports.batches import import_history

    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        records = import_history(clinic.db, actor)
    finally:
        clinic.db.close()
    for made in records:
        when = made.imported_at.astimezone().strftime("%Y-%m-%d %H:%M")
        counts = (
            f"{made.created} created, {made.updated} updated, {made.skipped} skipped, "
            f"{made.rejected} left out"
        )
        state = "undone" if made.undone_at else ("can be undone today" if made.can_undo else "")
        _say(
            f"{made.id}\t{when}\t{made.imported_by}\t{made.kind}\t{made.source}\t"
            f"{made.file_name}\t{counts}\t{state}".rstrip()
        )
    if not records:
        _say("No imports yet.")
    return EXIT_OK


def _import_undo(args) -> int:
    from app.services.imports.batches import undo_import

    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        undone = undo_import(clinic.db, actor, args.batch)
    finally:
        clinic.db.close()
    _say(undone.summary())
    return EXIT_OK


def _cmd_export(args) -> int:
    if args.export_command == "clinic":
        return _export_clinic(args)
    from app.services.exports.patient_record import Disclosure, export_patient_record

    out: Path = args.out
    if out.exists():
        return _fail(f"{out}: already exists; choose a new file name")
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        made = export_patient_record(
            clinic.db,
            actor,
            args.patient,
            out,
            Disclosure(to_whom=args.to_whom, why=args.why),
            locale=args.language,
        )
    finally:
        clinic.db.close()
    notes = "with" if made.includes_notes else "without"
    _say(
        f"Saved {made.path}: the summary, {made.documents} documents and the FHIR bundle "
        f"({notes} consultation notes). The disclosure is in the audit trail."
    )
    return EXIT_OK


def _export_password() -> str:
    import getpass

    password = os.environ.get(EXPORT_PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise _UsageError(
                f"no password for the encrypted export: set {EXPORT_PASSWORD_ENV}, or run "
                "the command at a terminal to be asked"
            )
        password = getpass.getpass("Password for the export (12 characters or more): ")
        if getpass.getpass("The same password again: ") != password:
            raise _UsageError("the two passwords differ; nothing was exported")
    if len(password) < 12:
        raise _UsageError("the export's password must be 12 characters or more")
    return password


def _export_clinic(args) -> int:
    from app.services.exports.clinic import export_clinic

    password = _export_password() if args.encrypt else None
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    bar = _ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    try:
        actor = _sign_in(clinic.db, credentials)
        made = export_clinic(
            clinic.db,
            actor,
            args.out,
            password=password,
            progress=lambda done, total, what: bar(what[:24], done, total),
        )
    finally:
        clinic.db.close()
    where = made.zip_path if made.encrypted else made.folder
    _say(
        f"Exported {made.rows:,} rows of {made.tables} tables, {made.fhir_resources:,} FHIR "
        f"resources and {made.documents:,} documents to {where}"
        + (" (AES-256 encrypted .zip)." if made.encrypted else ".")
    )
    return EXIT_OK


def _cmd_tasks(args) -> int:
    from app.services.clinic.follow_ups import refresh_follow_ups

    today = _cli_date(args.today, "--today") if args.today else None
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        result = refresh_follow_ups(clinic.db, actor, today=today)
    finally:
        clinic.db.close()
    _say(f"Automatic follow-ups: {result.created} made, {result.closed} closed.")
    return EXIT_OK


def _cmd_messages(args) -> int:
    if args.messages_command == "run":
        return _messages_run(args)
    if args.messages_command == "list":
        return _messages_list(args)
    return _messages_configure(args)


# --- backup ---------------------------------------------------------------------------------


def _cmd_backup(args) -> int:
    if args.backup_command == "now":
        return _backup_now(args)
    if args.backup_command == "list":
        return _backup_list(args)
    if args.backup_command == "verify":
        return _backup_verify(args)
    return _backup_restore(args)


def _backup_now(args) -> int:
    from app.services.backups.schedule import back_up

    if args.to is not None and not args.to.is_dir():
        raise _UsageError(f"--to {args.to}: there is no folder there")
    clinic = _open_for_cli(args)
    try:
        key = clinic.key
        if args.new_key:
            key = _new_server_backup_key(clinic)
        elif clinic.db.is_server:
            from app.data import keys

            # A server without a key store (a headless Linux box): its backups are keyed
            # with $CAREDESK_PASSPHRASE instead.
            key = keys.passphrase_from_environment()
        report = back_up(clinic.db, key, None, reason="manual", to=args.to)
    finally:
        clinic.db.close()
    for place in report.places:
        if place.ok:
            _say(f"Backup verified in {place.label}: {place.backup}")
        else:
            _say(f"Backup FAILED in {place.label}: {place.message}")
    return EXIT_OK if report.ok else _fail("the backup failed somewhere (see above)")


def _new_server_backup_key(clinic):
    """``backup now --new-key``: this computer's server backup key, made now if it has none
    (and then printed, once, for the recovery kit)."""
    from app.services.backups.server_dump import server_backup_key

    if not clinic.db.is_server:
        raise _UsageError("--new-key is for a clinic server; a file clinic's backups use its key")
    key = server_backup_key(clinic.db, create=False)
    if key is not None:
        _say("This computer already has the server backup key; it is used as it is.")
        return key
    key = server_backup_key(clinic.db, create=True)
    _say(
        "A server backup key was made and kept in this computer's key store. Every backup of "
        "the server opens only with it: write it down for the clinic's recovery kit (it is "
        "shown only this once) and keep it with the off-site backups:"
    )
    _say(key.recovery_text())
    return key


def _backup_restore_server(args, key) -> int:
    """``backup restore FILE --server URL``: as the owner; the owner role's password from
    $CAREDESK_OWNER_PASSWORD, the key store `server setup` filled, or asked for."""
    import getpass

    from app.services.backups import restore
    from app.services.backups.schedule import local_folder
    from app.services.clinic import permissions
    from app.services.clinic.permissions import Permission

    credentials = _staff_credentials(args)
    owner_password = os.environ.get(OWNER_PASSWORD_ENV) or None
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        permissions.require(actor, Permission.MANAGE_SETTINGS)
        if owner_password is None and sys.stdin.isatty():
            owner_password = (
                getpass.getpass(
                    "Password of the server's owner role (caredesk_owner; Enter: the stored one): "
                )
                or None
            )
        result = restore.restore_server(
            args.file,
            key,
            clinic.db,
            keep_folder=local_folder(),
            owner_password=owner_password,
            allow_other_clinic=args.other_clinic,
            by=actor.username,
        )
        where = clinic.db.describe()
    finally:
        clinic.db.close()
    _say(
        f"Restored {args.file.name} (made {result.manifest.made_at:%Y-%m-%d %H:%M} UTC) into "
        f"{where}; the server's data as it was is kept as {result.kept_before}."
    )
    return EXIT_OK


def _backup_list(args) -> int:
    from app.services.backups.archive import clinic_stem, list_backups
    from app.services.backups.schedule import backups_of

    clinic = _open_for_cli(args)
    try:
        found = backups_of(clinic.db, None)
        if args.folder is not None:
            found += [
                (str(args.folder), b)
                for b in list_backups(args.folder, stem=clinic_stem(clinic.db))
            ]
        where = clinic.db.describe()
    finally:
        clinic.db.close()
    if not found:
        _say(f"No backups of {where} yet.")
        return EXIT_OK
    for place, backup in found:
        if backup.manifest is None:
            _say(f"{'?':<16}  {'?':<14}  {place:<12}  {backup.path}  ({backup.problem})")
            continue
        m = backup.manifest
        size = f"{(m.size or backup.path.stat().st_size) / 1e6:,.1f} MB"
        rows = f"{sum(m.rows.values()):,} rows" if m.rows else "rows not counted"
        _say(
            f"{m.made_at:%Y-%m-%d %H:%M} UTC  {m.reason:<14}  {place:<12}  {size:>9}  "
            f"schema {m.schema}  {rows}  {backup.path}"
        )
    return EXIT_OK


def _backup_key(args, backup: Path):
    """The key a backup opens with: the clinic's (--db/--server or the clinic used last),
    $CAREDESK_PASSPHRASE, or the recovery key ($CAREDESK_RECOVERY_KEY, or asked for)."""
    import getpass

    from app.data import keys
    from app.services.backups.manifest import ManifestError, read_manifest

    typed = os.environ.get(RECOVERY_KEY_ENV, "").strip()
    if typed:
        try:
            return keys.parse_recovery_input(typed)
        except ValueError as error:
            raise _UsageError(f"${RECOVERY_KEY_ENV}: {error}") from None
    try:
        server = read_manifest(backup).kind == "server"
    except ManifestError:
        server = False
    where = _clinic_location(args)
    if where is not None:
        from app.data.errors import CareDeskError

        try:
            clinic = _open_for_cli(args, as_is=True)
        except CareDeskError:
            clinic = None  # a damaged clinic: its key cannot be found through it
        if clinic is not None:
            try:
                if server and clinic.db.is_server:
                    from app.services.backups.server_dump import server_backup_key

                    stored = server_backup_key(clinic.db, create=False)
                    if stored is not None:
                        return stored
                elif clinic.key is not None:
                    return clinic.key
            finally:
                clinic.db.close()
    from_env = keys.passphrase_from_environment()
    if from_env is not None:
        return from_env
    if sys.stdin.isatty():
        text = getpass.getpass("The clinic's recovery key (from its recovery kit): ")
        try:
            return keys.parse_recovery_input(text)
        except ValueError as error:
            raise _UsageError(str(error)) from None
    return None


def _backup_verify(args) -> int:
    from app.services.backups.archive import verify_backup

    if not args.file.is_file():
        raise _UsageError(f"there is no backup file at {args.file}")
    verification = verify_backup(args.file, _backup_key(args, args.file))
    if verification.ok:
        _say(verification.summary())
        return EXIT_OK
    return _fail(verification.summary())


def _backup_restore(args) -> int:
    from app.data.errors import CareDeskError
    from app.services.backups import restore
    from app.services.backups.schedule import local_folder

    if not args.file.is_file():
        raise _UsageError(f"there is no backup file at {args.file}")
    key = _backup_key(args, args.file)
    if key is None:
        raise _UsageError(
            f"no key for this backup: give the clinic (--db), or the recovery key in "
            f"${RECOVERY_KEY_ENV}"
        )
    if args.to is not None and args.to.exists():
        raise _UsageError(f"--to {args.to}: a file is already there; choose a new name")
    # The backup is checked before anything else (signing in writes to the clinic).
    check = restore.check_restore(args.file, key, None)
    if check.refusal is not None:
        return _fail(check.refusal)
    if args.to is not None:
        result = restore.restore_file_backup(
            args.file,
            key,
            args.to,
            live_key=None,
            keep_folder=local_folder(),
            verified=check.verification,
        )
        made = f"{result.manifest.made_at:%Y-%m-%d %H:%M} UTC"
        _say(f"Restored {args.file.name} (made {made}) into {args.to}.")
        return EXIT_OK
    where = _clinic_location(args)
    if where is None:
        raise _UsageError("no clinic given (use --db PATH, or --to PATH for a new file)")
    if not isinstance(where, Path):
        return _backup_restore_server(args, key)
    # Whoever replaces the clinic signs in to it first (its owner), when it still opens.
    credentials = _staff_credentials(args)
    username = ""
    live_key = None
    try:
        clinic = _open_for_cli(args)
    except CareDeskError as error:
        _say(f"The clinic does not open ({error}); it is kept byte for byte before the restore.")
    else:
        try:
            from app.services.clinic import permissions
            from app.services.clinic.permissions import Permission

            actor = _sign_in(clinic.db, credentials)
            permissions.require(actor, Permission.MANAGE_SETTINGS)
            username, live_key = actor.username, clinic.key
        finally:
            clinic.db.close()
    result = restore.restore_file_backup(
        args.file,
        key,
        Path(where),
        live_key=live_key,
        keep_folder=local_folder(),
        allow_other_clinic=args.other_clinic,
        by=username,
        verified=check.verification,
    )
    kept = f"; the clinic as it was is kept as {result.kept_before}" if result.kept_before else ""
    _say(
        f"Restored {args.file.name} (made {result.manifest.made_at:%Y-%m-%d %H:%M} UTC) "
        f"into {where}{kept}."
    )
    return EXIT_OK


def _cli_moment(text: str, option: str):
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _UsageError(
            f"{option} must be a moment like 2026-06-16T09:00 (the clinic's time) or "
            f"2026-06-16T13:00+00:00, not “{text}”"
        ) from None
    if not CLI_YEARS[0] <= moment.year <= CLI_YEARS[1]:
        raise _UsageError(
            f"{option} {text}: the year must be between {CLI_YEARS[0]} and {CLI_YEARS[1]}"
        )
    return moment


def _messages_run(args) -> int:
    from app.services.messages.sender import clinic_moment, run_sender

    now = _cli_moment(args.now, "--now") if args.now else None
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        if now is not None:
            now = clinic_moment(clinic.db, actor, now)
        summary = run_sender(clinic.db, actor, now, dry_run=args.dry_run, limit=args.limit)
    finally:
        clinic.db.close()
    _say(summary.line)
    return EXIT_OK


def _messages_list(args) -> int:
    from app.services.messages.outbox import OUTBOX_VIEWS, outbox

    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        status = args.status
        if status is None or status in OUTBOX_VIEWS:
            lines = outbox(clinic.db, actor, status or "all", limit=args.limit)
        else:
            # One state: read the view that holds it, keep that state's lines.
            view = {"queued": "queued", "sending": "queued", "sent": "sent", "delivered": "sent"}
            lines = [
                line
                for line in outbox(clinic.db, actor, view.get(status, "all"), limit=None)
                if line.state == status
            ][: args.limit]
    finally:
        clinic.db.close()
    for line in lines:
        who = line.patient_name or line.contact_name or "-"
        due = line.due_at.strftime("%Y-%m-%d %H:%M")
        reason = " ".join(line.reason.split()) or "-"
        _say(
            f"{line.id}\t{line.state}\t{line.channel}\t{line.kind}\t{due}\t{line.to_address}"
            f"\t{who}\t{line.attempts}\t{reason}"
        )
    if not lines:
        _say("No message matches.")
    return EXIT_OK


def _messages_configure(args) -> int:
    import dataclasses
    import getpass

    from app.services.errors import ValidationError
    from app.services.messages.settings import (
        SMTP_PASSWORD_ENV,
        messaging_settings,
        save_messaging_settings,
    )

    password = os.environ.get(SMTP_PASSWORD_ENV) or None
    credentials = _staff_credentials(args)
    if password is None and args.smtp_user and sys.stdin.isatty():
        typed = getpass.getpass(
            f"Password for the mail account {args.smtp_user} (Enter keeps the stored one): "
        )
        password = typed or None
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        current = messaging_settings(clinic.db, actor)
        form = dataclasses.replace(
            current,
            email_enabled=True,
            smtp_host=args.smtp_host,
            smtp_port=args.smtp_port,
            smtp_security=args.smtp_security,
            smtp_user=args.smtp_user,
            from_address=args.from_address,
            from_name=current.from_name if args.from_name is None else args.from_name,
            imap_host=current.imap_host if args.imap_host is None else args.imap_host,
            imap_port=current.imap_port if args.imap_port is None else args.imap_port,
        )
        kept_in_env = False
        try:
            saved = save_messaging_settings(clinic.db, actor, form, smtp_password=password)
        except ValidationError as error:
            from_env = os.environ.get(SMTP_PASSWORD_ENV)
            if error.field != "smtp_password" or not from_env or password != from_env:
                raise
            # No key store here: the settings are saved, the password stays in the variable.
            saved = save_messaging_settings(clinic.db, actor, form)
            kept_in_env = True
    finally:
        clinic.db.close()
    where = f"{saved.smtp_host}:{saved.smtp_port} ({saved.smtp_security})"
    line = f"E-mail messages go through {where} from {saved.from_address}."
    if saved.imap_host:
        line += f" Bounces are read from {saved.imap_host}:{saved.imap_port}."
    if kept_in_env:
        line += (
            f" This computer has no key store: the password is read from {SMTP_PASSWORD_ENV} "
            "on each run."
        )
    elif password:
        line += " The password is in this computer's key store."
    _say(line)
    return EXIT_OK


#: The years a command's date may fall in: a clinic's records, with room either side.
CLI_YEARS = (1900, 2999)


def _cli_date(text: str, option: str):
    from datetime import date

    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise _UsageError(f"{option} must be a date like 2026-06-16, not “{text}”") from None
    if not CLI_YEARS[0] <= day.year <= CLI_YEARS[1]:
        raise _UsageError(
            f"{option} {text}: the year must be between {CLI_YEARS[0]} and {CLI_YEARS[1]}"
        )
    return day


class _UsageError(Exception):
    """Input the person typing the command can fix: one line on stderr, exit code 2."""


def _check_writable(out: Path) -> None:
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise _UsageError(f"--out {out} is a folder; give a file name")
    if not folder.is_dir():
        raise _UsageError(f"cannot write {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise _UsageError(f"cannot write {out}: the folder {folder} is not writable")


def _refuse_existing(out: Path) -> None:
    """A command never overwrites a file (not even the clinic's own database)."""
    if out.exists():
        raise _UsageError(f"{out} already exists; choose another file name")


def _check_new_out(out: Path) -> None:
    """--out names a new file in a folder this user may write to: checked before anything
    is opened or read."""
    _check_writable(out)
    _refuse_existing(out)


def _write_new_file(out: Path, data: bytes) -> None:
    """Write a document to ``out``, which must still be new; called inside the print's
    transaction, so a write that fails leaves no "printed" row in the audit trail."""
    _refuse_existing(out)  # written by someone else meanwhile
    _write_file(out, data)


def _write_file(out: Path, data: bytes) -> None:
    """Write through a temporary file beside ``out``: a failure leaves no partial file."""
    import tempfile

    try:
        handle, temporary = tempfile.mkstemp(prefix=".caredesk-", dir=out.parent)
    except OSError as exc:
        raise _UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise _UsageError(f"cannot write {out}: {exc.strerror or exc}") from None


#: The report's file formats by --out's extension (CSV is one file per table: a zip of them).
REPORT_EXTENSIONS = {".pdf": "pdf", ".xlsx": "xlsx", ".zip": "csv", ".json": "json"}


def _report_format(out: Path | None, asked: str | None) -> str:
    """The format ``caredesk report`` writes: --format, else --out's extension (JSON on the
    screen without --out); a format and an extension that disagree are refused."""
    from app.services.reports.summary import FORMATS

    *first, last = FORMATS
    names = f"{', '.join(first)} or {last}"
    fmt = None
    if asked is not None:
        fmt = asked.strip().lower()
        if fmt not in FORMATS:
            raise _UsageError(f"--format must be {names}, not “{asked}”")
    if out is None:
        if fmt not in (None, "json"):
            raise _UsageError(f"a {fmt} report needs a file: add --out FILE{FORMATS[fmt]}")
        return "json"
    suffix = out.suffix.lower()
    if suffix == ".csv":
        raise _UsageError(
            f"--out {out}: the report's CSV is one file per table, written together in a zip "
            f"(--out {out.with_suffix('.zip').name})"
        )
    by_extension = REPORT_EXTENSIONS.get(suffix)
    if by_extension is None:
        raise _UsageError(
            f"--out {out}: the report is written as PDF (.pdf), Excel (.xlsx), CSV files in a "
            "zip (.zip) or JSON (.json)"
        )
    if fmt is not None and fmt != by_extension:
        raise _UsageError(
            f"--format {fmt} does not match --out {out.name}: a {fmt} report is written to "
            f"FILE{FORMATS[fmt]}"
        )
    return by_extension


def _cmd_report(args) -> int:
    from app.services.errors import ValidationError
    from app.services.reports import period as periods
    from app.services.reports.summary import export_summary

    if args.report_command == "month":
        try:
            period = periods.parse_month(args.month)
        except ValidationError as error:
            raise _UsageError(str(error)) from None
    else:
        period = periods.Period(_cli_date(args.first, "--from"), _cli_date(args.last, "--to"))
    fmt = _report_format(args.out, args.report_format)
    language = _print_language(args.lang)
    if args.out is not None:
        _check_new_out(args.out)
    credentials = _staff_credentials(args)
    clinic = _open_for_cli(args)
    try:
        actor = _sign_in(clinic.db, credentials)
        how = f"{fmt} to {args.out.name}" if args.out is not None else "json on the screen"
        deliver = None
        if args.out is not None:

            def deliver(data: bytes) -> None:
                _write_new_file(args.out, data)

        try:
            data = export_summary(
                clinic.db, actor, period, fmt, locale=language, how=how, deliver=deliver
            )
        except ValidationError as error:
            raise _UsageError(str(error)) from None
    finally:
        clinic.db.close()
    if args.out is None:
        _say(data.decode("utf-8").rstrip("\n"))
    else:
        _say(f"Wrote the report for {period.first} to {period.last} to {args.out}")
    return EXIT_OK


def _cmd_calendar(args) -> int:
    from app.services.errors import ValidationError
    from app.services.scheduling.calendar_export import (
        check_range,
        command_day_sheet_pdf,
        command_export_ics,
    )

    try:
        if args.calendar_command == "daysheet":
            day = _cli_date(args.date, "--date")
        else:
            first_day = _cli_date(args.first_day, "--from")
            last_day = _cli_date(args.last_day, "--to")
            check_range(first_day, last_day)
        _check_new_out(args.out)
        credentials = _staff_credentials(args)
        clinic = _open_for_cli(args)
        try:
            actor = _sign_in(clinic.db, credentials)

            def deliver(data: bytes) -> None:
                _write_new_file(args.out, data)

            if args.calendar_command == "daysheet":
                command_day_sheet_pdf(clinic.db, actor, args.provider, day, deliver=deliver)
            else:
                command_export_ics(
                    clinic.db, actor, args.provider, first_day, last_day,
                    with_names=args.with_names, deliver=deliver,
                )  # fmt: skip
        finally:
            clinic.db.close()
    except (_UsageError, ValidationError) as error:
        return _fail(str(error), EXIT_USAGE)
    _say(f"Wrote {args.out}")
    return EXIT_OK


def _cli_amount(text: str | None, option: str):
    from decimal import Decimal, InvalidOperation

    if text is None:
        return None
    problem = f"{option} must be an amount like 4800 or 1250.50, not “{text}”"
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise _UsageError(problem) from None
    if not value.is_finite():
        raise _UsageError(problem)
    # 4800 → 4800.00 (more than two places is left for the schedule's own refusal).
    return value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value


def _cli_count(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise _UsageError(f"{option} must be a whole number, not “{text}”") from None


def _quote_schedule(args):
    from app.clock import local_today
    from app.data.models.payments import Frequency
    from app.services.billing.installments import ScheduleTerms, build_schedule, parse_apr

    plan_date = _cli_date(args.plan_date, "--plan-date") if args.plan_date else local_today()
    terms = ScheduleTerms(
        total_amount=_cli_amount(args.amount, "--amount"),
        down_payment=_cli_amount(args.down, "--down"),
        installment_count=_cli_count(args.installments, "--installments"),
        installment_amount=_cli_amount(args.installment_amount, "--installment-amount"),
        frequency=Frequency(args.frequency),
        first_due_on=_cli_date(args.first, "--first"),
        plan_date=plan_date,
        apr_basis_points=parse_apr(args.apr, "en_US"),
        currency=args.currency.upper(),
    )
    return build_schedule(terms, max_apr_basis_points=parse_apr(args.max_apr, "en_US"))


def _cmd_plans(args) -> int:
    import json

    from app.services.errors import ValidationError

    try:
        schedule = _quote_schedule(args)
    except (_UsageError, ValidationError) as error:
        return _fail(str(error), EXIT_USAGE)
    if args.json:
        terms = schedule.terms
        _say(
            json.dumps(
                {
                    "total_amount": str(terms.total_amount),
                    "down_payment": str(terms.down_payment),
                    "financed": str(schedule.financed),
                    "apr_basis_points": terms.apr_basis_points,
                    "frequency": str(terms.frequency),
                    "currency": terms.currency,
                    "installment_count": schedule.installment_count,
                    "regular_payment": str(schedule.regular_payment),
                    "total_interest": str(schedule.total_interest),
                    "total_of_payments": str(schedule.total_of_payments),
                    "installments": [
                        {
                            "sequence": row.sequence,
                            "due_on": row.due_on.isoformat(),
                            "amount": str(row.amount),
                            "principal": str(row.principal),
                            "interest": str(row.interest),
                            "remaining": str(row.balance_after),
                        }
                        for row in schedule.rows
                    ],
                }
            )
        )
        return EXIT_OK
    header = f"{'#':>3}  {'Due':<10}  {'Amount':>12}  {'Principal':>12}  {'Interest':>10}  "
    header += f"{'Remaining':>12}"
    _say(
        f"Financed {schedule.financed} {schedule.terms.currency} in "
        f"{schedule.installment_count} {schedule.terms.frequency} installments, "
        f"APR {schedule.terms.apr_basis_points / 100:.2f} %"
    )
    _say(header)
    _say("-" * len(header))
    for row in schedule.rows:
        _say(
            f"{row.sequence:>3}  {row.due_on.isoformat():<10}  {row.amount:>12,}  "
            f"{row.principal:>12,}  {row.interest:>10,}  {row.balance_after:>12,}"
        )
    _say("-" * len(header))
    _say(
        f"{'Total':<15}  {schedule.total_of_payments:>12,}  {schedule.financed:>12,}  "
        f"{schedule.total_interest:>10,}"
    )
    return EXIT_OK


def _print_row(args) -> int | None:
    """The id of the row ``args.document`` prints; every other row option is refused."""
    wanted = PRINT_ROW_OPTION[args.document]
    for option in ("payment", "plan", "referral"):
        if option != wanted and getattr(args, option) is not None:
            raise _UsageError(f"--{option} does not apply to print {args.document}")
    if wanted is None:
        return None
    row = getattr(args, wanted)
    if row is None:
        raise _UsageError(f"print {args.document} needs --{wanted} ID")
    return row


def _print_language(text: str | None) -> str | None:
    from app.services.clinic.printing import DOCUMENT_LANGUAGES

    if text is None:
        return None
    language = text.strip().lower()
    if language not in DOCUMENT_LANGUAGES:
        choices = " or ".join(DOCUMENT_LANGUAGES)
        raise _UsageError(f"--lang must be {choices}, not “{text}”")
    return language


def _cmd_print(args) -> int:
    from app.services.billing.agreements import command_agreement_pdf
    from app.services.billing.plan_handouts import command_plan_handout_pdf
    from app.services.billing.receipts import command_receipt_pdf
    from app.services.errors import NotFoundError, ValidationError
    from app.services.patients.consents import command_consent_pdf
    from app.services.patients.intake import command_intake_pdf
    from app.services.patients.referral_letters import command_referral_letter_pdf

    if args.blank and args.document != "intake":
        return _fail(f"--blank does not apply to print {args.document}", EXIT_USAGE)
    if (args.template is not None) != (args.document == "consent"):
        if args.template is None:
            return _fail("print consent needs --template NAME (e.g. laser)", EXIT_USAGE)
        return _fail(f"--template does not apply to print {args.document}", EXIT_USAGE)
    printers = {
        "consent": lambda db, actor, patient, _row, language, deliver: command_consent_pdf(
            db, actor, patient, args.template, language=language, deliver=deliver
        ),
        "intake": lambda db, actor, patient, _row, language, deliver: command_intake_pdf(
            db, actor, patient, blank=args.blank, language=language, deliver=deliver
        ),
        "receipt": command_receipt_pdf,
        "plan": command_plan_handout_pdf,
        "agreement": command_agreement_pdf,
        "referral": command_referral_letter_pdf,
    }
    try:
        row = _print_row(args)
        language = _print_language(args.lang)
        _check_new_out(args.out)
        credentials = _staff_credentials(args)
        clinic = _open_for_cli(args)
        try:
            actor = _sign_in(clinic.db, credentials)
            printers[args.document](
                clinic.db, actor, args.patient, row, language=language,
                deliver=lambda data: _write_new_file(args.out, data),
            )  # fmt: skip
        finally:
            clinic.db.close()
    except (_UsageError, ValidationError, NotFoundError) as error:
        return _fail(str(error), EXIT_USAGE)
    _say(f"Wrote {args.out}")
    return EXIT_OK


class _ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal, or forced)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / total) if total else width
        line = f"\r{stage:<24} [{'#' * filled}{'.' * (width - filled)}] {done:>7}/{total}"
        if line != self._last:
            sys.stderr.write(line)
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
            self._last = line


def _cmd_seed(args) -> int:
    from app.demo.seed import create_seeded_clinic

    folder = args.db.parent if str(args.db.parent) else Path(".")
    if args.db.exists():
        return _fail(f"{args.db} already exists; CareDesk will not overwrite it")
    if not folder.is_dir():
        return _fail(f"cannot create {args.db}: the folder {folder} does not exist", EXIT_USAGE)
    if not os.access(folder, os.W_OK):
        return _fail(f"cannot create {args.db}: the folder {folder} is not writable", EXIT_USAGE)
    bar = _ProgressBar(enabled=not args.quiet and sys.stderr.isatty())
    passphrase = os.environ.get("CAREDESK_PASSPHRASE")
    clinic = create_seeded_clinic(
        args.db,
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        passphrase=passphrase,
        progress=bar,
    )
    clinic.db.close()
    _say(f"Seeded {args.patients} patients over {args.years} year(s) into {args.db}")
    return EXIT_OK


def _cmd_server(args) -> int:
    """``caredesk server setup | upgrade | join``."""
    if args.server_command == "setup":
        return _server_setup(args)
    if args.server_command == "upgrade":
        return _server_upgrade(args)
    return _server_join(args)


def _server_password(role: str, address) -> str:
    """$CAREDESK_SERVER_PASSWORD, or asked for at a terminal."""
    import getpass

    from app.data.server import PASSWORD_ENV

    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise _UsageError(f"set {PASSWORD_ENV} to the password of {role}")
    password = getpass.getpass(f"Password of {role} on {address.describe()}: ", stream=sys.stderr)
    if not password:
        raise _UsageError(f"no password given for {role}")
    return password


def _on_the_server_pc(address, hint: str):
    """setup and upgrade change the server itself: on this computer (plain until setup has
    switched TLS on; setup's own connections take it once offered), or over TLS checked
    against a CA file given in the URL or pinned by joining."""
    from dataclasses import replace

    from app.data.server import LOOPBACK_HOSTS, pinned_ca_file

    if address.ca_file is not None or address.sslmode == "disable":
        return address
    if address.host in LOOPBACK_HOSTS:
        return replace(address, sslmode="disable")
    pinned = pinned_ca_file(address)
    if pinned is not None:
        return replace(address, ca_file=pinned)
    local = f"postgresql://{address.user}@localhost:{address.port}/{address.database}"
    raise _UsageError(
        f"{address.host} is not this computer: run this on the server PC itself, with "
        f"--server {local}{hint}"
    )


def _server_setup(args) -> int:
    from app.data import migrate
    from app.data.server import APP_ROLE, LOOPBACK_HOSTS
    from app.data.server_admin import OWNER_ROLE, setup_clinic_server
    from app.data.server_tls import CertificateNameError, normalized_names

    if args.server.user in (APP_ROLE, OWNER_ROLE):
        raise _UsageError(
            "give the server administrator's name in the address, such as "
            f"postgresql://postgres@{args.server.host}:{args.server.port}/{args.server.database}"
        )
    admin = _on_the_server_pc(args.server, " (the names other PCs use go in --hostname)")
    try:
        names = normalized_names(args.hostname) if args.hostname else None
    except CertificateNameError as error:
        raise _UsageError(f"--hostname: {error}") from None
    app_password = None
    if args.app_password_env:
        app_password = os.environ.get(args.app_password_env, "")
        if not app_password:
            raise _UsageError(f"--app-password-env: ${args.app_password_env} is empty or not set")
    out = args.join_code_out
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise _UsageError(f"--join-code-out: cannot write {out} (no such folder, or a folder)")
    password = _server_password(admin.user, admin)
    result = setup_clinic_server(
        admin, password, names=names, app_password=app_password, renew_ca=args.renew_ca
    )
    tls = result.tls
    where = f"{admin.host}:{admin.port}"
    state = "created" if result.created_database else "brought up to date"
    schema = migrate.head_revision()
    _say(f"The clinic database {admin.database} on {where} is {state} (schema {schema}).")
    _say(
        f"Encrypted connections are on: the server's certificate is for "
        f"{', '.join(tls.certificate.names)}, valid until {tls.certificate.not_after:%Y-%m-%d}."
    )
    kept = "A new" if tls.created_ca else "The clinic's"
    _say(
        f"{kept} certificate authority ({'made now' if tls.created_ca else 'kept'}; PCs check "
        "the server against it) has the fingerprint"
    )
    _say(f"    {tls.ca.fingerprint_text}")
    _say("")
    if result.app_password is not None:
        _say(
            f"Password of {APP_ROLE}, which every CareDesk PC signs in with; it is shown only "
            "this once. Write it down for the clinic's recovery kit (kept locked away) and type "
            "it on each PC as it joins:"
        )
        _say(f"    {result.app_password}")
    else:
        _say(f"{APP_ROLE} keeps its password, so PCs that joined keep signing in.")
    if result.owner_password is not None:
        _say(
            f"Password of {OWNER_ROLE}, for `caredesk server upgrade` after CareDesk is "
            "updated (this computer's key store keeps it too, where it has one); keep it in "
            "the recovery kit as well:"
        )
        _say(f"    {result.owner_password}")
    else:
        _say(f"{OWNER_ROLE} keeps its password (this computer's key store has it).")
    _say("")
    _say("Join code:")
    _say(f"    {result.join_code}")
    if args.join_code_out is not None:
        _write_file(args.join_code_out, (result.join_code + "\n").encode("ascii"))
        _say(f"(also written to {args.join_code_out})")
    _say("")
    _say(
        "Next, on each front-desk PC: open CareDesk, choose to join the clinic server, paste "
        f"the join code and type the {APP_ROLE} password (or run `caredesk server join CODE`). "
        f"The PCs reach this server as {result.app_address.host}, port {admin.port}: let that "
        "port through this computer's firewall."
    )
    if tls.listens_on_loopback_only and result.app_address.host not in LOOPBACK_HOSTS:
        _say(
            "PostgreSQL listens only to this computer now: set listen_addresses = '*' in its "
            "postgresql.conf and restart it, or no other PC can reach it."
        )
    return EXIT_OK


def _server_upgrade(args) -> int:
    from app.data import migrate
    from app.data.server import APP_ROLE, ServerPasswordMissingError, find_password
    from app.data.server_admin import OWNER_ROLE, upgrade_server_schema

    # The application role may not change the schema: an address without a user means the
    # owner here.
    owner = args.server.with_user(OWNER_ROLE) if args.server.user == APP_ROLE else args.server
    owner = _on_the_server_pc(owner, "")
    try:
        password = find_password(owner)
    except ServerPasswordMissingError:
        password = _server_password(owner.user, owner)
    upgrade_server_schema(owner, password)
    _say(
        f"{owner.describe().capitalize()} has this version's schema ({migrate.head_revision()}); "
        f"{APP_ROLE} has its rights on every table."
    )
    return EXIT_OK


def _server_join(args) -> int:
    from app.data.server_join import decode_join_code, join_server
    from app.services.clinic.clinics import remember_last_used

    code = decode_join_code(args.code)
    password = _server_password(code.address.user, code.address)
    address = join_server(code, password)
    remember_last_used(address)
    _say(
        f"This PC joined {address.describe()}: the server proved it holds the clinic's "
        f"certificate ({code.fingerprint_text}), and the password is in this computer's key "
        "store. `caredesk` now opens the clinic there."
    )
    return EXIT_OK


def _private_files() -> None:
    """What CareDesk writes — the database and its -wal/-shm, backups, seals, logs, exports —
    is readable by this user only (folders 0700, files 0600), unless the installation keeps
    the clinic per machine for every user of the PC.  A CAREDESK_SYSTEM_WIDE that cannot be
    read is a usage error."""
    from app import paths

    if not paths.system_wide():
        os.umask(0o077)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _private_files()
    except ValueError as error:  # the per-machine setting, unreadable
        return _fail(str(error), EXIT_USAGE)
    if args.self_test:
        from app.selftest import run

        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            # No screen (a server, an SSH session): Qt is checked offscreen instead of
            # aborting the process before the self-test could say anything.
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return run()
    from app.data.errors import CareDeskError

    try:
        if args.command == "seed":
            return _cmd_seed(args)
        if args.command == "db":
            return _cmd_db(args)
        if args.command == "audit":
            return _cmd_audit(args)
        if args.command == "patients":
            return _cmd_patients(args)
        if args.command == "contacts":
            return _cmd_contacts(args)
        if args.command == "tasks":
            return _cmd_tasks(args)
        if args.command == "messages":
            return _cmd_messages(args)
        if args.command == "backup":
            return _cmd_backup(args)
        if args.command == "calendar":
            return _cmd_calendar(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "plans":
            return _cmd_plans(args)
        if args.command == "print":
            return _cmd_print(args)
        if args.command == "server":
            return _cmd_server(args)
        if args.command == "import":
            return _cmd_import(args)
        if args.command == "export":
            return _cmd_export(args)
    except _UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    except CareDeskError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)

    from app import paths

    try:
        paths.data_dir()  # before any window: a folder CareDesk cannot use is one line
    except OSError as error:
        return _fail(str(error))
    from app.ui.application import run_gui

    return run_gui(db_path=args.db, demo=args.demo, server=args.server)


if __name__ == "__main__":
    sys.exit(main())
