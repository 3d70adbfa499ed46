"""Render page 1 of every printed document to PNG: ``python -m app.document_samples OUTDIR``.

Builds a throw-away encrypted demo clinic in a temporary folder (made-up data from
:func:`app.demo.seed.create_seeded_clinic`, keyed through an in-memory key store
and with its own user-data folder, so nothing touches this computer's keyring or
CareDesk's real data), gives it a letterhead logo and one patient, "Zoë
Nguyễn-Muñoz", whose record has an address, insurance, a medical history, a
treatment plan presented as Option A/B, an accepted plan with a payment plan, a
payment and a referral to a specialist.  Every document is printed through its
service, as the app prints it, in English and in Spanish, and page 1 goes to
``OUTDIR/doc-<name>-<lang>.png`` with ``pdftoppm``.  The temporary folder is deleted.

It lives at the top of ``app`` (beside ``cli.py``), not in ``app/documents``: it drives
the services and the data layer, which the documents layer must never import.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

#: Languages each document is rendered in.
LANGUAGES = ("en", "es")
#: The consent templates rendered (two of the starter set).
CONSENT_TEMPLATES = ("general_treatment", "injectables")
#: Names of the documents rendered, in order (``doc-<name>-<lang>.png``).
DOCUMENTS = (
    "intake-blank",
    "intake",
    *(f"consent-{key.replace('_', '-')}" for key in CONSENT_TEMPLATES),
    "plan-options",
    "plan-accepted",
    "agreement",
    "receipt",
    "referral",
    "day-sheet",
    "month-end",
)
#: The sample patient: accents in both names, so a font without them shows at once.
SAMPLE_FIRST_NAME = "Zoë"
SAMPLE_LAST_NAME = "Nguyễn-Muñoz"
_RESOLUTION = "70"
_SEED_PATIENTS = 300
_SEED = 2026


class SamplesError(Exception):
    """The samples cannot be made (no pdftoppm, no suitable patient): a sentence to show."""


def find_pdftoppm() -> str:
    """The pdftoppm program (poppler-utils), or SamplesError saying how to install it."""
    found = shutil.which("pdftoppm")
    if found is None:
        raise SamplesError(
            "pdftoppm was not found, so the PDFs cannot be turned into pictures. Install "
            "poppler (Debian/Ubuntu: `sudo apt install poppler-utils`; macOS: "
            "`brew install poppler`; Windows: poppler from conda-forge) and run this again."
        )
    return found


def page_one_png(pdf: bytes, target: Path, pdftoppm: str) -> Path:
    """Page 1 of ``pdf`` as a PNG at ``target`` (pdftoppm -png -r 70 -f 1 -l 1)."""
    with tempfile.TemporaryDirectory(prefix="caredesk-page-") as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        stem = Path(folder) / "page"
        command = [pdftoppm, "-png", "-r", _RESOLUTION, "-f", "1", "-l", "1", "-singlefile"]
        done = subprocess.run(
            [*command, str(source), str(stem)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SamplesError(f"pdftoppm could not render {target.name}: {done.stderr.strip()}")
        shutil.move(str(stem.with_suffix(".png")), target)
    return target


# --- the sample clinic -----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleCase:
    """The rows of the sample patient's record each document prints."""

    patient_id: int
    options_plan_id: int
    accepted_plan_id: int
    payment_plan_id: int
    payment_id: int
    referral_id: int
    provider_id: int
    day: date


def sample_logo() -> bytes:
    """A small made-up logo (a PNG drawn with Pillow) for the letterhead."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (480, 160), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 152, 152), fill=(29, 78, 137, 255))
    draw.ellipse((44, 44, 116, 116), fill=(255, 255, 255, 255))
    draw.rectangle((176, 48, 460, 72), fill=(29, 78, 137, 255))
    draw.rectangle((176, 92, 400, 112), fill=(82, 96, 109, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# Picks the patient whose made-up history has every piece a document needs.
_CASE_QUERY = """
SELECT p.id,
  (SELECT max(pp.id) FROM payment_plans pp WHERE pp.patient_id = p.id
     AND pp.status = 'active' AND pp.treatment_plan_id IS NOT NULL),
  (SELECT max(y.id) FROM payments y WHERE y.patient_id = p.id AND y.voided_at IS NULL),
  (SELECT max(r.id) FROM referrals r WHERE r.patient_id = p.id
     AND r.direction = 'outgoing' AND r.contact_id IS NOT NULL)
FROM patients p
WHERE p.is_active AND p.address_line1 != ''
  AND EXISTS (SELECT 1 FROM insurance_policies i WHERE i.patient_id = p.id)
ORDER BY
  (SELECT count(*) FROM payment_plans pp WHERE pp.patient_id = p.id
     AND pp.status = 'active' AND pp.treatment_plan_id IS NOT NULL) > 0 DESC,
  (SELECT count(*) FROM referrals r WHERE r.patient_id = p.id
     AND r.direction = 'outgoing' AND r.contact_id IS NOT NULL) > 0 DESC,
  p.id
