"""The Outbox: every message as a line (what, to whom, its state and why), a person's Retry
and Cancel, and messages written by hand for one patient or many.

Manual messages go through the same outbox, templates and checks as the rules' own: each
patient is checked with :func:`eligibility.why_not_to_patient` (consent, STOP, a bounced
address, no number …) and skipped with the reason, the others queued in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.contacts import Contact
from app.data.models.messages import (
    Message,
    MessageChannel,
    MessageKind,
    MessageState,
)
from app.data.models.patients import Patient
from app.data.models.payments import Installment, PaymentPlan, PaymentPlanStatus
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.messages import eligibility, queueing, settings, templates
from app.services.patients.tasks import patient_name, tidy_text

OUTBOX_VIEWS = ("problems", "queued", "sent", "all")
VIEW_LABELS = {"problems": "Problems", "queued": "Queued", "sent": "Sent", "all": "All"}
STATE_LABELS = {
    MessageState.QUEUED.value: "Queued",
    MessageState.SENDING.value: "Sending",
    MessageState.SENT.value: "Sent",
    MessageState.DELIVERED.value: "Delivered",
    MessageState.FAILED.value: "Failed",
    MessageState.BOUNCED.value: "Bounced",
    MessageState.CANCELLED.value: "Canceled",
}
#: A message "sending" for longer than this is stuck (its sender stopped): a problem.
STUCK_MINUTES = 10
REASON_MAX = 300
SEARCH_MAX = 100
#: Kinds a person may send by hand that need a visit: the patient's next one.
_VISIT_KINDS = (
    MessageKind.APPOINTMENT_REMINDER.value,
    MessageKind.CONFIRMATION_REQUEST.value,
)
_INSTALLMENT_KINDS = (
    MessageKind.INSTALLMENT_DUE.value,
    MessageKind.INSTALLMENT_OVERDUE.value,
)
_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)


@dataclass(frozen=True)
class OutboxLine:
    id: int
    kind: str
    kind_label: str
    channel: str
    state: str
    state_label: str
    patient_id: int | None
    patient_name: str
    contact_name: str
    to_address: str
    subject: str
    body: str
    due_at: datetime
    sent_at: datetime | None
    state_changed_at: datetime
    attempts: int
    reason: str
    version: int

    @property
    def can_retry(self) -> bool:
        return self.state in (MessageState.FAILED.value, MessageState.BOUNCED.value)

    @property
    def can_cancel(self) -> bool:
        return self.state in (MessageState.QUEUED.value, MessageState.FAILED.value)


def _contact_name(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return ", ".join(part for part in (contact.name, contact.organisation) if part)


def _lines(session: Session, messages: Sequence[Message]) -> list[OutboxLine]:
    """Lines with the names read in one query per kind of recipient, not per message."""
    patient_ids = {m.patient_id for m in messages if m.patient_id is not None}
    contact_ids = {m.contact_id for m in messages if m.contact_id is not None}
    patients: dict[int, Patient] = {}
    contacts: dict[int, Contact] = {}
    if patient_ids:
        patients = {
            p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))
        }
    if contact_ids:
        contacts = {
            c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))
        }
    return [
        OutboxLine(
            id=m.id,
            kind=m.kind,
            kind_label=templates.KIND_LABELS.get(m.kind, m.kind),
            channel=m.channel,
            state=m.state,
            state_label=STATE_LABELS.get(m.state, m.state),
            patient_id=m.patient_id,
            patient_name=patient_name(patients.get(m.patient_id)) if m.patient_id else "",
            contact_name=_contact_name(contacts.get(m.contact_id)) if m.contact_id else "",
            to_address=m.to_address,
            subject=m.subject,
            body=m.body,
            due_at=m.due_at,
            sent_at=m.sent_at,
            state_changed_at=m.state_changed_at,
            attempts=m.attempts,
            reason=m.reason,
            version=m.version,
        )
        for m in messages
    ]


def _view_condition(view: str, now: datetime):
    if view == "problems":
        return or_(
            Message.state.in_((MessageState.FAILED.value, MessageState.BOUNCED.value)),
            (Message.state == MessageState.SENDING.value)
            & (Message.state_changed_at <= now - timedelta(minutes=STUCK_MINUTES)),
        )
    if view == "queued":
        return Message.state.in_((MessageState.QUEUED.value, MessageState.SENDING.value))
    if view == "sent":
        return Message.state.in_((MessageState.SENT.value, MessageState.DELIVERED.value))
    return None


def _check_view(view: str) -> None:
    if view not in OUTBOX_VIEWS:
        raise ValidationError(
            f"“{view}” is not a view of the Outbox (choose one of {', '.join(OUTBOX_VIEWS)}).",
            field="view",
        )


def outbox(
    db: Database,
    actor: Actor,
    view: str = "problems",
    *,
    search: str = "",
    limit: int = 500,
    now: datetime | None = None,
) -> list[OutboxLine]:
    """One view of the outbox, newest first; ``search`` matches the patient's or contact's
    name, the address or number, or the subject."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    _check_view(view)
    search = tidy_text(search, "search", label="search", max_length=SEARCH_MAX)
    now = now or utc_now()
    with reading(db, actor) as session:
        query = select(Message)
        condition = _view_condition(view, now)
        if condition is not None:
            query = query.where(condition)
        if search:
            like = f"%{search.lower()}%"
            matching_patients = select(Patient.id).where(
                func.lower(Patient.first_name + " " + Patient.last_name).like(like)
                | func.lower(Patient.last_name + ", " + Patient.first_name).like(like)
            )
            matching_contacts = select(Contact.id).where(
                func.lower(Contact.name).like(like) | func.lower(Contact.organisation).like(like)
            )
            query = query.where(
                or_(
                    Message.patient_id.in_(matching_patients),
                    Message.contact_id.in_(matching_contacts),
                    func.lower(Message.to_address).like(like),
                    func.lower(Message.subject).like(like),
                )
            )
        query = query.order_by(Message.state_changed_at.desc(), Message.id.desc()).limit(limit)
        return _lines(session, session.scalars(query).all())


