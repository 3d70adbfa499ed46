"""Text replies: "C"/"SI" confirms the visit the reminder was about, "STOP"/"BAJA" opts the
number out, anything else is a task for the front desk — each reply handled once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.communications import CommunicationEntry
from app.data.models.messages import Message, MessageKind, MessageReply, ReplyAction
from app.data.models.patients import Patient
from app.data.models.tasks import Task
from app.services.messages import replies
from app.services.messages.replies import handle_inbound, poll_replies
from app.services.messages.settings import messaging_settings, sms_token
from app.services.messages.sms import InboundText, gateway_for
from tests.data.factories import add_appointment, add_provider
from tests.services.messages.outbox_world import NOW, configure, queue, reachable_patient


def _sent_reminder(db, patient_id: int, kind=MessageKind.CONFIRMATION_REQUEST.value) -> int:
    """A confirmation request about a visit in two days, sent by text an hour ago."""
    with db.uow() as session:
        visit = add_appointment(
            session,
            session.get(Patient, patient_id),
            add_provider(session),
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, minutes=30),
        )
        visit_id, starts = visit.id, visit.starts_at
    message_id = queue(
        db, patient_id, "text", kind=kind, appointment_id=visit_id, appointment_starts_at=starts
    )
    with db.uow() as session:
        row = session.get(Message, message_id)
        row.state, row.sent_at = "sent", NOW - timedelta(hours=1)
    return visit_id


_ids = iter(range(1, 10_000))


def reply(db, owner, number: str, body: str, gateway_id: str | None = None):
    text = InboundText(
        gateway_id=gateway_id or f"SM{next(_ids):032d}",
        from_number=number,
        to_number="+12075550100",
        body=body,
        received_at=NOW,
    )
    return handle_inbound(db, owner, text)


def _number(db, patient_id: int) -> str:
    with db.uow() as session:
        return session.get(Patient, patient_id).mobile_phone


@pytest.mark.parametrize("body", ["C", " c ", "Sí", "SI!", "yes", "Confirm"])
def test_c_or_si_confirms_the_visit_asked_about(clinic, owner, body) -> None:
    patient = reachable_patient(clinic.db)
    visit = _sent_reminder(clinic.db, patient)

    assert reply(clinic.db, owner, _number(clinic.db, patient), body) is ReplyAction.CONFIRMED

    with clinic.db.uow() as session:
        assert session.get(Appointment, visit).status == AppointmentStatus.CONFIRMED.value
        (entry,) = session.scalars(
            select(CommunicationEntry).where(CommunicationEntry.patient_id == patient)
        ).all()
        assert (entry.direction, entry.purpose, entry.outcome) == (
            "inbound",
            "confirmation",
            "confirmed",
        )
        assert entry.appointment_id == visit
        saved = session.scalars(select(MessageReply)).one()
        assert (saved.appointment_id, saved.patient_id) == (visit, patient)


def test_a_c_for_a_visit_cancelled_meanwhile_becomes_a_task(clinic, owner) -> None:
    patient = reachable_patient(clinic.db)
    visit = _sent_reminder(clinic.db, patient)
    with clinic.db.uow() as session:
        session.get(Appointment, visit).status = AppointmentStatus.CANCELLED.value

    assert reply(clinic.db, owner, _number(clinic.db, patient), "C") is ReplyAction.TASK

    with clinic.db.uow() as session:
        assert session.get(Appointment, visit).status == AppointmentStatus.CANCELLED.value
        task = session.scalars(select(Task)).one()
        assert "cancelled" in task.details


@pytest.mark.parametrize("body", ["STOP", "baja", "Unsubscribe"])
def test_stop_or_baja_opts_every_patient_with_the_number_out(clinic, owner, body) -> None:
    patient = reachable_patient(clinic.db)
    number = _number(clinic.db, patient)
    sibling = reachable_patient(clinic.db, mobile_phone=number)
    _sent_reminder(clinic.db, patient)

    assert reply(clinic.db, owner, number, body) is ReplyAction.OPTED_OUT

    with clinic.db.uow() as session:
        assert session.get(Patient, patient).text_opted_out_at == NOW
        assert session.get(Patient, sibling).text_opted_out_at == NOW
        # The consent is withdrawn too: the record and the printed intake form say no.
        assert not session.get(Patient, patient).may_text
        assert not session.get(Patient, sibling).may_text


def test_anything_else_is_a_task_for_the_front_desk(clinic, owner) -> None:
    patient = reachable_patient(clinic.db, first_name="Rosa", last_name="Diaz")
    _sent_reminder(clinic.db, patient)
    body = "Can I come at 3 instead?"

    assert reply(clinic.db, owner, _number(clinic.db, patient), body) is ReplyAction.TASK

    with clinic.db.uow() as session:
        task = session.scalars(select(Task)).one()
        assert task.title == f"Text from Diaz, Rosa: {body}"
        assert (task.kind, task.patient_id, task.assignee_id) == ("message", patient, None)
        assert task.due_on == NOW.date()


def test_a_reply_from_an_unknown_number_is_a_task_too(clinic, owner) -> None:
    assert reply(clinic.db, owner, "+12075559999", "who is this") is ReplyAction.UNMATCHED
    with clinic.db.uow() as session:
        task = session.scalars(select(Task)).one()
        assert task.title == "Text from (207) 555-9999: who is this"
        assert task.patient_id is None


def test_each_reply_is_handled_once(clinic, owner) -> None:
    reply(clinic.db, owner, "+12075559999", "hello", gateway_id="SM-once")
    reply(clinic.db, owner, "+12075559999", "hello", gateway_id="SM-once")
    with clinic.db.uow() as session:
        assert len(session.scalars(select(Task)).all()) == 1


def test_keyword_folds_case_accents_and_punctuation() -> None:
    assert replies.keyword(" Sí. ") == "SI"
    assert replies.keyword("STOP!") == "STOP"
    assert replies.keyword("C 👍") == "C"


@pytest.mark.both_backends
def test_replies_are_fetched_from_the_gateway_once(clinic, owner, sms_gateway, monkeypatch):
    configure(clinic.db, None, sms_gateway, monkeypatch)
    patient = reachable_patient(clinic.db)
    visit = _sent_reminder(clinic.db, patient)
    sms_gateway.add_inbound(_number(clinic.db, patient), "C", NOW)
    sms_gateway.add_inbound("+12075559999", "wrong number?", NOW)
    config = messaging_settings(clinic.db, owner)
    gateway = gateway_for(config, sms_token(config))

    assert poll_replies(clinic.db, owner, gateway, NOW - timedelta(days=1)) == 2
    assert poll_replies(clinic.db, owner, gateway, NOW - timedelta(days=1)) == 0
    with clinic.db.uow() as session:
        assert session.get(Appointment, visit).status == AppointmentStatus.CONFIRMED.value