LIMIT 1
"""


def _find_case(db) -> SampleCase:
    from sqlalchemy import func, select, text

    from app.data.models.appointments import Appointment
    from app.data.models.payments import PaymentPlan
    from app.demo.demo_clinic import showcase_options

    with db.uow() as session:
        row = session.execute(text(_CASE_QUERY)).one_or_none()
        if row is None or None in row:
            raise SamplesError(
                "The made-up clinic has no patient with insurance, an active payment plan, "
                "a payment and a referral to a specialist; the seed changed."
            )
        patient_id, payment_plan_id, payment_id, referral_id = row
        accepted_plan_id = session.get(PaymentPlan, payment_plan_id).treatment_plan_id
    # A case still being decided between Option A and B (another patient's in the seed:
    # it becomes Zoë's, see _make_her_zoe).
    _other, options_plan_id = showcase_options(db)
    with db.uow() as session:
        # The busiest day of the busiest provider, for the day sheet.
        provider_id, day = session.execute(
            select(Appointment.provider_id, func.date(Appointment.starts_at))
            .group_by(Appointment.provider_id, func.date(Appointment.starts_at))
            .order_by(func.count().desc(), Appointment.provider_id)
            .limit(1)
        ).one()
    return SampleCase(
        patient_id=patient_id,
        options_plan_id=options_plan_id,
        accepted_plan_id=accepted_plan_id,
        payment_plan_id=payment_plan_id,
        payment_id=payment_id,
        referral_id=referral_id,
        provider_id=provider_id,
        day=date.fromisoformat(str(day)[:10]),
    )


def _make_her_zoe(db, case: SampleCase) -> None:
    """Rename the chosen patient, give her a full, accented record and the Option A/B case."""
    from sqlalchemy import select, update

    from app.data.models.insurance import InsurancePolicy
    from app.data.models.patients import Patient
    from app.data.models.plans import TreatmentPlan
    from app.services.patients.search import index_patient

    with db.uow() as session:
        patient = session.get(Patient, case.patient_id)
        patient.first_name = SAMPLE_FIRST_NAME
        patient.middle_name = ""
        patient.preferred_name = ""
        patient.last_name = SAMPLE_LAST_NAME
        patient.date_of_birth = date(1988, 3, 14)
        patient.address_line1 = "2217 Calle Güemes, Apt 4B"
        patient.address_line2 = ""
        patient.city = "San Antonio"
        patient.region = "TX"
        patient.postal_code = "78207"
        patient.email = "zoe.nguyen-munoz@example.com"
        patient.emergency_contact_name = "Tomás Muñoz"
        patient.emergency_contact_relation = "Brother"
        patient.emergency_contact_phone = "+12105550177"
        patient.medical_alerts = "Mitral valve prolapse (no antibiotics needed per cardiologist)"
        patient.allergies = "Penicillin (hives); latex"
        patient.medications = "Levothyroxine 50 µg daily; ibuprofen as needed"
        patient.may_text = True
        patient.may_email = True
        for policy in session.scalars(
            select(InsurancePolicy).where(InsurancePolicy.patient_id == patient.id)
        ):
            if policy.subscriber_relation == "self":
                policy.subscriber_name = f"{SAMPLE_FIRST_NAME} {SAMPLE_LAST_NAME}"
                policy.subscriber_date_of_birth = patient.date_of_birth
        group = session.get(TreatmentPlan, case.options_plan_id).option_group
        session.execute(
            update(TreatmentPlan)
            .where(TreatmentPlan.option_group == group)
            .values(patient_id=patient.id)
        )
        session.flush()
        index_patient(session, patient)


@dataclass
class SampleClinic:
    clinic: object  # OpenClinic
    actor: object  # Actor (the coordinator)
    owner: object  # Actor (the owner: changes the clinic's language for the day sheet)
    case: SampleCase


def build_sample_clinic(folder: Path) -> SampleClinic:
    """The throw-away demo clinic in ``folder``, with its logo and Zoë's record."""
    from app.demo.seed import DEMO_PASSWORD, create_seeded_clinic
    from app.services.clinic import auth
    from app.services.clinic.clinics import get_details, update_details

    clinic = create_seeded_clinic(
        folder / "samples.caredesk", patients=_SEED_PATIENTS, years=1, seed=_SEED
    )
    try:
        owner = auth.login(clinic.db, "owner", DEMO_PASSWORD)
        details = get_details(clinic.db)
        update_details(clinic.db, owner, replace(details, logo_png=sample_logo()))
        case = _find_case(clinic.db)
        _make_her_zoe(clinic.db, case)
        coordinator = auth.login(clinic.db, "coordinator", DEMO_PASSWORD)
    except BaseException:
        clinic.db.close()
        raise
    return SampleClinic(clinic=clinic, actor=coordinator, owner=owner, case=case)


