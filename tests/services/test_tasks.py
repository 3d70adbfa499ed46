"""The task queue: adding, ordering, completing; bad input is refused with its field."""

from datetime import date, datetime

import pytest
from sqlalchemy import update

from app.data.models.tasks import Task
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import tasks


def test_task_for_a_patient_round_trips(clinic, owner, make_staff, patient_id):
    cora = make_staff("cora", "coordinator", "Cora Coordinator")
    line = tasks.add_task(
        clinic.db,
        owner,
        title="  Call   back about 😀 veneers ",
        patient_id=patient_id,
        due_on=date(2030, 5, 1),
        assignee_id=cora.staff_id,
        kind="call",
    )
    assert line.title == "Call back about 😀 veneers"
    assert (line.patient_name, line.assignee, line.kind, line.status) == (
        "Nguyễn, Zoë",
        "Cora Coordinator",
        "call",
        "open",
    )
    assert tasks.list_tasks(clinic.db, owner, patient_id=patient_id) == [line]


def test_open_tasks_come_soonest_due_first_undated_last(clinic, owner, patient_id):
    for title, due in [
        ("later", date(2030, 2, 1)),
        ("undated", None),
        ("sooner", date(2030, 1, 1)),
    ]:
        tasks.add_task(clinic.db, owner, title=title, due_on=due)
    assert [t.title for t in tasks.list_tasks(clinic.db, owner)] == ["sooner", "later", "undated"]


def test_completed_tasks_leave_the_open_list(clinic, owner, patient_id):
    done = tasks.add_task(clinic.db, owner, title="Send X-rays", patient_id=patient_id)
    keep = tasks.add_task(clinic.db, owner, title="Chase referral", patient_id=patient_id)
    completed = tasks.complete_task(clinic.db, owner, done.id)
    assert completed.status == "done"
    assert [t.id for t in tasks.list_tasks(clinic.db, owner)] == [keep.id]
    everything = tasks.list_tasks(clinic.db, owner, open_only=False)
    assert [t.id for t in everything] == [keep.id, done.id]
    # Completing twice changes nothing.
    assert tasks.complete_task(clinic.db, owner, done.id) == completed


def test_cancelled_task_cannot_be_completed(clinic, owner):
    line = tasks.add_task(clinic.db, owner, title="Old")
    with clinic.db.uow() as session:
        session.execute(update(Task).where(Task.id == line.id).values(status="cancelled"))
    with pytest.raises(ValidationError, match="canceled"):
        tasks.complete_task(clinic.db, owner, line.id)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"title": ""}, "title"),
        ({"title": "\x00\x07  "}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "ok", "kind": "chores"}, "kind"),
        ({"title": "ok", "due_on": "tomorrow"}, "due_on"),
        ({"title": "ok", "due_on": datetime(2030, 1, 1)}, "due_on"),
        ({"title": "ok", "assignee_id": 999}, "assignee_id"),
    ],
)
def test_bad_tasks_are_refused_with_their_field(clinic, owner, kwargs, field):
    with pytest.raises(ValidationError) as raised:
        tasks.add_task(clinic.db, owner, **kwargs)
    assert raised.value.field == field and str(raised.value)
    assert tasks.list_tasks(clinic.db, owner, open_only=False) == []


def test_control_characters_in_a_title_become_spaces(clinic, owner):
    line = tasks.add_task(clinic.db, owner, title="Call\tMrs\x00 Lee\nre: bill")
    assert line.title == "Call Mrs Lee re: bill"


def test_missing_things_and_permissions(clinic, owner, make_staff):
    provider = make_staff("paula", "provider")
    with pytest.raises(NotFoundError, match="patient"):
        tasks.add_task(clinic.db, owner, title="x", patient_id=999)
    with pytest.raises(NotFoundError, match="task"):
        tasks.complete_task(clinic.db, owner, 999)
    with pytest.raises(PermissionDeniedError):
        tasks.add_task(clinic.db, provider, title="x")
    assert tasks.list_tasks(clinic.db, provider) == []


def _task_about(db, patient_id, referral_id) -> int:
    with db.uow() as session:
        task = Task(kind="referral", title="Send", patient_id=patient_id, referral_id=referral_id)
        session.add(task)
        session.flush()
        return task.id


def test_task_line_carries_its_referral_and_whether_it_has_a_letter(clinic, owner, patient_id):
    from tests.services.test_referral_letters import add_referral

    outgoing = add_referral(clinic.db, patient_id)
    incoming = add_referral(clinic.db, patient_id, direction="incoming")
    no_specialist = add_referral(clinic.db, patient_id, contact_id=None)
    for referral_id in (outgoing, incoming, no_specialist):
        _task_about(clinic.db, patient_id, referral_id)
    plain = tasks.add_task(clinic.db, owner, title="Call back", patient_id=patient_id)
    assert (plain.referral_id, plain.referral_letter_ready) == (None, False)
    lines = tasks.list_tasks(clinic.db, owner, patient_id=patient_id)
    by_referral = {line.referral_id: line.referral_letter_ready for line in lines}
    assert by_referral == {outgoing: True, incoming: False, no_specialist: False, None: False}
