"""``caredesk --self-test``: proves an installed CareDesk works, headless, in a few seconds.

Made for the bundle (CI runs it after ``make bundle``; a clinic's IT person runs it after
installing): everything a frozen build can lose — the SQLCipher library, the Alembic
scripts, fonts and catalogs under resources/, keyring back-ends, the Qt platform and
image-format plugins, QtPdf — is used once for real.  It works on a throw-away encrypted
clinic in a temporary folder, keyed through an in-memory keyring, so it never reads or
writes this computer's clinic data or key store, and leaves nothing on disk.

Prints one line and exits 0 when every step passes; otherwise one line naming the failing
step (on stderr) and exits 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

from app import __version__

EXIT_OK = 0
EXIT_FAILED = 1

#: A made-up patient; the accents check that text round-trips through the encrypted file.
PATIENT_FIRST = "Zoë"
PATIENT_LAST = "Muñoz-Selftest"
OWNER_PASSWORD = "self-test-only-Passphrase-42"
#: A msgid printed on the intake form; its Spanish proves the catalogs are in the bundle.
PROBE_MSGID = "High blood pressure"


class SelfTestError(Exception):
    """A step found something wrong; the message says what, in one line."""


@dataclass
class Context:
    """What the steps hand on to each other, and what the summary reports."""

    folder: Path
    clinic: object = None  # app.services.clinic.clinics.OpenClinic once "database" ran
    actor: object = None
    patient_id: int | None = None
    pdfs: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


Step = tuple[str, Callable[[Context], None]]


def _keyring(ctx: Context) -> None:
    import keyring

    from app.data.keys import MemoryKeyring

    # Loading the machine's back-end proves the keyring's entry points are in the bundle;
    # it is only named, never read or written.
    backend = keyring.get_keyring()
    found = getattr(backend, "name", "") or type(backend).__name__
    keyring.set_keyring(MemoryKeyring())
    ctx.notes.append(f"keyring ({found} here; test key in memory)")


def _database(ctx: Context) -> None:
    from sqlalchemy import text

    from app.data import migrate
    from app.data.database import check_file_looks_encrypted
    from app.services.clinic.clinics import ClinicDetails, create_clinic, open_clinic

    path = ctx.folder / "selftest.caredesk"
    details = ClinicDetails(
        name="CareDesk Self-Test Clinic",
        timezone="America/New_York",
        locale="en_US",
        currency="USD",
        address_line1="1 Test Street",
        city="Portland",
        region="ME",
        postal_code="04101",
        phone="(207) 555-0100",
        email="selftest@example.com",
    )
    created = create_clinic(path, details, "owner", "Self Test", OWNER_PASSWORD)
    created.db.close()
    check_file_looks_encrypted(path)
    ctx.clinic = opened = open_clinic(path)  # the key comes back from the (memory) keyring
    revision = migrate.current_revision(opened.db)
    if revision != migrate.head_revision():
        raise SelfTestError(f"schema at {revision}, expected {migrate.head_revision()}")
    with opened.db.engine.connect() as conn:
        cipher = conn.execute(text("PRAGMA cipher_version")).scalar()
    if not cipher:
        raise SelfTestError("the database library is plain SQLite, not SQLCipher")
    ctx.notes.append(f"database (SQLCipher {cipher.split()[0]}, schema {revision})")


def _server_driver(ctx: Context) -> None:
    """The clinic server's driver (psycopg with its own libpq) and SQLAlchemy's dialect for
    it load: a bundle that lost them could only open files."""
    try:
        import psycopg
        from sqlalchemy import create_engine

        create_engine("postgresql+psycopg://", connect_args={}).dispose()
        libpq = psycopg.pq.version()
    except Exception as error:  # an ImportError, or a libpq that does not load
        raise SelfTestError(f"the clinic server's driver does not load ({error})") from None
    if libpq < 120000:  # older libpq lacks what verify-full and SCRAM need here
        raise SelfTestError(f"the clinic server's driver is too old (libpq {libpq})")
    ctx.notes.append(f"server driver (psycopg {psycopg.__version__}, libpq {libpq // 10000})")


def _patient(ctx: Context) -> None:
    from app.services.clinic import auth
    from app.services.patients.records import PatientForm, create_patient, open_patient
    from app.services.patients.search import search_patients

    db = ctx.clinic.db
    ctx.actor = auth.login(db, "owner", OWNER_PASSWORD)
    form = PatientForm(
        first_name=PATIENT_FIRST,
        last_name=PATIENT_LAST,
        date_of_birth=date(1984, 2, 29),
        mobile_phone="(207) 555-0142",
        preferred_language="es",
    )
    saved = create_patient(db, ctx.actor, form)
    back = open_patient(db, ctx.actor, saved.id)
    if (back.form.first_name, back.form.last_name, back.form.date_of_birth) != (
        PATIENT_FIRST,
        PATIENT_LAST,
        date(1984, 2, 29),
    ):
        raise SelfTestError("the patient read back differs from the one written")
    if saved.id not in [hit.id for hit in search_patients(db, ctx.actor, "munoz")]:
        raise SelfTestError("the patient search does not find the patient just written")
    ctx.patient_id = saved.id
    ctx.notes.append("patient")


def _backup(ctx: Context) -> None:
    """A backup made and checked as the clinic's are (SQLCipher's export under the key, the
    read-only check, the audit trail against its seal)."""
    from app.services.backups.archive import make_file_backup, verify_backup

    folder = ctx.folder / "backups"
    folder.mkdir()
    backup, manifest = make_file_backup(ctx.clinic.db, ctx.clinic.key, folder, reason="manual")
    verification = verify_backup(backup, ctx.clinic.key)
    if not verification.ok:
        raise SelfTestError(verification.summary())
    if manifest.rows.get("patients") != 1:
        raise SelfTestError("the backup does not hold the patient just written")
    ctx.notes.append("backup")


def _pdf(language: str) -> Callable[[Context], None]:
    def render(ctx: Context) -> None:
        from app.documents.labels import gettext_for
        from app.services.patients.intake import intake_pdf

        data = intake_pdf(ctx.clinic.db, ctx.actor, ctx.patient_id, language=language)
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-64:]:
            raise SelfTestError(f"the {language} intake form is not a complete PDF")
        if b"DejaVuSans" not in data:
            raise SelfTestError("the PDF lacks the bundled DejaVu fonts")
        expected = gettext_for(language)(PROBE_MSGID)
        if language != "en" and expected == PROBE_MSGID:
            raise SelfTestError(f"no {language} translation catalog (resources/locale)")
        ctx.pdfs[language] = data
        ctx.notes.append(f"pdf-{language} ({len(data) // 1024} KB)")

    return render


def _qt(ctx: Context) -> None:
    from app.documents.labels import gettext_for
    from app.ui.selftest_qt import QtCheckError, check_qt

    # Each PDF must open in QtPdf (the print preview's engine) and show its own language.
    expected = {language: gettext_for(language)(PROBE_MSGID) for language in ctx.pdfs}
    try:
        platform = check_qt(ctx.pdfs, expected)
    except QtCheckError as error:
        raise SelfTestError(str(error)) from None
    ctx.notes.append(f"qt ({platform}, QtPdf, SVG icon, QtCharts)")


STEPS: tuple[Step, ...] = (
    ("keyring", _keyring),
    ("database", _database),
    ("server-driver", _server_driver),
    ("patient", _patient),
    ("backup", _backup),
    ("pdf-en", _pdf("en")),
    ("pdf-es", _pdf("es")),
    ("qt", _qt),
)


@contextlib.contextmanager
def _sandbox() -> Iterator[Path]:
    """A temporary folder as the user-data folder and the keyring restored afterwards."""
    import keyring

    from app.paths import DATA_DIR_ENV

    before_dir = os.environ.get(DATA_DIR_ENV)
    before_keyring = keyring.get_keyring()
    with tempfile.TemporaryDirectory(prefix="caredesk-selftest-") as folder:
        os.environ[DATA_DIR_ENV] = str(Path(folder) / "userdata")
        try:
            yield Path(folder)
        finally:
            keyring.set_keyring(before_keyring)
            if before_dir is None:
                os.environ.pop(DATA_DIR_ENV, None)
            else:
                os.environ[DATA_DIR_ENV] = before_dir


def run(steps: Sequence[Step] = STEPS, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``steps`` in order; one summary line; 0 when all pass, else 1 naming the step."""
    out = out or sys.stdout
    err = err or sys.stderr
    started = time.perf_counter()
    current = "setup"
    try:
        with _sandbox() as folder:
            ctx = Context(folder)
            try:
                for name, step in steps:
                    current = name
                    step(ctx)
            finally:
                if ctx.clinic is not None:
                    ctx.clinic.db.close()
    except Exception as error:  # every failure, whatever its kind, is reported by its step
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        kind = "" if isinstance(error, SelfTestError) else f"{type(error).__name__}: "
        print(
            f"CareDesk {__version__} self-test FAILED at step '{current}': {kind}{reason}",
            file=err,
            flush=True,
        )
        return EXIT_FAILED
    seconds = time.perf_counter() - started
    print(
        f"CareDesk {__version__} self-test passed in {seconds:.1f} s: " + ", ".join(ctx.notes),
        file=out,
        flush=True,
    )
    return EXIT_OK