# --- the documents ---------------------------------------------------------------------------

Printer = Callable[[SampleClinic, str], bytes]


def _consent(key: str) -> Printer:
    def render(s: SampleClinic, language: str) -> bytes:
        from app.services.patients.consents import consent_pdf

        return consent_pdf(
            s.clinic.db,
            s.actor,
            s.case.patient_id,
            key,
            procedure="dermal filler for the nasolabial folds"
            if key == "injectables"
            else "a porcelain crown on the upper left first molar",
            provider_id=s.case.provider_id,
            language=language,
        )

    return render


def _day_sheet(s: SampleClinic, language: str) -> bytes:
    """The day sheet is for staff and prints in the clinic's language: the Spanish one is
    what a clinic set to Spanish (es_US) prints."""
    from app.services.clinic.clinics import get_details, update_details
    from app.services.scheduling.calendar_export import day_sheet_pdf

    db = s.clinic.db
    details = get_details(db)
    wanted = "en_US" if language == "en" else "es_US"
    if details.locale != wanted:
        update_details(db, s.owner, replace(details, locale=wanted))
    try:
        return day_sheet_pdf(db, s.actor, s.case.provider_id, s.case.day)
    finally:
        if details.locale != wanted:
            update_details(db, s.owner, replace(get_details(db), locale=details.locale))


def _month_end(s: SampleClinic, language: str) -> bytes:
    """The owner's month-end summary for the month before the sample case's day."""
    from app.services.reports import period as periods
    from app.services.reports.summary import export_summary

    month = periods.month(s.case.day.replace(day=1)).before()
    return export_summary(s.clinic.db, s.owner, month, "pdf", locale=language, how="sample")


def _printers() -> dict[str, Printer]:
    from app.services.billing.agreements import agreement_pdf
    from app.services.billing.plan_handouts import plan_handout_pdf
    from app.services.billing.receipts import receipt_pdf
    from app.services.patients.intake import blank_intake_pdf, intake_pdf
    from app.services.patients.referral_letters import referral_letter_pdf

    printers: dict[str, Printer] = {
        "intake-blank": lambda s, lang: blank_intake_pdf(s.clinic.db, s.actor, lang),
        "intake": lambda s, lang: intake_pdf(
            s.clinic.db, s.actor, s.case.patient_id, language=lang
        ),
    }
    for key in CONSENT_TEMPLATES:
        printers[f"consent-{key.replace('_', '-')}"] = _consent(key)
    printers.update({
        "plan-options": lambda s, lang: plan_handout_pdf(
            s.clinic.db, s.actor, s.case.options_plan_id, language=lang
        ),
        "plan-accepted": lambda s, lang: plan_handout_pdf(
            s.clinic.db, s.actor, s.case.accepted_plan_id, language=lang
        ),
        "agreement": lambda s, lang: agreement_pdf(
            s.clinic.db, s.actor, s.case.payment_plan_id, language=lang
        ),
        "receipt": lambda s, lang: receipt_pdf(
            s.clinic.db, s.actor, s.case.payment_id, language=lang
        ),
        "referral": lambda s, lang: referral_letter_pdf(
            s.clinic.db, s.actor, s.case.referral_id, language=lang
        ),
        "day-sheet": _day_sheet,
        "month-end": _month_end,
    })  # fmt: skip
    assert tuple(printers) == DOCUMENTS
    return printers


def expected_files() -> list[str]:
    """The file names a run writes, in order."""
    return [f"doc-{name}-{lang}.png" for name in DOCUMENTS for lang in LANGUAGES]


def render(outdir: Path, *, work: Path | None = None, report: Callable[[Path], None] = print):
    """Make the sample clinic (in ``work``, default a temporary folder that is deleted) and
    write page 1 of every document in every language to ``outdir``; returns the paths."""
    pdftoppm = find_pdftoppm()  # before minutes of work, not after
    outdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="caredesk-samples-", dir=work))
    written: list[Path] = []
    try:
        samples = build_sample_clinic(folder)
        try:
            for name, printer in _printers().items():
                for language in LANGUAGES:
                    target = outdir / f"doc-{name}-{language}.png"
                    page_one_png(printer(samples, language), target, pdftoppm)
                    written.append(target)
                    report(target)
        finally:
            samples.clinic.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return written


def _isolate() -> Path:
    """This process: an in-memory key store and its own user-data folder."""
    import keyring

    from app.data.keys import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    work = Path(tempfile.mkdtemp(prefix="caredesk-samples-userdata-"))
    os.environ["CAREDESK_DATA_DIR"] = str(work)
    return work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.document_samples",
        description="Render page 1 of every printed document (English and Spanish) to PNG.",
    )
    parser.add_argument("outdir", type=Path, help="folder for the doc-<name>-<lang>.png files")
    args = parser.parse_args(argv)
    userdata = _isolate()
    try:
        render(args.outdir)
    except SamplesError as error:
        print(f"document samples: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(userdata, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
