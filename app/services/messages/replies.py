"""Replies to texts: "C"/"SI" confirms the visit, "STOP"/"BAJA" opts out, anything else is a
task for the front desk.

Each reply is handled once (``message_replies.gateway_id`` is unique) and kept with what was
done.  A confirmation goes through the scheduling service's one status writer, so the
appointment's history, the Confirmations list and the calendar say "confirmed" as after a
call; the patient's communication log has the reply either way.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.communications import (
    Channel,
    CommunicationEntry,
    Direction,
    Outcome,
    Purpose,
)
from app.data.models.messages import (
    Message,
    MessageChannel,
    MessageKind,
    MessageReply,
    MessageState,
    ReplyAction,
)
from app.data.models.patients import Patient
from app.data.models.tasks import Task, TaskKind, TaskStatus
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.messages.sms import InboundText, SmsGatewayClient
from app.services.messages.transports import SendError
from app.services.patients.phones import display_phone
from app.services.patients.tasks import patient_name
from app.services.scheduling import booking as scheduling

log = logging.getLogger(__name__)

#: Words (upper case, accents removed) that confirm the visit asked about.
CONFIRM_WORDS = frozenset({"C", "SI", "YES", "Y", "CONFIRM", "CONFIRMO", "CONFIRMED"})
#: Words that opt the number out of texts (the carriers' standard ones, and Spanish).
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "BAJA", "ALTO", "PARAR"}
)
#: The kinds of message a "C" answers.
_ASKING_KINDS = (
    MessageKind.CONFIRMATION_REQUEST.value,
    MessageKind.APPOINTMENT_REMINDER.value,
)
_ANSWERED_STATES = (MessageState.SENT.value, MessageState.DELIVERED.value)
TITLE_MAX = 200


def keyword(body: str) -> str:
    """The reply as one upper-case word without accents or punctuation ("Sí." → "SI")."""
    folded = unicodedata.normalize("NFKD", body)
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    return "".join(c for c in letters.upper() if c.isalnum())


def _latest_message_to(session: Session, number: str, kinds=None) -> Message | None:
    query = select(Message).where(
        Message.channel == MessageChannel.TEXT.value,
        Message.to_address == number,
        Message.state.in_(_ANSWERED_STATES),
    )
    if kinds is not None:
        query = query.where(Message.kind.in_(kinds))
    return session.scalars(
        query.order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)
    ).first()


def _patients_with_number(session: Session, number: str) -> list[Patient]:
    return list(
        session.scalars(
            select(Patient)
            .where(
                Patient.mobile_phone == number,
                Patient.is_active.is_(True),
                Patient.merged_into_id.is_(None),
            )
            .order_by(Patient.id)
        )
    )


def _log_inbound(
    session: Session,
    patient_id: int,
    inbound: InboundText,
    purpose: str,
    *,
    outcome: str | None = None,
    appointment_id: int | None = None,
    note: str = "",
) -> None:
    summary = f"Text from {display_phone(inbound.from_number)}: “{inbound.body.strip()}”"
    session.add(
        CommunicationEntry(
            patient_id=patient_id,
            occurred_at=inbound.received_at,
            channel=Channel.TEXT.value,
            direction=Direction.INBOUND.value,
            purpose=purpose,
            outcome=outcome,
            staff_id=None,
            summary=f"{summary}\n{note}" if note else summary,
            appointment_id=appointment_id,
        )
    )


def _task(
    session: Session, patient: Patient | None, inbound: InboundText, why: str, now: datetime
) -> Task:
    who = patient_name(patient) if patient is not None else display_phone(inbound.from_number)
    text = " ".join(inbound.body.split())
    title = f"Text from {who}: {text}"
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    task = Task(
        kind=TaskKind.MESSAGE.value,
        title=title,
        details=f"{inbound.body.strip()[:1800]}\n\n{why}",
        patient_id=patient.id if patient is not None else None,
        due_on=clinic_today(session, now),
        status=TaskStatus.OPEN.value,
        assignee_id=None,
        created_by_id=None,
    )
    session.add(task)
    session.flush()
    return task


def _confirm(
    session: Session, actor: Actor, message: Message | None
) -> tuple[Appointment | None, str]:
    """The visit a "C" confirms, confirmed now; (None, why not) when there is none."""
    if message is None or message.appointment_id is None:
        return None, "No reminder asking to confirm a visit was sent to this number."
    appointment = session.get(Appointment, message.appointment_id)
    if appointment is None:
        return None, "The visit the reminder was about no longer exists."
    if appointment.status == AppointmentStatus.CONFIRMED.value:
        return appointment, ""
    if appointment.status != AppointmentStatus.SCHEDULED.value:
        return None, (
            f"The visit the reminder was about is {appointment.status.replace('_', ' ')} "
            "now: call the patient."
        )
    if message.appointment_starts_at and appointment.starts_at != message.appointment_starts_at:
        return None, "The visit was moved after the reminder went: call the patient."
    scheduling.record_status_change(
        session,
        appointment,
        AppointmentStatus.CONFIRMED.value,
        actor,
        reason="Confirmed by text reply",
    )
    return appointment, ""


def opt_out_of_texts(patient: Patient, now: datetime) -> None:
    """The patient said STOP (by a reply, or the gateway knows them unsubscribed): no text
    goes until they agree again at the desk.  The consent itself is withdrawn too, so every
    form that prints or shows "may text" (the intake form, the record) says no."""
    if patient.text_opted_out_at is None:
        patient.text_opted_out_at = now
    patient.may_text = False


def handle_inbound(db: Database, actor: Actor, inbound: InboundText) -> ReplyAction:
    """Act on one reply, once (a reply already handled returns what was done then)."""
    permissions.require(actor, Permission.SEND_MESSAGES)
    with unit_of_work(db, actor) as session:
        done = session.scalar(
            select(MessageReply.action).where(MessageReply.gateway_id == inbound.gateway_id)
        )
        if done is not None:
            return ReplyAction(done)
        now = inbound.received_at
        number = inbound.from_number
        word = keyword(inbound.body)
        latest = _latest_message_to(session, number)
        patients = _patients_with_number(session, number)
        patient = None
        if latest is not None and latest.patient_id is not None:
            patient = session.get(Patient, latest.patient_id)
        elif patients:
            patient = patients[0]
        reply = MessageReply(
            gateway_id=inbound.gateway_id[:64],
            channel=MessageChannel.TEXT.value,
            from_address=number,
            body=inbound.body[:2000],
            received_at=now,
            patient_id=patient.id if patient is not None else None,
            message_id=latest.id if latest is not None else None,
        )
        if patient is None:
            reply.action = ReplyAction.UNMATCHED.value
            reply.task_id = _task(
                session, None, inbound, "No patient has this mobile number.", now
            ).id
        elif word in STOP_WORDS:
            reply.action = ReplyAction.OPTED_OUT.value
            # The number is opted out for everyone who has it (a family's one phone).
            for holder in patients or [patient]:
                opt_out_of_texts(holder, now)
            _log_inbound(
                session,
                patient.id,
                inbound,
                Purpose.GENERAL.value,
                note="Opted out of texts: no text goes to this number until texts are "
                "allowed again on the record.",
            )
        elif word in CONFIRM_WORDS:
            asked = _latest_message_to(session, number, _ASKING_KINDS)
            appointment, why = _confirm(session, actor, asked)
            if appointment is not None:
                reply.action = ReplyAction.CONFIRMED.value
                reply.appointment_id = appointment.id
                reply.message_id = asked.id
                _log_inbound(
                    session,
                    appointment.patient_id,
                    inbound,
                    Purpose.CONFIRMATION.value,
                    outcome=Outcome.CONFIRMED.value,
                    appointment_id=appointment.id,
                )
            else:
                reply.action = ReplyAction.TASK.value
                reply.task_id = _task(session, patient, inbound, why, now).id
                _log_inbound(session, patient.id, inbound, Purpose.CONFIRMATION.value)
        else:
            reply.action = ReplyAction.TASK.value
            reply.task_id = _task(session, patient, inbound, "A reply to read and answer.", now).id
            _log_inbound(session, patient.id, inbound, Purpose.GENERAL.value)
        session.add(reply)
        return ReplyAction(reply.action)


def poll_replies(db: Database, actor: Actor, gateway: SmsGatewayClient, since: datetime) -> int:
    """Fetch the replies received since ``since`` and handle each new one; returns how many
    were new.  The gateway unreachable: nothing is lost, the next run asks again."""
    try:
        inbound = gateway.inbound(since)
    except SendError as error:
        log.info("messages: replies not read (%s)", error.kind)
        return 0
    handled = 0
    for text in sorted(inbound, key=lambda t: t.received_at):
        with reading(db, actor) as session:
            seen = session.scalar(
                select(MessageReply.id).where(MessageReply.gateway_id == text.gateway_id)
            )
        if seen is not None:
            continue
        handle_inbound(db, actor, text)
        handled += 1
    return handled
