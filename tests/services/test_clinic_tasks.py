"""The clinic's task list: each view's rule and its count agree, the order, search and kind,
what a task is about, and the writes (assign, priority, due date, reopen, cancel) with their
refusals — each bad input a sentence naming its field, nothing changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy, PreAuthorization
from app.data.models.plans import TreatmentPlan
from app.data.models.referrals import Referral
from app.data.models.tasks import Task
from app.services.clinic import catalog, staff
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.patients import tasks
from tests.data.factories import add_patient

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
STRONG = "blue tulips on friday 9"


@pytest.fixture
def cora(clinic, owner):
    return staff.create_staff(clinic.db, owner, "cora", "Cora Coordinator", "coordinator", STRONG)


@pytest.fixture
def queue(clinic, owner, cora, patient_id):
    """Six tasks, one of each kind of place in the views."""
    db = clinic.db
    made = {
        "mine_late": dict(title="Mine, late", due_on=TODAY - timedelta(days=1),
                          assignee_id=owner.staff_id),
        "mine_later": dict(title="Mine, later", due_on=TODAY + timedelta(days=5),
                           assignee_id=owner.staff_id, priority="low"),
        "cora_today": dict(title="Cora's, today", due_on=TODAY, assignee_id=cora.id,
                           priority="high"),
        "anyone_today": dict(title="Anyone's, today", due_on=TODAY, patient_id=patient_id),
        "anyone_undated": dict(title="Anyone's, undated"),
        "done": dict(title="Finished", due_on=TODAY - timedelta(days=3)),
    }  # fmt: skip
    ids = {key: tasks.add_task(db, owner, **values).id for key, values in made.items()}
    tasks.complete_task(db, owner, ids["done"])
    with db.uow() as s:
        s.get(Task, ids["done"]).completed_at = NOW - timedelta(days=1)
        auto = Task(title="Automatic", automatic_key="post_treatment_call:appointment:9",
                    due_on=TODAY, kind="follow_up")  # fmt: skip
        s.add(auto)
        s.flush()
        ids["automatic"] = auto.id
    return ids


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "view,expected",
    [
        ("mine", ["mine_late", "mine_later"]),
        ("due", ["mine_late", "anyone_today", "automatic"]),
        ("unassigned", ["anyone_today", "automatic", "anyone_undated"]),
        ("overdue", ["mine_late"]),
        ("follow_ups", ["automatic"]),
        ("all_open", ["mine_late", "cora_today", "anyone_today", "automatic", "mine_later",
                      "anyone_undated"]),
        ("done_recently", ["done"]),
    ],
)  # fmt: skip
def test_each_view_and_its_count(clinic, owner, queue, view, expected):
    lines = tasks.clinic_tasks(clinic.db, owner, view=view, today=TODAY, now=NOW)
    assert [line.id for line in lines] == [queue[key] for key in expected]
    counts = tasks.clinic_task_counts(clinic.db, owner, today=TODAY, now=NOW)
    assert counts[view] == len(expected)


def test_done_recently_forgets_after_two_weeks(clinic, owner, queue):
    later = NOW + timedelta(days=tasks.DONE_RECENTLY_DAYS + 1)
    assert tasks.clinic_tasks(clinic.db, owner, view="done_recently", now=later) == []


@pytest.mark.both_backends
def test_search_kind_and_paging(clinic, owner, queue):
    found = tasks.clinic_tasks(clinic.db, owner, view="all_open", search="nguy", today=TODAY)
    assert [line.title for line in found] == ["Anyone's, today"]  # the patient's name
    found = tasks.clinic_tasks(clinic.db, owner, view="all_open", search="CORA today", today=TODAY)
    assert [line.title for line in found] == ["Cora's, today"]
    assert tasks.clinic_tasks(clinic.db, owner, view="all_open", search="100%", today=TODAY) == []
    found = tasks.clinic_tasks(clinic.db, owner, view="all_open", kind="follow_up", today=TODAY)
    assert [line.title for line in found] == ["Automatic"]
    page = tasks.clinic_tasks(clinic.db, owner, view="all_open", offset=2, limit=2, today=TODAY)
    assert [line.title for line in page] == ["Anyone's, today", "Automatic"]
    counts = tasks.clinic_task_counts(clinic.db, owner, search="mine", today=TODAY, now=NOW)
    assert counts["all_open"] == 2 and counts["mine"] == 2 and counts["unassigned"] == 0


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"view": "someday"}, "view"),
        ({"view": "mine", "kind": "chores"}, "kind"),
        ({"view": "mine", "search": "x" * 101}, "search"),
    ],
)
def test_bad_list_requests_are_refused(clinic, owner, kwargs, field):
    with pytest.raises(ValidationError) as raised:
        tasks.clinic_tasks(clinic.db, owner, **kwargs)
    assert raised.value.field == field and str(raised.value)


@pytest.mark.both_backends
def test_what_a_task_is_about_in_words(clinic, owner, patient_id):
    with clinic.db.uow() as s:
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        surgeon = Contact(kind="specialist", organisation="Bay Oral Surgery", name="Dr Lee")
        s.add_all([payer, surgeon])
        s.flush()
        policy = InsurancePolicy(patient_id=patient_id, payer_id=payer.id, plan_name="PPO",
                                 member_id="X1")  # fmt: skip
        plan = TreatmentPlan(patient_id=patient_id, title="Implant #30")
        auth = PreAuthorization(patient_id=patient_id, procedure="Crown #14")
        referral = Referral(patient_id=patient_id, direction="outgoing", contact_id=surgeon.id,
                            referred_on=TODAY)  # fmt: skip
        s.add_all([policy, plan, auth, referral])
        s.flush()
        links = {
            "insurance_policy_id": policy.id,
            "treatment_plan_id": plan.id,
            "preauthorization_id": auth.id,
            "referral_id": referral.id,
        }
    abouts = {
        field: tasks.add_task(clinic.db, owner, title="t", **{field: value}).about
        for field, value in links.items()
    }
    assert abouts == {
        "insurance_policy_id": "Insurance: Delta Dental — PPO",
        "treatment_plan_id": "Treatment plan: Implant #30",
        "preauthorization_id": "Pre-authorization: Crown #14",
        "referral_id": "Referral to Dr Lee, Bay Oral Surgery",
    }
    # Given no patient, a task about a plan is that plan's patient's.
    line = tasks.add_task(clinic.db, owner, title="t", treatment_plan_id=links["treatment_plan_id"])
    assert line.patient_id == patient_id and line.patient_name == "Nguyễn, Zoë"
    plain = tasks.add_task(clinic.db, owner, title="t", patient_id=patient_id)
    assert plain.about == "Nguyễn, Zoë"


def test_a_page_of_lines_is_a_few_queries_however_many_tasks(clinic, owner, cora):
    with clinic.db.uow() as s:
        patients = [add_patient(s).id for _ in range(30)]
        for n, pid in enumerate(patients):
            s.add(Task(title=f"Task {n}", patient_id=pid, assignee_id=cora.id, due_on=TODAY))
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    engine = clinic.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        lines = tasks.clinic_tasks(clinic.db, owner, view="all_open", today=TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(lines) == 30 and all(line.assignee == "Cora Coordinator" for line in lines)
    assert len(statements) < 20  # not one or more per task


# --- writes -------------------------------------------------------------------------------------


def test_assign_priority_due_cancel_reopen(clinic, owner, cora, patient_id):
    line = tasks.add_task(clinic.db, owner, title="Call back", patient_id=patient_id)
    line = tasks.assign_task(clinic.db, owner, line.id, cora.id, version=line.version)
    assert (line.assignee, line.assignee_id) == ("Cora Coordinator", cora.id)
    line = tasks.set_task_priority(clinic.db, owner, line.id, "high", version=line.version)
    assert line.priority == "high"
    line = tasks.set_task_due(clinic.db, owner, line.id, TODAY, version=line.version)
    assert line.due_on == TODAY
    line = tasks.assign_task(clinic.db, owner, line.id, None, version=line.version)
    assert line.assignee_id is None and line.assignee == ""
    line = tasks.cancel_task(clinic.db, owner, line.id, "  Patient moved  ", version=line.version)
    assert (line.status, line.resolution, line.completed_by) == (
        "cancelled",
        "Patient moved",
        "Olivia Owner",
    )
    line = tasks.reopen_task(clinic.db, owner, line.id, version=line.version)
    assert (line.status, line.resolution, line.completed_at) == ("open", "", None)


def test_a_stale_copy_is_refused_and_changes_nothing(clinic, owner, patient_id):
    line = tasks.add_task(clinic.db, owner, title="Call back", patient_id=patient_id)
    tasks.set_task_priority(clinic.db, owner, line.id, "high", version=line.version)
    for write in (
        lambda: tasks.set_task_priority(clinic.db, owner, line.id, "low", version=line.version),
        lambda: tasks.complete_task(clinic.db, owner, line.id, version=line.version),
        lambda: tasks.cancel_task(clinic.db, owner, line.id, "why", version=line.version),
    ):
        with pytest.raises(ConcurrentEditError):
            write()
    (now,) = tasks.list_tasks(clinic.db, owner)
    assert (now.priority, now.status) == ("high", "open")


@pytest.mark.parametrize(
    "write,field,words",
    [
        (lambda db, a, t, x: tasks.assign_task(db, a, t, x["inactive"]), "assignee_id",
         "no longer active"),
        (lambda db, a, t, x: tasks.assign_task(db, a, t, "cora"), "assignee_id", "Choose"),
        (lambda db, a, t, x: tasks.set_task_due(db, a, t, "tomorrow"), "due_on", "a date"),
        (lambda db, a, t, x: tasks.set_task_due(db, a, t, datetime(2030, 1, 1)), "due_on",
         "a date"),
        (lambda db, a, t, x: tasks.set_task_priority(db, a, t, "urgent"), "priority",
         "high, normal or low"),
        (lambda db, a, t, x: tasks.cancel_task(db, a, t, "   "), "reason", "Type the reason"),
        (lambda db, a, t, x: tasks.cancel_task(db, a, t, "r" * 201), "reason", "201"),
    ],
)  # fmt: skip
def test_bad_writes_are_refused_with_their_field(clinic, owner, write, field, words):
    db = clinic.db
    gone = staff.create_staff(db, owner, "gone", "Gone Person", "receptionist", STRONG)
    staff.set_active(db, owner, gone.id, False)
    line = tasks.add_task(db, owner, title="Call back")
    with pytest.raises(ValidationError) as raised:
        write(db, owner, line.id, {"inactive": gone.id})
    assert raised.value.field == field and words in str(raised.value)
    assert tasks.list_tasks(db, owner) == [line]


def test_add_task_refuses_a_title_too_long_and_a_link_of_another_patient(clinic, owner, patient_id):
    with pytest.raises(ValidationError) as raised:
        tasks.add_task(clinic.db, owner, title="t" * 201)
    assert raised.value.field == "title" and "201" in str(raised.value)
    with clinic.db.uow() as s:
        other = add_patient(s)
        plan = TreatmentPlan(patient_id=other.id, title="Theirs")
        s.add(plan)
        s.flush()
        plan_id = plan.id
    with pytest.raises(ValidationError) as raised:
        tasks.add_task(
            clinic.db, owner, title="t", patient_id=patient_id, treatment_plan_id=plan_id
        )
    assert raised.value.field == "treatment_plan_id" and "another patient's" in str(raised.value)
    with pytest.raises(ValidationError) as raised:
        tasks.add_task(clinic.db, owner, title="t", referral_id=9999)
    assert raised.value.field == "referral_id"
    with pytest.raises(ValidationError) as raised:
        tasks.add_task(clinic.db, owner, title="t", priority="asap")
    assert raised.value.field == "priority"
    assert tasks.list_tasks(clinic.db, owner, open_only=False) == []


def test_closed_tasks_are_reopened_before_they_change(clinic, owner, cora):
    line = tasks.add_task(clinic.db, owner, title="Call back")
    tasks.complete_task(clinic.db, owner, line.id)
    for write in (
        lambda: tasks.assign_task(clinic.db, owner, line.id, cora.id),
        lambda: tasks.set_task_priority(clinic.db, owner, line.id, "high"),
        lambda: tasks.set_task_due(clinic.db, owner, line.id, TODAY),
        lambda: tasks.cancel_task(clinic.db, owner, line.id, "no"),
    ):
        with pytest.raises(ValidationError, match="reopen it"):
            write()
    with pytest.raises(NotFoundError):
        tasks.reopen_task(clinic.db, owner, 99_999)


def test_a_provider_reads_tasks_but_does_not_change_them(clinic, owner, make_staff):
    line = tasks.add_task(clinic.db, owner, title="Call back")
    provider = make_staff("pat", "provider")
    assert [t.id for t in tasks.clinic_tasks(clinic.db, provider, view="all_open")] == [line.id]
    with pytest.raises(PermissionDeniedError):
        tasks.assign_task(clinic.db, provider, line.id, provider.staff_id)


def test_a_services_follow_up_call_round_trips_and_is_checked(clinic, owner):
    saved = catalog.save_service(
        clinic.db, owner, catalog.ServiceData("Extraction", follow_up_call_days=2)
    )
    assert saved.follow_up_call_days == 2
    with clinic.db.uow() as s:
        from app.data.models.providers import Service

        assert s.scalar(select(Service.follow_up_call_days)) == 2
    for bad in (-1, 366, "2"):
        with pytest.raises(ValidationError) as raised:
            catalog.save_service(
                clinic.db, owner, catalog.ServiceData("X", follow_up_call_days=bad)
            )
        assert raised.value.field == "follow_up_call_days"


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "offset,limit,expected",
    [
        (4, 2, ["mine_later", "anyone_undated"]),  # a page across dated and undated
        (5, 5, ["anyone_undated"]),  # a page of undated ones only
        (6, 5, []),
        (0, None, ["mine_late", "cora_today", "anyone_today", "automatic", "mine_later",
                   "anyone_undated"]),
    ],
)  # fmt: skip
def test_pages_follow_one_order_across_dated_and_undated(
    clinic, owner, queue, offset, limit, expected
):
    page = tasks.clinic_tasks(
        clinic.db, owner, view="all_open", offset=offset, limit=limit, today=TODAY
    )
    assert [line.id for line in page] == [queue[key] for key in expected]
