"""The referral service: every status change through one table, each write's event, audit,
communication-log entry and task; overdue rules at their day edges; bad input refused with
its sentence and nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.data.models import AuditEntry
from app.data.models.communications import CommunicationEntry
from app.data.models.contacts import Contact
from app.data.models.documents import StoredDocument
from app.data.models.referrals import Referral, ReferralEvent
from app.data.models.tasks import Task
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.referrals import core, stages
from app.services.referrals import referrals as rs
from tests.data.factories import add_named_patient
from tests.services.referral_world import World, add_contact, make_world, small_pdf, small_png

#: The clinic's clock for these tests: 10 March 2026, mid-morning in New York.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)


@pytest.fixture
def world(clinic, owner, make_staff, patient_id, frozen_clock) -> World:
    frozen_clock(NOW)
    return make_world(clinic, owner, make_staff, patient_id, TODAY)


def rows(db, model, *where) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(db, referral_id: int | None = None) -> tuple:
    """Everything a refused write must leave as it was."""
    counts = tuple(
        rows(db, model)
        for model in (Referral, ReferralEvent, StoredDocument, Task, CommunicationEntry)
    )
    if referral_id is None:
        return counts
    with db.uow() as session:
        r = session.get(Referral, referral_id)
        return (*counts, r.status, r.version, r.contact_id, r.visit_on, r.seen_on)


# --- the table ----------------------------------------------------------------------------------

O, I = "outgoing", "incoming"  # noqa: E741 (the table reads better with one letter)
ALL = (
    "draft",
    "received",
    "sent",
    "booked",
    "seen",
    "report_received",
    "closed",
    "declined",
    "cancelled",
)
#: The contract's table, written out again: a change to stages.TRANSITIONS must be meant.
ALLOWED = {
    (O, "draft"): {"sent", "cancelled"},
    (O, "sent"): {"booked", "declined", "cancelled"},
    (O, "booked"): {"seen", "booked", "cancelled"},
    (O, "seen"): {"report_received", "cancelled"},
    (O, "report_received"): {"closed"},
    (I, "received"): {"booked", "declined", "cancelled"},
    (I, "booked"): {"seen", "booked", "cancelled"},
    (I, "seen"): {"closed"},
}
FROM = {O: ("draft", "sent", "booked", "seen", "report_received", "closed", "declined",
            "cancelled"),
        I: ("received", "booked", "seen", "closed", "declined", "cancelled")}  # fmt: skip


def test_the_transition_table_is_the_contracts():
    for direction, froms in FROM.items():
        for status in froms:
            assert stages.TRANSITIONS[(direction, status)] == frozenset(
                ALLOWED.get((direction, status), set())
            ), (direction, status)
    assert set(stages.TRANSITIONS) == {(d, s) for d, froms in FROM.items() for s in froms}


@pytest.mark.parametrize("direction", [O, I])
def test_move_follows_the_table_for_every_pair(world, direction):
    """Every (from, to) pair through the one status-change function: allowed ones move and
    write one event; refused ones say so and change nothing."""
    for from_status in FROM[direction]:
        for to_status in ALL:
            referral_id = _referral_in(world, direction, from_status)
            allowed = to_status in ALLOWED.get((direction, from_status), set())
            with world.db.uow() as session:
                referral = session.get(Referral, referral_id)
                if allowed:
                    event = core.move(session, None, referral, to_status, note="x")
                    assert (event.from_status, event.to_status, event.kind) == (
                        from_status,
                        to_status,
                        "status",
                    )
                    assert referral.status == to_status
                else:
                    with pytest.raises(ValidationError) as refused:
                        core.move(session, None, referral, to_status)
                    assert str(refused.value).startswith("This referral is ")
                    assert referral.status == from_status


def _referral_in(world: World, direction: str, status: str, **values) -> int:
    """A referral row put straight into ``status`` with the dates that status implies."""
    today = world.today
    fields = {
        "patient_id": world.patient_id,
        "direction": direction,
        "contact_id": world.specialist_id if direction == O else world.referrer_id,
        "provider_id": world.provider_id,
        "status": status,
        "reason": "Assessment",
        "referred_on": today - timedelta(days=20),
        "status_changed_at": NOW - timedelta(days=1),
    }
    if status not in ("draft", "received"):
        fields["sent_at"] = NOW - timedelta(days=19)
    if status in ("booked", "seen", "report_received", "closed"):
        fields["visit_on"] = today - timedelta(days=5)
    if status in ("seen", "report_received", "closed"):
        fields["seen_on"] = today - timedelta(days=5)
    fields.update(values)
    with world.db.uow() as session:
        referral = Referral(**fields)
        session.add(referral)
        session.flush()
        return referral.id


def _call(world: World, referral_id: int, to_status: str):
    """The service function that moves a referral to ``to_status``."""
    db, actor, today = world.db, world.coordinator, world.today
    with db.uow() as session:
        version = session.get(Referral, referral_id).version
    match to_status:
        case "sent":
            return rs.mark_sent(db, actor, referral_id, version=version, via="fax")
        case "booked":
            return rs.record_booked(db, actor, referral_id, version=version, visit_on=today)
        case "seen":
            return rs.record_seen(db, actor, referral_id, version=version, seen_on=today)
        case "report_received":
            return rs.file_report(
                db,
                actor,
                referral_id,
                version=version,
                filename="report.pdf",
                content=small_pdf(),
                received_on=today,
            )
        case "closed":
            return rs.close_referral(db, actor, referral_id, version=version)
        case "declined":
            return rs.decline_referral(db, actor, referral_id, version=version, reason="No")
        case "cancelled":
            return rs.cancel_referral(db, actor, referral_id, version=version, reason="No")
    raise AssertionError(to_status)


SERVICE_TARGETS = ("sent", "booked", "seen", "report_received", "closed", "declined", "cancelled")


@pytest.mark.parametrize(
    ("direction", "from_status"), [(d, s) for d, froms in FROM.items() for s in froms]
)
def test_each_service_step_is_allowed_or_refused_as_the_table_says(world, direction, from_status):
    for to_status in SERVICE_TARGETS:
        if direction == I and to_status == "report_received":
            continue  # a report is filed only to a referral we sent: its own test
        extra = {}
        if from_status == "report_received":
            extra["report_acknowledged_at"] = NOW
        referral_id = _referral_in(world, direction, from_status, **extra)
        allowed = to_status in ALLOWED.get((direction, from_status), set())
        # Filing a report to a referral still "Visit booked" records it seen first.
        via_seen = (direction, from_status, to_status) == (O, "booked", "report_received")
        before = snapshot(world.db, referral_id)
        if allowed or via_seen:
            line = _call(world, referral_id, to_status)
            assert line.status == to_status
            with world.db.uow() as session:
                moves = session.scalars(
                    select(ReferralEvent.to_status)
                    .where(ReferralEvent.referral_id == referral_id)
                    .order_by(ReferralEvent.id)
                ).all()
            assert moves == (["seen", to_status] if via_seen else [to_status])
        else:
            with pytest.raises(ValidationError) as refused:
                _call(world, referral_id, to_status)
            message = str(refused.value)
            assert message.startswith("This referral is "), message
            assert snapshot(world.db, referral_id) == before


def test_a_refusal_is_said_in_the_coordinators_words(world):
    closed = _referral_in(world, O, "closed", closed_on=world.today)
    with pytest.raises(ValidationError, match=r"^This referral is closed; a report cannot be "):
        _call(world, closed, "report_received")
    draft = _referral_in(world, O, "draft")
    with pytest.raises(ValidationError) as refused:
        _call(world, draft, "seen")
    assert str(refused.value) == (
        "This referral is at “Draft”; the patient cannot be recorded as seen on it now. "
        "Next step: send the referral."
    )


# --- each write: event, audit, communication log ---------------------------------------------


def _events(db, referral_id):
    with db.uow() as session:
        return session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.id)
        ).all()


def _audited(db, referral_id, action="update") -> list[str]:
    with db.uow() as session:
        return session.scalars(
            select(AuditEntry.fields).where(
                AuditEntry.entity == "referrals",
                AuditEntry.entity_id == referral_id,
                AuditEntry.action == action,
            )
        ).all()


def _communications(db, patient_id):
    with db.uow() as session:
        return [
            (c.channel, c.direction, c.purpose, c.contact_id, c.summary, c.outcome)
            for c in session.scalars(
                select(CommunicationEntry)
                .where(CommunicationEntry.patient_id == patient_id)
                .order_by(CommunicationEntry.id)
            )
        ]


@pytest.mark.both_backends
def test_drafting_defaults_the_due_date_by_urgency_and_writes_the_first_event(world):
    with world.db.uow() as session:
        from app.data.models.clinic import ClinicSettings

        settings = session.get(ClinicSettings, 1)
        settings.referral_visit_days_soon = 10
    line = world.outgoing(urgency="soon")
    assert line.visit_due_on == world.today + timedelta(days=10)
    assert (line.status, line.referred_on, line.contact_name, line.provider_name) == (
        "draft",
        world.today,
        "Dr. Ann Lee, Lee Oral Surgery",
        "Dr. Daniel Okafor",
    )
    routine = world.outgoing()
    assert routine.visit_due_on == world.today + timedelta(days=30)
    (event,) = _events(world.db, line.id)
    assert (event.kind, event.from_status, event.to_status, event.by_id) == (
        "status",
        None,
        "draft",
        world.coordinator.staff_id,
    )
    assert _audited(world.db, line.id, "create")


@pytest.mark.both_backends
def test_sending_is_dated_logged_with_the_contact_and_audited(world):
    line = world.outgoing()
    sent_on = world.today
    sent = rs.mark_sent(
        world.db, world.coordinator, line.id, version=line.version, via="fax", sent_on=sent_on
    )
    assert (sent.status, sent.sent_via, sent.sent_on, sent.days_in_stage) == (
        "sent",
        "fax",
        sent_on,
        0,
    )
    event = _events(world.db, line.id)[-1]
    assert (event.from_status, event.to_status, event.on_date, event.note) == (
        "draft",
        "sent",
        sent_on,
        "Fax",
    )
    assert any("status" in fields for fields in _audited(world.db, line.id))
    assert _communications(world.db, world.patient_id) == [
        (
            "letter",
            "outbound",
            "referral",
            world.specialist_id,
            f"Referral #{line.id} sent by fax to Dr. Ann Lee, Lee Oral Surgery.",
            None,
        )
    ]
    detail = rs.referral_detail(world.db, world.owner, line.id)
    assert [e.text for e in detail.events] == [
        "Referral drafted",
        f"Sent on {_medium(sent_on)}: Fax",
    ]
    assert detail.events[-1].by_name == "Cora Coordinator"


def _medium(day: date) -> str:
    from app.i18n import format_date

    return format_date(day, "en_US")


def test_booking_again_keeps_the_earlier_date_on_the_timeline(world):
    line = world.walk(world.outgoing(), "booked")
    later = world.today + timedelta(days=9)
    again = rs.record_booked(
        world.db, world.coordinator, line.id, version=line.version, visit_on=later
    )
    assert again.visit_on == later
    detail = rs.referral_detail(world.db, world.owner, line.id)
    assert detail.events[-1].text == (
        f"Visit booked again for {_medium(later)}: was {_medium(world.today)}"
    )


def test_calls_and_reminders_go_on_the_timeline_and_in_the_log(world):
    line = world.walk(world.outgoing(), "sent")
    call = rs.log_referral_call(
        world.db, world.coordinator, line.id, note="Left a message with reception", reached=False
    )
    assert (call.kind, call.by_name) == ("call", "Cora Coordinator")
    assert call.text == "Call logged: not reached: Left a message with reception"
    reminder = rs.record_reminder(world.db, world.coordinator, line.id, note="Faxed again")
    assert reminder.text == "Reminder sent to the other office: Faxed again"
    log = _communications(world.db, world.patient_id)
    assert log[-2] == (
        "call",
        "outbound",
        "referral",
        world.specialist_id,
        f"Call to Dr. Ann Lee, Lee Oral Surgery about referral #{line.id} (not reached): "
        "Left a message with reception",
        "no_answer",
    )
    assert log[-1][:4] == ("letter", "outbound", "referral", world.specialist_id)
    assert log[-1][4] == (
        f"Reminder sent to Dr. Ann Lee, Lee Oral Surgery about referral #{line.id}. Faxed again"
    )
    # Neither is a status change: the referral stays where it was.
    assert rs.referral_detail(world.db, world.owner, line.id).line.status == "sent"


def test_a_call_needs_a_note_and_a_reminder_an_open_referral(world):
    line = world.walk(world.outgoing(), "sent")
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError, match="Type the note of the call"):
        rs.log_referral_call(world.db, world.coordinator, line.id, note="  ", reached=True)
    assert snapshot(world.db, line.id) == before
    closed = world.walk(world.outgoing(), "cancelled")
    before = snapshot(world.db, closed.id)
    with pytest.raises(ValidationError, match="nothing to remind"):
        rs.record_reminder(world.db, world.coordinator, closed.id)
    assert snapshot(world.db, closed.id) == before


# --- the report, its task, the acknowledgement, the close -------------------------------------


def _tasks(db, referral_id):
    with db.uow() as session:
        return [
            (t.kind, t.status, t.assignee_id, t.resolution, t.patient_id)
            for t in session.scalars(
                select(Task).where(Task.referral_id == referral_id).order_by(Task.id)
            )
        ]


@pytest.mark.both_backends
def test_a_filed_report_becomes_a_task_for_the_provider_then_closes_the_loop(world):
    line = world.walk(world.outgoing(urgency="urgent"), "seen")
    filed = rs.file_report(
        world.db,
        world.coordinator,
        line.id,
        version=line.version,
        filename="C:\\scans\\Lee report.pdf",
        content=small_pdf(),
        received_on=world.today,
    )
    assert (filed.status, filed.report_received_on) == ("report_received", world.today)
    assert filed.next_action == "Provider to acknowledge the report"
    with world.db.uow() as session:
        document = session.get(StoredDocument, filed.report_document_id)
        assert (document.patient_id, document.filename, document.mime_type) == (
            world.patient_id,
            "Lee report.pdf",
            "application/pdf",
        )
        task = session.scalars(select(Task).where(Task.referral_id == line.id)).one()
        assert (task.kind, task.priority, task.title) == (
            "report_review",
            "high",
            f"Read and acknowledge the specialist's report (referral #{line.id})",
        )
    assert _tasks(world.db, line.id) == [
        ("report_review", "open", world.provider_actor.staff_id, "", world.patient_id)
    ]
    # Not closed before the provider has read it.
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError, match="has not been acknowledged yet"):
        rs.close_referral(world.db, world.coordinator, line.id, version=filed.version)
    assert snapshot(world.db, line.id) == before

    acknowledged = rs.acknowledge_report(
        world.db, world.provider_actor, line.id, version=filed.version
    )
    assert acknowledged.report_acknowledged_by == "Daniel Okafor"
    assert acknowledged.next_action == "Close the referral"
    assert _tasks(world.db, line.id) == [
        (
            "report_review",
            "done",
            world.provider_actor.staff_id,
            "Report acknowledged",
            world.patient_id,
        )
    ]
    closed = rs.close_referral(world.db, world.coordinator, line.id, version=acknowledged.version)
    assert (closed.status, closed.closed_on, closed.next_action) == (
        "closed",
        world.today,
        "",
    )
    texts = [e.text for e in rs.referral_detail(world.db, world.owner, line.id).events]
    assert texts[-3:] == [
        f"Report received on {_medium(world.today)}",
        "Note: Report acknowledged",
        "Referral closed",
    ]


def test_the_review_task_is_unassigned_when_the_provider_has_no_login(world):
    with world.db.uow() as session:
        from app.data.models.providers import Provider

        session.get(Provider, world.provider_id).staff_id = None
    line = world.walk(world.outgoing(), "report_received")
    assert _tasks(world.db, line.id) == [("report_review", "open", None, "", world.patient_id)]


def test_a_report_to_a_booked_referral_records_the_visit_first(world):
    line = world.walk(world.outgoing(), "booked")
    filed = _call(world, line.id, "report_received")
    assert (filed.status, filed.seen_on) == ("report_received", world.today)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("provider_actor", True), ("owner", True), ("coordinator", False), ("receptionist", False)],
)
def test_only_a_provider_or_the_owner_acknowledges_a_report(world, who, allowed):
    line = world.walk(world.outgoing(), "report_received")
    actor = getattr(world, who)
    if allowed:
        done = rs.acknowledge_report(world.db, actor, line.id, version=line.version)
        assert done.report_acknowledged_at is not None
    else:
        before = snapshot(world.db, line.id)
        with pytest.raises(PermissionDeniedError, match="acknowledge a specialist's report"):
            rs.acknowledge_report(world.db, actor, line.id, version=line.version)
        assert snapshot(world.db, line.id) == before


def test_a_report_is_acknowledged_once(world):
    line = world.walk(world.outgoing(), "report_received")
    done = rs.acknowledge_report(world.db, world.owner, line.id, version=line.version)
    with pytest.raises(ValidationError, match="already acknowledged"):
        rs.acknowledge_report(world.db, world.owner, line.id, version=done.version)


@pytest.mark.parametrize("end", ["cancel", "decline"])
def test_ending_a_referral_cancels_its_open_tasks_with_the_reason(world, end):
    line = world.walk(world.outgoing(), "sent")
    with world.db.uow() as session:
        session.add(Task(title="Chase Lee", kind="referral", referral_id=line.id))
    function = rs.cancel_referral if end == "cancel" else rs.decline_referral
    ended = function(
        world.db, world.coordinator, line.id, version=line.version, reason="Went elsewhere"
    )
    word = "canceled" if end == "cancel" else "declined"
    assert (ended.outcome_reason, ended.closed_on) == ("Went elsewhere", world.today)
    assert _tasks(world.db, line.id) == [
        ("referral", "cancelled", None, f"Referral {word}: Went elsewhere", None)
    ]
    assert _events(world.db, line.id)[-1].note == "Went elsewhere"


# --- bad input: a sentence, and nothing changed ------------------------------------------------


def test_an_inactive_merged_or_payer_contact_is_refused(world):
    inactive = add_contact(world.db, name="Dr. Old", is_active=False)
    kept = add_contact(world.db, name="Dr. Kept", organisation="")
    merged = add_contact(world.db, name="Dr. Twin", organisation="", is_active=False,
                         merged_into_id=kept)  # fmt: skip
    payer = add_contact(world.db, kind="payer", name="", organisation="Delta Dental")
    cases = [
        (inactive, "“Dr. Old, Lee Oral Surgery” is no longer an active contact"),
        (merged, "“Dr. Twin” was merged into “Dr. Kept”; choose “Dr. Kept” instead."),
        (payer, "“Delta Dental” is an insurance payer; a referral goes to a specialist"),
        (999_999, "That contact no longer exists."),
    ]
    for contact_id, message in cases:
        before = snapshot(world.db)
        with pytest.raises(ValidationError) as refused:
            world.outgoing(contact_id=contact_id)
        assert message in str(refused.value)
        assert refused.value.field == "contact_id"
        assert snapshot(world.db) == before


def test_a_contact_merged_while_a_draft_points_at_it_stops_the_sending(world):
    line = world.outgoing()
    kept = add_contact(world.db, name="Dr. Ann Lee", organisation="Lee Surgery Group")
    with world.db.uow() as session:
        contact = session.get(Contact, world.specialist_id)
        contact.is_active = False
        contact.merged_into_id = kept
    assert rs.referral_detail(world.db, world.owner, line.id).line.contact_usable is False
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError, match=r"was merged into “Dr\. Ann Lee, Lee Surgery Group”"):
        rs.mark_sent(world.db, world.coordinator, line.id, version=line.version, via="fax")
    assert snapshot(world.db, line.id) == before


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"visit_due_on": "yesterday"}, "visit_due_on", "The visit due date is in the past"),
        ({"urgency": "whenever"}, "urgency", "Choose routine, soon or urgent."),
        ({"provider_id": 999_999}, "provider_id", "That provider does not exist"),
        ({"document_ids": ["other"]}, "document_ids", "is not in this patient's record"),
        ({"note_ids": ["draft"]}, "note_ids", "is not signed yet"),
        ({"reason": "x" * 4_001}, "reason", "reason for referral is 4,001 characters long"),
    ],
)
def test_bad_draft_input_is_refused_with_its_field(world, values, field, message):
    values = dict(values)
    if values.get("visit_due_on") == "yesterday":
        values["visit_due_on"] = world.today - timedelta(days=1)
    if values.get("document_ids") == ["other"]:
        other = add_named_patient(world.db, "Otto", "Other")
        with world.db.uow() as session:
            document = StoredDocument(
                patient_id=other,
                kind="scan",
                filename="x.png",
                mime_type="image/png",
                content=small_png(),
                sha256="0" * 64,
                size_bytes=10,
            )
            session.add(document)
            session.flush()
            values["document_ids"] = [document.id]
    if values.get("note_ids") == ["draft"]:
        values["note_ids"] = [_note(world, signed=False)]
    before = snapshot(world.db)
    with pytest.raises(ValidationError) as refused:
        world.outgoing(**values)
    assert message in str(refused.value)
    assert refused.value.field == field
    assert snapshot(world.db) == before


def _note(world: World, *, signed: bool = True, patient_id: int | None = None) -> int:
    from app.data.models.notes import ConsultationNote

    with world.db.uow() as session:
        note = ConsultationNote(
            patient_id=patient_id or world.patient_id,
            provider_id=world.provider_id,
            author_id=world.provider_actor.staff_id,
            reason="Pain at 38",
            treatments_discussed="Extraction",
            status="signed" if signed else "draft",
            signed_by_id=world.provider_actor.staff_id if signed else None,
            signed_at=NOW if signed else None,
        )
        session.add(note)
        session.flush()
        return note.id


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"The report file is empty \(0 bytes\); scan or save it again\."),
        (b"PK\x03\x04 a word file", "The report file is not a PDF, PNG or JPEG"),
    ],
)
def test_an_empty_or_foreign_report_file_is_refused(world, content, message):
    line = world.walk(world.outgoing(), "seen")
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError, match=message):
        rs.file_report(
            world.db,
            world.coordinator,
            line.id,
            version=line.version,
            filename="report.pdf",
            content=content,
            received_on=world.today,
        )
    assert snapshot(world.db, line.id) == before


def test_a_report_filed_to_a_closed_referral_is_refused(world):
    line = world.walk(world.outgoing(), "closed")
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError) as refused:
        rs.file_report(
            world.db,
            world.coordinator,
            line.id,
            version=line.version,
            filename="late.pdf",
            content=small_pdf(),
            received_on=world.today,
        )
    assert str(refused.value) == "This referral is closed; a report cannot be filed to it."
    assert snapshot(world.db, line.id) == before


def test_a_stale_version_is_refused_and_changes_nothing(world):
    line = world.outgoing()
    rs.update_draft(
        world.db,
        world.coordinator,
        line.id,
        version=line.version,
        contact_id=world.specialist_id,
        provider_id=world.provider_id,
        reason="Changed meanwhile",
        urgency="routine",
        document_ids=(),
        note_ids=(),
        attached_records="",
        visit_due_on=None,
        notes="",
    )
    before = snapshot(world.db, line.id)
    with pytest.raises(ConcurrentEditError, match="This referral was changed"):
        rs.mark_sent(world.db, world.coordinator, line.id, version=line.version, via="fax")
    assert snapshot(world.db, line.id) == before


@pytest.mark.parametrize("function", [rs.cancel_referral, rs.decline_referral])
def test_ending_needs_a_reason(world, function):
    line = world.walk(world.outgoing(), "sent")
    before = snapshot(world.db, line.id)
    with pytest.raises(ValidationError, match=r"Type the reason it was (canceled|declined)\."):
        function(world.db, world.coordinator, line.id, version=line.version, reason=" \t ")
    assert snapshot(world.db, line.id) == before


def test_dates_that_cannot_be_are_refused(world):
    line = world.walk(world.outgoing(), "booked")
    tomorrow = world.today + timedelta(days=1)
    with pytest.raises(ValidationError, match="day the patient was seen cannot be in the future"):
        rs.record_seen(world.db, world.coordinator, line.id, version=line.version, seen_on=tomorrow)
    early = world.today - timedelta(days=400)
    with pytest.raises(ValidationError, match="cannot be before the referral was made"):
        rs.record_seen(world.db, world.coordinator, line.id, version=line.version, seen_on=early)
    draft = world.outgoing()
    with pytest.raises(ValidationError, match="day it was sent cannot be in the future"):
        rs.mark_sent(
            world.db, world.coordinator, draft.id, version=draft.version, via="fax",
            sent_on=tomorrow,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="Choose how the referral went"):
        rs.mark_sent(world.db, world.coordinator, draft.id, version=draft.version, via="pigeon")


def test_a_draft_without_a_specialist_or_reason_cannot_be_sent(world):
    unaddressed = world.outgoing(contact_id=None)
    with pytest.raises(ValidationError, match="Choose the specialist"):
        rs.mark_sent(
            world.db, world.coordinator, unaddressed.id, version=unaddressed.version, via="fax"
        )
    blank = world.outgoing(reason="")
    with pytest.raises(ValidationError, match="Type the reason for referral before sending"):
        rs.mark_sent(world.db, world.coordinator, blank.id, version=blank.version, via="fax")


def test_only_a_draft_can_be_changed(world):
    line = world.walk(world.outgoing(), "sent")
    with pytest.raises(ValidationError, match="no longer a draft"):
        rs.update_draft(
            world.db,
            world.coordinator,
            line.id,
            version=line.version,
            contact_id=world.specialist_id,
            provider_id=None,
            reason="x",
            urgency="routine",
            document_ids=(),
            note_ids=(),
            attached_records="",
            visit_due_on=None,
            notes="",
        )


def test_the_records_picked_can_change_while_a_draft(world):
    first, second = _note(world), _note(world)
    line = world.outgoing(note_ids=[first])
    changed = rs.update_draft(
        world.db,
        world.coordinator,
        line.id,
        version=line.version,
        contact_id=world.specialist_id,
        provider_id=world.provider_id,
        reason="Same",
        urgency="urgent",
        document_ids=(),
        note_ids=(second,),
        attached_records="Study models",
        visit_due_on=world.today + timedelta(days=2),
        notes="",
    )
    assert (changed.urgency, changed.visit_due_on) == ("urgent", world.today + timedelta(days=2))
    detail = rs.referral_detail(world.db, world.owner, changed.id)
    assert [(r.kind, r.id) for r in detail.records] == [("note", second)]
    assert detail.attached_records == "Study models"
    # Changing only the records picked is a change another open form must hear of.
    only_records = rs.update_draft(
        world.db,
        world.coordinator,
        line.id,
        version=changed.version,
        contact_id=world.specialist_id,
        provider_id=world.provider_id,
        reason="Same",
        urgency="urgent",
        document_ids=(),
        note_ids=(first, second),
        attached_records="Study models",
        visit_due_on=world.today + timedelta(days=2),
        notes="",
    )
    assert only_records.version > changed.version


def test_the_desk_may_not_change_referrals(world):
    with pytest.raises(PermissionDeniedError, match="manage referrals"):
        rs.create_outgoing(
            world.db,
            world.receptionist,
            patient_id=world.patient_id,
            contact_id=world.specialist_id,
            provider_id=None,
            reason="x",
        )


def test_an_unknown_referral_is_not_found(world):
    with pytest.raises(NotFoundError, match=r"This referral no longer exists\."):
        rs.referral_detail(world.db, world.owner, 424_242)


# --- what may go with a referral -------------------------------------------------------------


def test_record_choices_are_the_patients_documents_and_signed_notes(world, make_staff):
    signed, _draft = _note(world), _note(world, signed=False)
    other = add_named_patient(world.db, "Otto", "Other")
    _note(world, patient_id=other)
    with world.db.uow() as session:
        session.add(
            StoredDocument(
                patient_id=world.patient_id,
                kind="scan",
                filename="pano.png",
                mime_type="image/png",
                content=small_png(),
                sha256="1" * 64,
                size_bytes=10,
            )
        )
    choices = rs.record_choices(world.db, world.coordinator, world.patient_id)
    assert [(c.kind, c.title) for c in choices] == [
        ("document", "pano.png"),
        ("note", "Consultation note with Dr. Daniel Okafor: Pain at 38"),
    ]
    assert choices[1].id == signed
    # The desk sees that there is a note, not what it says.
    desk = rs.record_choices(world.db, world.receptionist, world.patient_id)
    assert desk[1].title == "Consultation note with Dr. Daniel Okafor"


# --- the open list --------------------------------------------------------------------------


@dataclass
class Facts:
    direction: str
    status: str
    referred_on: date
    sent_on: date | None = None
    visit_due_on: date | None = None
    visit_on: date | None = None
    seen_on: date | None = None


@dataclass
class Days:
    referral_booking_days: int = 7
    referral_report_days: int = 14


D0 = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("facts", "today", "reason"),
    [
        # Sent, no visit booked: on time through the 7th day, overdue on the 8th.
        (Facts(O, "sent", D0, sent_on=D0), D0 + timedelta(7), ""),
        (Facts(O, "sent", D0, sent_on=D0), D0 + timedelta(8),
         "No visit booked 8 days after sending"),
        # Booked: the report is due 14 days after the visit.
        (Facts(O, "booked", D0, sent_on=D0, visit_on=D0 + timedelta(5)), D0 + timedelta(19), ""),
        (Facts(O, "booked", D0, sent_on=D0, visit_on=D0 + timedelta(5)), D0 + timedelta(20),
         "No report 15 days after the visit"),
        # Seen: counted from the day seen.
        (Facts(O, "seen", D0, visit_on=D0, seen_on=D0 + timedelta(1)), D0 + timedelta(15), ""),
        (Facts(O, "seen", D0, visit_on=D0, seen_on=D0 + timedelta(1)), D0 + timedelta(16),
         "No report 15 days after the visit"),
        # The due date passed, not seen.
        (Facts(O, "draft", D0, visit_due_on=D0 + timedelta(3)), D0 + timedelta(3), ""),
        (Facts(O, "draft", D0, visit_due_on=D0 + timedelta(3)), D0 + timedelta(4),
         "Not seen, 1 day past the due date"),
        (Facts(O, "booked", D0, visit_on=D0 + timedelta(30), visit_due_on=D0 + timedelta(10)),
         D0 + timedelta(12), "Not seen, 2 days past the due date"),
        # Report received, or finished: never overdue.
        (Facts(O, "report_received", D0, visit_on=D0, seen_on=D0), D0 + timedelta(99), ""),
        (Facts(O, "closed", D0, sent_on=D0), D0 + timedelta(99), ""),
        (Facts(O, "cancelled", D0, sent_on=D0), D0 + timedelta(99), ""),
        # Incoming: the consultation to book within 7 days of receiving.
        (Facts(I, "received", D0), D0 + timedelta(7), ""),
        (Facts(I, "received", D0), D0 + timedelta(8),
         "No consultation booked 8 days after it came"),
        (Facts(I, "booked", D0, visit_on=D0 + timedelta(1)), D0 + timedelta(60), ""),
        (Facts(I, "declined", D0), D0 + timedelta(60), ""),
    ],
)  # fmt: skip
def test_overdue_rules_at_their_day_edges(facts, today, reason):
    assert stages.overdue_reason(facts, today, Days()) == reason


@pytest.mark.parametrize(
    ("direction", "status", "acknowledged", "action"),
    [
        (O, "draft", False, "Send the referral"),
        (O, "sent", False, "Call the specialist's office to book"),
        (O, "booked", False, "Confirm the patient was seen"),
        (O, "seen", False, "Get the specialist's report"),
        (O, "report_received", False, "Provider to acknowledge the report"),
        (O, "report_received", True, "Close the referral"),
        (O, "closed", True, ""),
        (I, "received", False, "Book the consultation"),
        (I, "booked", False, "Confirm the patient was seen"),
        (I, "seen", False, "Send the consult letter and close"),
        (I, "cancelled", False, ""),
    ],
)
def test_the_next_action_of_each_stage(direction, status, acknowledged, action):
    assert stages.next_action(direction, status, report_acknowledged=acknowledged) == action


@pytest.mark.both_backends
def test_open_referrals_overdue_first_then_longest_in_stage(world):
    today = world.today
    quiet = _referral_in(world, O, "draft", status_changed_at=NOW)
    old_draft = _referral_in(world, O, "draft", status_changed_at=NOW - timedelta(days=30))
    overdue = _referral_in(
        world, O, "sent", sent_at=NOW - timedelta(days=10),
        status_changed_at=NOW - timedelta(days=10),
    )  # fmt: skip
    incoming = _referral_in(
        world, I, "received", referred_on=today - timedelta(days=2),
        status_changed_at=NOW - timedelta(days=2),
    )  # fmt: skip
    _referral_in(world, O, "closed")
    _referral_in(world, I, "cancelled")

    lines = rs.open_referrals(world.db, world.coordinator, today=today)
    assert [line.id for line in lines] == [overdue, old_draft, incoming, quiet]
    assert lines[0].overdue_reason == "No visit booked 10 days after sending"
    assert [line.days_in_stage for line in lines] == [10, 30, 2, 0]

    only = rs.open_referrals(world.db, world.coordinator, overdue_only=True, today=today)
    assert [line.id for line in only] == [overdue]
    drafts = rs.open_referrals(world.db, world.coordinator, stage="draft", today=today)
    assert [line.id for line in drafts] == [old_draft, quiet]
    ins = rs.open_referrals(world.db, world.coordinator, direction=I, today=today)
    assert [line.id for line in ins] == [incoming]
    page = rs.open_referrals(world.db, world.coordinator, offset=1, limit=2, today=today)
    assert [line.id for line in page] == [old_draft, incoming]
    # A day later the received one is still on time; eight days later it is overdue too.
    later = rs.open_referrals(world.db, world.coordinator, today=today + timedelta(days=6))
    assert [line.id for line in later][:2] == [overdue, incoming]

    counts = rs.open_referral_counts(world.db, world.coordinator, today=today)
    assert counts == {
        "draft": 2,
        "received": 1,
        "sent": 1,
        "booked": 0,
        "seen": 0,
        "report_received": 0,
        "overdue": 1,
    }


@pytest.mark.both_backends
def test_open_referrals_search_patient_contact_and_reason(world):
    other = add_named_patient(world.db, "Otto", "Other")
    with world.db.uow() as session:
        from app.data.models.patients import Patient
        from app.services.patients.search import index_patient

        index_patient(session, session.get(Patient, world.patient_id))
    ruiz = add_contact(world.db, name="Dr. Maria Ruiz", organisation="Ruiz Endo")
    mine = _referral_in(world, O, "sent", reason="Root canal on 36")
    theirs = _referral_in(world, O, "sent", patient_id=other, contact_id=ruiz, reason="Implant")
    search = {
        "nguyễn": [mine],
        "ZOË NGUYEN": [mine],
        "OTHER, otto": [theirs],
        "ruiz endo": [theirs],
        "root canal": [mine],
        "lee oral": [mine],
        "nobody": [],
    }
    for words, expected in search.items():
        found = rs.open_referrals(world.db, world.coordinator, search=words, today=world.today)
        assert [line.id for line in found] == expected, words


def test_open_referrals_refuse_an_unknown_stage(world):
    with pytest.raises(ValidationError, match="is not a stage of a referral"):
        rs.open_referrals(world.db, world.coordinator, stage="lost")


def test_patient_referrals_newest_first_in_and_out(world):
    first = world.outgoing()
    second = world.incoming()
    other = add_named_patient(world.db, "Otto", "Other")
    _referral_in(world, O, "draft", patient_id=other)
    lines = rs.patient_referrals(world.db, world.receptionist, world.patient_id)
    assert [(line.id, line.direction) for line in lines] == [(second.id, I), (first.id, O)]
    assert lines[0].contact_name == "Dr. Maria Ruiz, Ruiz Family Dentistry"