def outbox_counts(db: Database, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """How many messages each view holds (for the view list's counts)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    now = now or utc_now()
    with reading(db, actor) as session:
        counts = {}
        for view in OUTBOX_VIEWS:
            query = select(func.count(Message.id))
            condition = _view_condition(view, now)
            if condition is not None:
                query = query.where(condition)
            counts[view] = session.scalar(query) or 0
        return counts


def patient_messages(db: Database, actor: Actor, patient_id: int) -> list[OutboxLine]:
    """A patient's messages, newest first (the record's Messages section)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("That patient record no longer exists.")
        rows = session.scalars(
            select(Message)
            .where(Message.patient_id == patient_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
        ).all()
        return _lines(session, rows)


def _message_for_change(session: Session, message_id: int, version: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError("That message no longer exists.")
    check_version(session, message, version, "This message")
    return message


def retry_message(
    db: Database, actor: Actor, message_id: int, *, version: int, now: datetime | None = None
) -> OutboxLine:
    """A failed or bounced message goes back to the queue, due now (a person decided: the
    "may have arrived" ones too).  Its patient must still be one it may go to."""
    permissions.require(actor, Permission.SEND_MESSAGES)
    now = now or utc_now()
    with unit_of_work(db, actor) as session:
        message = _message_for_change(session, message_id, version)
        if message.state not in (MessageState.FAILED.value, MessageState.BOUNCED.value):
            label = STATE_LABELS.get(message.state, message.state).lower()
            raise ValidationError(
                f"Only a failed or bounced message can be retried; this one is {label}."
            )
        if message.patient_id is not None:
            patient = session.get(Patient, message.patient_id)
            if message.state == MessageState.BOUNCED.value and patient.email_bounced_at:
                raise ValidationError(
                    "This address bounced: correct the patient's e-mail address on the record "
                    "(or confirm it there), then send a new message."
                )
            why = eligibility.why_not_to_patient(patient, message.channel, now=now)
            if why:
                raise ValidationError(f"It cannot go: {why}")
        message.state = MessageState.QUEUED.value
        message.state_changed_at = now
        message.due_at = min(message.due_at, now)
        message.next_attempt_at = None
        message.attempts = 0
        message.reason = f"Retry asked by {actor.full_name}."
        message.claimed_by = ""
        session.flush()
        return _lines(session, [message])[0]


def cancel_message(
    db: Database,
    actor: Actor,
    message_id: int,
    *,
    version: int,
    reason: str,
    now: datetime | None = None,
) -> OutboxLine:
    """A queued or failed message is cancelled, with why (it will never be sent)."""
    permissions.require(actor, Permission.SEND_MESSAGES)
    reason = tidy_text(reason, "reason", label="reason", max_length=REASON_MAX, required=True)
    now = now or utc_now()
    with unit_of_work(db, actor) as session:
        message = _message_for_change(session, message_id, version)
        if message.state not in (MessageState.QUEUED.value, MessageState.FAILED.value):
            label = STATE_LABELS.get(message.state, message.state).lower()
            raise ValidationError(
                f"Only a queued or failed message can be canceled; this one is {label}."
            )
        message.state = MessageState.CANCELLED.value
        message.state_changed_at = now
        message.reason = f"Canceled by {actor.full_name}: {reason}"
        session.flush()
        return _lines(session, [message])[0]


# --- messages written by hand ---------------------------------------------------------------


@dataclass(frozen=True)
class ManualMessage:
    """``custom``: the body typed (and the e-mail's subject, else the template's), placed in
    the clinic's custom template; any other kind: its template."""

    kind: str
    channel: str
    subject: str = ""
    body: str = ""


@dataclass(frozen=True)
class ManualResult:
    queued: tuple[int, ...]
    #: (patient id, name, why not)
    skipped: tuple[tuple[int, str, str], ...]

    @property
    def sentence(self) -> str:
        return f"{len(self.queued)} will get it, {len(self.skipped)} skipped."


#: Most patients one manual message may go to at once.
MANUAL_MAX = 2000


def _check_request(request: ManualMessage) -> ManualMessage:
    if request.channel not in {c.value for c in MessageChannel}:
        raise ValidationError("Choose e-mail or text.", field="channel")
    if request.kind not in {k.value for k in MessageKind}:
        raise ValidationError("Choose what kind of message to send.", field="kind")
    if request.kind == MessageKind.REFERRAL_REMINDER.value:
        raise ValidationError(
            "A referral reminder goes to the specialist's office from the referral itself.",
            field="kind",
        )
    if request.kind != MessageKind.CUSTOM.value:
        return request
    subject = request.subject.strip() if request.channel == MessageChannel.EMAIL.value else ""
    if not request.body.strip():
        raise ValidationError("Type the message.", field="body")
    templates.check_template(request.kind, request.channel, subject, request.body)
    return ManualMessage(request.kind, request.channel, subject, request.body.strip())


def _next_visit(session: Session, patient_id: int, now: datetime) -> Appointment | None:
    return session.scalars(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(_UPCOMING),
            Appointment.starts_at > now,
        )
        .order_by(Appointment.starts_at)
        .limit(1)
    ).first()


def _last_visit(session: Session, patient_id: int) -> Appointment | None:
    return session.scalars(
        select(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == AppointmentStatus.COMPLETED.value,
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    ).first()


def _unpaid_installment(session: Session, patient_id: int) -> Installment | None:
    return session.scalars(
        select(Installment)
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .where(
            PaymentPlan.patient_id == patient_id,
            PaymentPlan.status == PaymentPlanStatus.ACTIVE.value,
            Installment.paid_amount < Installment.amount,
        )
        .order_by(Installment.due_on)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class _Drafted:
    subject: str
    body: str
    language: str
    appointment: Appointment | None
    installment: Installment | None


def _draft(
    session: Session, config, patient: Patient, request: ManualMessage, now: datetime
) -> _Drafted | str:
    """The message's words for this patient, or why it cannot be written."""
    appointment = installment = None
    if request.kind in _VISIT_KINDS:
        appointment = _next_visit(session, patient.id, now)
        if appointment is None:
            return "No upcoming visit to remind of."
    elif request.kind == MessageKind.POST_TREATMENT.value:
        appointment = _last_visit(session, patient.id)
        if appointment is None:
            return "No completed visit to follow up on."
    elif request.kind in _INSTALLMENT_KINDS:
        installment = _unpaid_installment(session, patient.id)
        if installment is None:
            return "No unpaid installment on an active payment plan."
    language = queueing.message_language(session, patient.preferred_language)
    values = queueing.message_values(
        session,
        config,
        patient=patient,
        appointment=appointment,
        installment=installment,
        language=language,
    )
    if request.kind == MessageKind.CUSTOM.value:
        # The typed words, filled, go inside the clinic's frame for custom messages (its
        # name and phone, the STOP line); a typed subject replaces the frame's.
        typed_subject, typed = templates.fill_template(
            request.kind,
            MessageChannel.EMAIL.value,
            language,
            request.subject,
            request.body,
            values,
        )
        values = {**values, "message": typed}
        subject, body = templates.render(session, request.kind, request.channel, language, values)
        if typed_subject:
            subject = typed_subject
    else:
        subject, body = templates.render(session, request.kind, request.channel, language, values)
    return _Drafted(subject, body, language, appointment, installment)


def queue_manual(
    db: Database,
    actor: Actor,
    patient_ids: Sequence[int],
    request: ManualMessage,
    *,
    now: datetime | None = None,
) -> ManualResult:
    """Queue the message for each patient it may go to (due now), all in one transaction;
    the others are skipped with why (no consent, opted out, no number …)."""
    permissions.require(actor, Permission.SEND_MESSAGES)
    request = _check_request(request)
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        raise ValidationError("Choose at least one patient.", field="patients")
    if len(ids) > MANUAL_MAX:
        raise ValidationError(
            f"{len(ids):,} patients chosen; one message goes to at most {MANUAL_MAX:,} at once.",
            field="patients",
        )
    now = now or utc_now()
    queued: list[int] = []
    skipped: list[tuple[int, str, str]] = []
    with unit_of_work(db, actor) as session:
        config = settings.current_config(session)
        patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))}
        for patient_id in ids:
            patient = patients.get(patient_id)
            if patient is None:
                skipped.append((patient_id, "", "That patient record no longer exists."))
                continue
            why = eligibility.why_not_to_patient(patient, request.channel, now=now)
            if why:
                skipped.append((patient_id, patient_name(patient), why))
                continue
            drafted = _draft(session, config, patient, request, now)
            if isinstance(drafted, str):
                skipped.append((patient_id, patient_name(patient), drafted))
                continue
            message = queueing.add_message(
                session,
                kind=request.kind,
                channel=request.channel,
                to_address=eligibility.address_of(patient, request.channel),
                language=drafted.language,
                subject=drafted.subject,
                body=drafted.body,
                due_at=now,
                patient_id=patient.id,
                appointment_id=drafted.appointment.id if drafted.appointment else None,
                appointment_starts_at=drafted.appointment.starts_at
                if drafted.appointment
                else None,
                installment_id=drafted.installment.id if drafted.installment else None,
                created_by_id=actor.staff_id,
            )
            if message is not None:
                session.flush()
                queued.append(message.id)
    return ManualResult(tuple(queued), tuple(skipped))


def preview_manual(
    db: Database,
    actor: Actor,
    patient_id: int,
    request: ManualMessage,
    *,
    now: datetime | None = None,
) -> tuple[str, str]:
    """(subject, body) as this patient would get it; ValidationError saying why it cannot
    be written for them (no upcoming visit …)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    request = _check_request(request)
    now = now or utc_now()
    with reading(db, actor) as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFoundError("That patient record no longer exists.")
        drafted = _draft(session, settings.current_config(session), patient, request, now)
        if isinstance(drafted, str):
            raise ValidationError(drafted)
        return drafted.subject, drafted.body
