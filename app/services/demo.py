"""The demo clinic (``caredesk --demo``): made up on first use, opened as it is afterwards.

It lives at :func:`app.paths.demo_database_path` and holds :data:`DEMO_PATIENTS`
made-up patients with :data:`DEMO_YEARS` years of history up to the day it was
created, plus bookings for the three months after it, so the calendar has a past
and a future.  Sign in with any of :data:`app.services.seed.DEMO_ACCOUNTS` and
:data:`app.services.seed.DEMO_PASSWORD`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import date
from pathlib import Path

from app import paths
from app.data import keys
from app.data.database import remove_database_files
from app.data.errors import DatabaseDamagedError, DatabaseLockedError
from app.data.keys import DatabaseKey, KeyringUnavailable
from app.services.clinic import OpenClinic, open_clinic
from app.services.errors import KeyRequiredError
from app.services.seed import Progress, create_seeded_clinic

log = logging.getLogger(__name__)

DEMO_PATIENTS = 2000
DEMO_YEARS = 2
DEMO_SEED = 2026
#: Where the computer has no keyring, the demo clinic is locked with this fixed, published
#: passphrase.  That is safe only because every record in it is made up: never put real
#: patients into the demo clinic.
DEMO_PASSPHRASE = "caredesk-demo-clinic-made-up-data"


def _demo_key(path: Path) -> DatabaseKey:
    """The demo's raw key from the keyring when it has one, else the published passphrase."""
    try:
        stored = keys.load_key(keys.database_id(path))
    except (KeyringUnavailable, ValueError, OSError):
        stored = None
    return stored or DatabaseKey(passphrase=DEMO_PASSPHRASE)


def open_or_create_demo(
    today: date | None = None, *, progress: Progress | None = None
) -> OpenClinic:
    """Open the demo clinic, creating it first if there is none (a few seconds, with progress).

    ``today`` anchors the made-up history (default: the real date).  A demo that can no
    longer be unlocked (its keyring entry was lost) is set aside and made again.
    """
    path = paths.demo_database_path()
    if path.exists():
        try:
            return open_clinic(path, _demo_key(path))
        except (DatabaseLockedError, DatabaseDamagedError, KeyRequiredError):
            aside = path.with_name(path.stem + "-unreadable" + path.suffix)
            log.warning(
                "the demo clinic could not be opened; setting it aside and making a new one"
            )
            remove_database_files(aside)
            os.replace(path, aside)
    # Built under another name and renamed when complete, so an interrupted first run
    # never leaves a half-made demo behind to be opened next time.
    partial = path.with_name(path.name + ".partial")
    remove_database_files(partial)
    clinic = create_seeded_clinic(
        partial,
        patients=DEMO_PATIENTS,
        years=DEMO_YEARS,
        seed=DEMO_SEED,
        passphrase=DEMO_PASSPHRASE,
        progress=progress,
        today=today or date.today(),
    )
    key = clinic.key
    clinic.db.close()
    # Closing the last connection folds the write-ahead log into the file; should one be
    # left, it moves with the file so nothing written is lost.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
        with contextlib.suppress(FileNotFoundError):
            os.replace(str(partial) + suffix, str(path) + suffix)
    os.replace(partial, path)
    return open_clinic(path, key)


def showcase_patient(db) -> tuple[int, int]:
    """A demo patient worth showing (README screenshots): the one with the most visits among
    those with insurance and a signed consultation note; with that latest signed note's id."""
    from sqlalchemy import func, select

    from app.data.models.appointments import Appointment
    from app.data.models.insurance import InsurancePolicy
    from app.data.models.notes import ConsultationNote

    with db.uow() as session:
        patient_id, note_id = session.execute(
            select(ConsultationNote.patient_id, func.max(ConsultationNote.id))
            .join(InsurancePolicy, InsurancePolicy.patient_id == ConsultationNote.patient_id)
            .join(Appointment, Appointment.patient_id == ConsultationNote.patient_id)
            .where(ConsultationNote.status == "signed")
            .group_by(ConsultationNote.patient_id)
            .order_by(func.count(Appointment.id.distinct()).desc(), ConsultationNote.patient_id)
            .limit(1)
        ).one()
    return patient_id, note_id


def showcase_options(db) -> tuple[int, int]:
    """(patient id, plan id) of the demo's newest case presented as two options, for the
    screenshots of the plan editor's side-by-side view."""
    from sqlalchemy import func, select

    from app.data.models import Patient, TreatmentPlan

    with db.uow() as session:
        # Still being decided (presented, not accepted or declined): what a coordinator
        # puts side by side in front of the patient.
        newest = (
            select(func.max(TreatmentPlan.id))
            .join(Patient, Patient.id == TreatmentPlan.patient_id)
            .where(
                TreatmentPlan.option_group.is_not(None),
                TreatmentPlan.status == "presented",
                Patient.is_active,
            )
            .group_by(TreatmentPlan.option_group)
            .having(func.count(TreatmentPlan.id) == 2)
            .order_by(func.max(TreatmentPlan.id).desc())
            .limit(1)
        )
        plan = session.get(TreatmentPlan, session.scalar(newest))
        return plan.patient_id, plan.id
