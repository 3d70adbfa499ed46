"""Consultation notes: drafts, sign & lock, addenda, who may read them, follow-up tasks."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.clock import utc_now
from app.data.models.audit import AuditEntry
from app.data.models.notes import ConsultationNote
from app.data.models.patients import Patient
from app.data.models.tasks import Task
from app.services.clinic import catalog
from app.services.clinic.catalog import ProviderData
from app.services.errors import (
    NoteLockedError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.patients import notes, tasks
from app.services.patients.notes import Decision, NoteFields
from tests.data.factories import add_named_patient

pytestmark = pytest.mark.both_backends


@pytest.fixture
def provider_id(clinic, owner):
    return catalog.save_provider(clinic.db, owner, ProviderData(name="Ana Torres", title="Dr.")).id


@pytest.fixture
def provider(make_staff):
    return make_staff("paula", "provider", "Paula Provider")


@pytest.fixture
def coordinator(make_staff):
    return make_staff("cora", "coordinator", "Cora Coordinator")


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


def complete(provider_id, /, **changes) -> NoteFields:
    base = NoteFields(
        reason="Wants whiter teeth",
        treatments_discussed="Whitening; veneers",
        options_and_costs="Whitening $450; veneers $1,200 each",
        patient_questions="Does it hurt?",
        decision=Decision.ACCEPTED,
        provider_id=provider_id,
        body="Free text.",
    )
    return replace(base, **changes)


def signed_note(clinic, coordinator, provider, patient_id, provider_id):
    note = notes.start_note(clinic.db, coordinator, patient_id, provider_id)
    notes.save_draft(clinic.db, coordinator, note.summary.id, complete(provider_id))
    return notes.sign_note(clinic.db, provider, note.summary.id)


def test_draft_autosaves_and_reopens_with_every_field(
    clinic, coordinator, patient_id, provider_id, clinic_day
):
    started = notes.start_note(clinic.db, coordinator, patient_id, provider_id)
    assert started.summary.status == "draft" and started.summary.author == "Cora Coordinator"
    assert started.summary.provider == "Dr. Ana Torres"
    in_two_days = clinic_day + timedelta(days=2)
    fields = complete(provider_id, decision="thinking_it_over", follow_up_on=in_two_days)
    saved_at = notes.save_draft(clinic.db, coordinator, started.summary.id, fields)
    assert saved_at.tzinfo is not None
    # A new "session" (the window was destroyed without saving): the draft is all there.
    reopened = notes.open_note(clinic.db, coordinator, started.summary.id)
    assert reopened.fields == fields
    assert reopened.saved_at == saved_at


@pytest.mark.parametrize(
    "text",
    [
        "Patient: 😀🦷 — “smile” makeover",
        "المريض يريد تبييض الأسنان",  # right-to-left
        "שאלות: האם זה כואב?",
        "Zoë Nguyễn, naïve café",
        "line one\nline two\n\tindented",
        "x" * 10_000,
    ],
)
def test_text_round_trips_exactly(clinic, coordinator, patient_id, text):
    note = notes.start_note(clinic.db, coordinator, patient_id)
    notes.save_draft(clinic.db, coordinator, note.summary.id, NoteFields(reason=text, body=text))
    opened = notes.open_note(clinic.db, coordinator, note.summary.id)
    assert opened.fields.reason == text and opened.fields.body == text


def test_control_characters_are_stripped(clinic, coordinator, patient_id):
    note = notes.start_note(clinic.db, coordinator, patient_id)
    dirty = NoteFields(reason="pasted\x00 from\x07 PDF\x1b[0m", decline_reason="too\x0b costly\r\n")
    notes.save_draft(clinic.db, coordinator, note.summary.id, dirty)
    opened = notes.open_note(clinic.db, coordinator, note.summary.id)
    assert opened.fields.reason == "pasted from PDF[0m"
    assert opened.fields.decline_reason == "too costly"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"reason": "x" * (notes.NOTE_TEXT_MAX + 1)}, "reason"),
        ({"body": "x" * (notes.NOTE_TEXT_MAX + 1)}, "body"),
        ({"patient_questions": "?" * (notes.NOTE_TEXT_MAX + 1)}, "patient_questions"),
        ({"decision": "maybe"}, "decision"),
        ({"decline_reason": "r" * 201}, "decline_reason"),
        ({"provider_id": 9999}, "provider_id"),
        ({"follow_up_on": "2030-01-01"}, "follow_up_on"),
    ],
)
def test_bad_draft_input_is_refused_with_its_field(
    clinic, coordinator, patient_id, provider_id, change, field
):
    note = notes.start_note(clinic.db, coordinator, patient_id)
    notes.save_draft(clinic.db, coordinator, note.summary.id, NoteFields(reason="kept"))
    with pytest.raises(ValidationError) as raised:
        notes.save_draft(clinic.db, coordinator, note.summary.id, NoteFields(**change))
    assert raised.value.field == field
    assert str(raised.value)
    # Nothing half-saved: the earlier draft is intact.
    assert notes.open_note(clinic.db, coordinator, note.summary.id).fields.reason == "kept"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"reason": "", "body": ""}, "reason"),
        ({"provider_id": None}, "provider_id"),
        ({"decision": "declined", "decline_reason": ""}, "decline_reason"),
        ({"decision": "thinking_it_over", "follow_up_on": None}, "follow_up_on"),
        # A timedelta: that many days from the clinic's today, worked out when the test runs.
        ({"decision": "thinking_it_over", "follow_up_on": timedelta(days=-3)}, "follow_up_on"),
    ],
)
def test_signing_checks_the_decision_rules(
    clinic, coordinator, provider, patient_id, provider_id, clinic_day, change, field
):
    if isinstance(change.get("follow_up_on"), timedelta):
        change = {**change, "follow_up_on": clinic_day + change["follow_up_on"]}
    note = notes.start_note(clinic.db, coordinator, patient_id)
    notes.save_draft(clinic.db, coordinator, note.summary.id, complete(provider_id, **change))
    with pytest.raises(ValidationError) as raised:
        notes.sign_note(clinic.db, provider, note.summary.id)
    assert raised.value.field == field
    assert notes.list_notes(clinic.db, coordinator, patient_id)[0].status == "draft"


def test_sign_records_who_and_when(clinic, coordinator, provider, patient_id, provider_id):
    signed = signed_note(clinic, coordinator, provider, patient_id, provider_id)
    assert signed.summary.status == "signed"
    assert signed.summary.signed_by == "Paula Provider"
    assert signed.summary.signed_at is not None and signed.summary.signed_at.tzinfo is not None
    assert signed.summary.decision == "accepted"


def test_a_signed_note_cannot_be_changed(
    clinic, coordinator, provider, owner, patient_id, provider_id
):
    signed = signed_note(clinic, coordinator, provider, patient_id, provider_id)
    note_id = signed.summary.id
    attempts = [
        lambda: notes.save_draft(clinic.db, coordinator, note_id, NoteFields(reason="rewritten")),
        lambda: notes.save_draft(clinic.db, owner, note_id, signed.fields),  # same content
        lambda: notes.save_draft(clinic.db, provider, note_id, NoteFields()),  # blank it out
        lambda: notes.save_draft(
            clinic.db, provider, note_id, replace(signed.fields, decision="declined")
        ),
        lambda: notes.sign_note(clinic.db, provider, note_id),  # re-sign as someone else
        lambda: notes.sign_note(clinic.db, owner, note_id),
    ]
    for attempt in attempts:
        with pytest.raises(NoteLockedError, match="signed and locked"):
            attempt()
    after = notes.open_note(clinic.db, coordinator, note_id)
    assert after.fields == signed.fields
    assert after.summary.signed_by == "Paula Provider"
    assert after.summary.signed_at == signed.summary.signed_at


def test_addenda_on_signed_notes_keep_their_own_author_and_time(
    clinic, coordinator, provider, patient_id, provider_id
):
    signed = signed_note(clinic, coordinator, provider, patient_id, provider_id)
    first = notes.add_addendum(clinic.db, provider, signed.summary.id, "Correction: 2 veneers 😀")
    second = notes.add_addendum(clinic.db, coordinator, signed.summary.id, "Called; still keen.")
    assert [a.text for a in second.addenda] == ["Correction: 2 veneers 😀", "Called; still keen."]
    assert [a.author for a in second.addenda] == ["Paula Provider", "Cora Coordinator"]
    assert first.addenda[0].created_at >= signed.summary.signed_at
    assert second.fields == signed.fields  # the note itself is untouched
    assert notes.list_notes(clinic.db, coordinator, patient_id)[0].addenda_count == 2


@pytest.mark.parametrize(
    "text,field",
    [("", "text"), ("  \x00\x07 ", "text"), ("x" * (notes.ADDENDUM_MAX + 1), "text")],
)
def test_bad_addenda_are_refused(
    clinic, coordinator, provider, patient_id, provider_id, text, field
):
    signed = signed_note(clinic, coordinator, provider, patient_id, provider_id)
    with pytest.raises(ValidationError) as raised:
        notes.add_addendum(clinic.db, coordinator, signed.summary.id, text)
    assert raised.value.field == field


def test_no_addendum_on_a_draft(clinic, coordinator, patient_id):
    note = notes.start_note(clinic.db, coordinator, patient_id)
    with pytest.raises(ValidationError, match="still a draft"):
        notes.add_addendum(clinic.db, coordinator, note.summary.id, "too early")


def test_thinking_it_over_creates_a_follow_up_task_due_then(
    clinic, coordinator, provider, patient_id, provider_id, clinic_day
):
    due = clinic_day + timedelta(days=2)
    note = notes.start_note(clinic.db, coordinator, patient_id)
    notes.save_draft(
        clinic.db,
        coordinator,
        note.summary.id,
        complete(provider_id, decision="thinking_it_over", follow_up_on=due),
    )
    assert tasks.list_tasks(clinic.db, coordinator, patient_id=patient_id) == []
    notes.sign_note(clinic.db, provider, note.summary.id)
    (task,) = tasks.list_tasks(clinic.db, coordinator, patient_id=patient_id)
    assert task.due_on == due and task.kind == "follow_up"
    assert task.assignee == "Cora Coordinator"
    with clinic.db.uow() as session:
        assert session.scalar(select(Task.consultation_note_id)) == note.summary.id


@pytest.mark.parametrize("decision", ["accepted", "declined", ""])
def test_other_decisions_create_no_task(
    clinic, coordinator, provider, patient_id, provider_id, decision
):
    note = notes.start_note(clinic.db, coordinator, patient_id)
    fields = complete(provider_id, decision=decision, decline_reason="cost")
    notes.save_draft(clinic.db, coordinator, note.summary.id, fields)
    notes.sign_note(clinic.db, provider, note.summary.id)
    assert tasks.list_tasks(clinic.db, coordinator, patient_id=patient_id) == []


def test_receptionist_sees_that_a_note_exists_but_not_its_body(
    clinic, coordinator, provider, receptionist, patient_id, provider_id
):
    signed = signed_note(clinic, coordinator, provider, patient_id, provider_id)
    (summary,) = notes.list_notes(clinic.db, receptionist, patient_id)
    assert summary.id == signed.summary.id and summary.status == "signed"
    assert not hasattr(summary, "fields") and not hasattr(summary, "body")
    with pytest.raises(PermissionDeniedError, match="read consultation notes"):
        notes.open_note(clinic.db, receptionist, signed.summary.id)


@pytest.mark.parametrize(
    "who,call",
    [
        ("receptionist", "start"),
        ("receptionist", "save"),
        ("receptionist", "addendum"),
        ("receptionist", "sign"),
        ("coordinator", "sign"),
    ],
)
def test_roles_without_permission_are_refused(
    clinic, coordinator, receptionist, patient_id, who, call
):
    actor = {"receptionist": receptionist, "coordinator": coordinator}[who]
    note = notes.start_note(clinic.db, coordinator, patient_id)
    calls = {
        "start": lambda: notes.start_note(clinic.db, actor, patient_id),
        "save": lambda: notes.save_draft(clinic.db, actor, note.summary.id, NoteFields()),
        "addendum": lambda: notes.add_addendum(clinic.db, actor, note.summary.id, "x"),
        "sign": lambda: notes.sign_note(clinic.db, actor, note.summary.id),
    }
    with pytest.raises(PermissionDeniedError):
        calls[call]()


def test_every_opening_of_a_note_body_is_audited(clinic, coordinator, provider, patient_id):
    note = notes.start_note(clinic.db, coordinator, patient_id)

    def openings():
        with clinic.db.uow() as session:
            return session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "record_opened",
                    AuditEntry.entity == "consultation_notes",
                )
            ).all()

    assert openings() == []
    notes.open_note(clinic.db, coordinator, note.summary.id)
    notes.open_note(clinic.db, provider, note.summary.id)
    rows = openings()
    assert [r.username for r in rows] == ["cora", "paula"]
    assert {(r.entity_id, r.patient_id) for r in rows} == {(note.summary.id, patient_id)}


def test_list_notes_is_newest_first_and_per_patient(clinic, coordinator, patient_id):
    other = add_named_patient(clinic.db, "Ana", "Other")
    first = notes.start_note(clinic.db, coordinator, patient_id)
    second = notes.start_note(clinic.db, coordinator, patient_id)
    notes.start_note(clinic.db, coordinator, other)
    with clinic.db.uow() as session:
        session.execute(
            update(ConsultationNote)
            .where(ConsultationNote.id == first.summary.id)
            .values(created_at=utc_now() - timedelta(days=1))
        )
    listed = notes.list_notes(clinic.db, coordinator, patient_id)
    assert [n.id for n in listed] == [second.summary.id, first.summary.id]


@pytest.mark.parametrize(
    "stage,expected",
    [
        ("inquiry", "consultation"),
        ("consultation", "consultation"),
        ("booked", "booked"),  # never backwards
        ("lost", "lost"),  # never out of lost automatically
    ],
)
def test_starting_a_note_moves_the_journey_on(clinic, coordinator, patient_id, stage, expected):
    with clinic.db.uow() as session:
        reason = "moved away" if stage == "lost" else ""
        session.execute(
            update(Patient)
            .where(Patient.id == patient_id)
            .values(journey_stage=stage, journey_reason=reason)
        )
    notes.start_note(clinic.db, coordinator, patient_id)
    with clinic.db.uow() as session:
        assert session.get(Patient, patient_id).journey_stage == expected


def test_missing_patient_and_note_give_clear_errors(clinic, coordinator):
    with pytest.raises(NotFoundError, match="patient"):
        notes.start_note(clinic.db, coordinator, 4242)
    with pytest.raises(NotFoundError, match="note"):
        notes.open_note(clinic.db, coordinator, 4242)
    with pytest.raises(NotFoundError, match="note"):
        notes.save_draft(clinic.db, coordinator, 4242, NoteFields())
