"""The demo clinic (``caredesk --demo``): made up on first use, opened as it is afterwards.

It lives at :func:`app.paths.demo_database_path` and holds :data:`DEMO_PATIENTS`
made-up patients with :data:`DEMO_YEARS` years of history up to the day it was
created, plus bookings for the three months after it, so the calendar has a past
and a future.  Sign in with any of :data:`app.demo.seed.DEMO_ACCOUNTS` and
:data:`app.demo.seed.DEMO_PASSWORD`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from datetime import date
from pathlib import Path

from app import paths
from app.clock import local_today
from app.data import keys
from app.data.database import remove_database_files
from app.data.errors import DatabaseDamagedError, DatabaseLockedError
from app.data.keys import DatabaseKey, KeyringUnavailable
from app.demo.seed import Progress, create_seeded_clinic
from app.services.clinic.clinics import OpenClinic, open_clinic
from app.services.errors import KeyRequiredError

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
        today=today or local_today(),
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


def showcase_consents(db, owner, patient_id: int) -> None:
    """For the screenshots: the demo catalogue requires no consents, so here the patient's
    booked services need two and one other form is signed on screen (both lists show)."""
    from sqlalchemy import select

    from app.data.models import (
        Appointment,
        ConsentTemplate,
        ServiceRequiredConsent,
        TreatmentItem,
        TreatmentPhase,
        TreatmentPlan,
    )
    from app.services.patients import consents

    with db.uow() as session:
        booked = select(Appointment.service_id).where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(("scheduled", "confirmed")),
            Appointment.service_id.is_not(None),
        )
        accepted = (
            select(TreatmentItem.service_id)
            .join(TreatmentPhase, TreatmentPhase.id == TreatmentItem.phase_id)
            .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
            .where(
                TreatmentPlan.patient_id == patient_id,
                TreatmentPlan.status.in_(("accepted", "partly_accepted", "in_progress")),
                TreatmentItem.status.in_(("accepted", "scheduled")),
                TreatmentItem.service_id.is_not(None),
            )
        )
        service_ids = sorted(set(session.scalars(booked)) | set(session.scalars(accepted)))
    if not service_ids:
        service_ids = [_book_next_visit(db, owner, patient_id, "Porcelain crown")]
    with db.uow() as session:
        templates = session.scalars(
            select(ConsentTemplate.id).where(
                ConsentTemplate.key.in_(("general_treatment", "photography_release"))
            )
        ).all()
        for service_id in service_ids[:1]:
            for template_id in templates:
                session.add(
                    ServiceRequiredConsent(service_id=service_id, consent_template_id=template_id)
                )
    consents.sign_consent(
        db,
        owner,
        patient_id=patient_id,
        template_key="financial_policy",
        signature_png=_sample_signature(),
        signer_name=_patient_name(db, patient_id),
        witness_staff_id=owner.staff_id,
    )


@contextlib.contextmanager
def clock_on(day: datetime.date):
    """The app's one clock (``app.clock``) reads 3 PM UTC on ``day`` while the block runs:
    the demo's referral takes its steps on the days they would have been taken."""
    import app.clock as clock

    real = clock.datetime
    moment = real.combine(day, datetime.time(15, 0), tzinfo=datetime.UTC)

    class _OnDay(real):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    clock.datetime = _OnDay
    try:
        yield
    finally:
        clock.datetime = real


def showcase_referral(db, owner, patient_id: int, report_pdf: bytes) -> int:
    """A referral of the showcase patient out and back: sent with the letter on file, the
    specialist's visit booked and seen, the report filed and waiting for our provider."""
    from sqlalchemy import select

    from app.data.models.contacts import Contact
    from app.data.models.providers import Provider
    from app.services.referrals import referrals

    today = _clinic_today(db)
    days_ago = lambda n: today - datetime.timedelta(days=n)  # noqa: E731
    with db.uow() as session:
        specialist = session.scalar(
            select(Contact.id).where(Contact.kind == "specialist").order_by(Contact.id).limit(1)
        )
        provider = session.scalar(select(Provider.id).order_by(Provider.id).limit(1))
    choices = referrals.record_choices(db, owner, patient_id)
    # Each step is taken on its own day, as the desk would have over three weeks.
    with clock_on(days_ago(20)):
        line = referrals.create_outgoing(
            db, owner, patient_id=patient_id, contact_id=specialist, provider_id=provider,
            reason="Evaluation of tooth 30 for endodontic treatment; persistent pain on biting.",
            urgency="soon", note_ids=[c.id for c in choices if c.kind == "note"][:1],
            attached_records="Periapical x-ray of tooth 30 (film, by post)",
        )  # fmt: skip
        line = referrals.mark_sent(db, owner, line.id, version=line.version, via="fax")
    with clock_on(days_ago(13)):
        referrals.log_referral_call(
            db, owner, line.id, note="Their front desk is booking her this week.", reached=True
        )
        line = referrals.referral_detail(db, owner, line.id).line
        line = referrals.record_booked(
            db, owner, line.id, version=line.version, visit_on=days_ago(6)
        )
    with clock_on(days_ago(5)):
        line = referrals.record_seen(db, owner, line.id, version=line.version, seen_on=days_ago(6))
    with clock_on(days_ago(1)):
        line = referrals.file_report(
            db, owner, line.id, version=line.version, filename="endodontic-report.pdf",
            content=report_pdf, received_on=days_ago(1),
        )  # fmt: skip
    return line.id


def _clinic_today(db) -> datetime.date:
    from app.services.clinic.clock import clinic_today

    with db.uow() as session:
        return clinic_today(session)


def _book_next_visit(db, owner, patient_id: int, service_name: str) -> int:
    """Book the patient's next ``service_name`` visit at the first free time; its service id."""
    from sqlalchemy import select

    from app.data.models import Provider, Service
    from app.services.scheduling import availability
    from app.services.scheduling import booking as scheduling

    with db.uow() as session:
        service = session.scalars(select(Service).where(Service.name == service_name)).one()
        service_id, minutes = service.id, service.default_duration_minutes
        provider_ids = tuple(session.scalars(select(Provider.id).where(Provider.is_active)))
    slot = availability.find_next_available(
        db,
        owner,
        availability.SlotQuery(
            duration_minutes=minutes,
            provider_ids=provider_ids,
            patient_id=patient_id,
            service_id=service_id,
            count=1,
        ),
    )[0]
    scheduling.book_appointment(
        db,
        owner,
        scheduling.AppointmentRequest(
            patient_id=patient_id,
            provider_id=slot.provider_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            service_id=service_id,
            room_id=slot.room_id,
        ),
    )
    return service_id


def _patient_name(db, patient_id: int) -> str:
    from app.data.models import Patient

    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        return f"{patient.first_name} {patient.last_name}"


def _sample_signature() -> bytes:
    """A hand-written-looking squiggle, as the signature pad would save it."""
    import io
    import math

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 160), "white")
    pen = ImageDraw.Draw(image)
    points = [
        (30 + x * 5.4, 95 - 38 * math.sin(x / 6.5) * math.exp(-x / 140) - (12 if x % 37 < 6 else 0))
        for x in range(100)
    ]
    pen.line(points, fill="#1b2a4a", width=5, joint="curve")
    pen.line([(60, 128), (520, 118)], fill="#1b2a4a", width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


#: The demo's mail server and text gateway: names that resolve nowhere, and no password or
#: token saved, so a demo never sends anything (the Outbox says why its messages wait).
DEMO_MAIL_SERVER = "smtp.riverside-dental.example"
DEMO_SMS_ACCOUNT = "AC" + "5e" * 16
DEMO_SMS_NUMBER = "+12015550123"


def showcase_messages(db, owner, now: datetime.datetime) -> None:
    """An outbox with a day behind it: Settings → Messages filled in, yesterday's
    confirmation requests and reminders sent (the texts delivered, one address bounced, one
    number refused), and what the rules call for now waiting in the queue."""
    import dataclasses

    from sqlalchemy import select

    from app.data.models.messages import Message, MessageChannel, MessageState
    from app.data.models.patients import Patient
    from app.services.messages import planning, settings

    config = settings.messaging_settings(db, owner)
    settings.save_messaging_settings(
        db, owner, dataclasses.replace(
            config, email_enabled=True, smtp_host=DEMO_MAIL_SERVER, smtp_port=587,
            smtp_security="starttls", smtp_user="frontdesk@riverside-dental.example",
            from_address="frontdesk@riverside-dental.example", from_name="Riverside Dental",
            text_enabled=True, sms_account_sid=DEMO_SMS_ACCOUNT, sms_from_number=DEMO_SMS_NUMBER,
        ),
    )  # fmt: skip
    yesterday = now - datetime.timedelta(days=1)
    planning.plan_messages(db, owner, yesterday)
    with db.uow() as session:
        sent = list(session.scalars(select(Message).order_by(Message.due_at, Message.id)))
        for n, message in enumerate(sent):
            at = max(message.due_at, yesterday - datetime.timedelta(hours=3))
            at += datetime.timedelta(seconds=20 + n)
            message.attempts = 1
            message.sent_at = message.state_changed_at = at
            message.state = MessageState.SENT.value
            if message.channel == MessageChannel.TEXT.value:
                message.state = MessageState.DELIVERED.value
                message.delivered_at = at + datetime.timedelta(seconds=4)
                message.gateway_id = f"SM{message.uid.replace('-', '')}"
        emails = [m for m in sent if m.channel == MessageChannel.EMAIL.value]
        texts = [m for m in sent if m.channel == MessageChannel.TEXT.value]
        if emails:  # a mailbox that no longer exists: the patient's address is marked
            bounced = emails[len(emails) // 2]
            bounced.state, bounced.delivered_at = MessageState.BOUNCED.value, None
            bounced.reason = (
                "The mail server refused the address: 550 5.1.1 The email account that you "
                "tried to reach does not exist."
            )
            session.get(Patient, bounced.patient_id).email_bounced_at = bounced.sent_at
        if texts:  # a landline typed as a mobile
            refused = texts[len(texts) // 3]
            refused.state, refused.delivered_at = MessageState.FAILED.value, None
            refused.reason = (
                "The gateway refused the number: it is not a mobile number (21614). "
                "Correct the patient's mobile number, then Retry."
            )
    planning.plan_messages(db, owner, now)
