"""The record's care path: a three-phase implant plan and a referral out to an oral surgeon
and back, walked through the services day by day (a frozen clock), then read as the summary
of what is open — which phase, which provider, what waits on whom — and one dated list of
every step, newest first, as each role may see it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from app.data.models.appointments import Appointment
from app.data.models.notes import ConsultationNote
from app.data.models.patients import Patient
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.providers import Provider
from app.data.models.tasks import Task
from app.services.clinic import permissions
from app.services.clinic.permissions import Permission
from app.services.errors import NotFoundError, PermissionDeniedError
from app.services.patients.care_timeline import care_timeline
from app.services.referrals import referrals as rs
from tests.data.factories import add_appointment, add_patient, add_provider, add_service
from tests.services.referral_world import add_contact, small_pdf

pytestmark = pytest.mark.both_backends

TODAY = date(2026, 12, 7)


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10 am in New York."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


class Care:
    """Ana's care: Dr. Okafor's three-phase implant plan and Dr. Ann Lee's oral surgery."""

    def __init__(self, clinic, owner, make_staff, frozen_clock) -> None:
        self.db, self.owner, self.clock = clinic.db, owner, frozen_clock
        self.cora = make_staff("cora", "coordinator", "Cora Coordinator")
        self.okafor_login = make_staff("drokafor", "provider", "Daniel Okafor")
        self.rita = make_staff("rita", "receptionist", "Rita Reception")
        with self.db.uow() as s:
            ana = add_patient(s, first_name="Ana", last_name="Ruiz")
            self.patient_id = ana.id
            okafor = add_provider(s, name="Daniel Okafor", staff_id=self.okafor_login.staff_id)
            self.okafor = okafor.id
            self.mina = add_provider(s, name="Mina Park").id
            self.services = {
                name: add_service(s, name=name).id
                for name in ("Extraction", "Implant placement", "Crown")
            }
        self.surgeon = add_contact(self.db)
        self.referrer = add_contact(self.db, kind="referring_provider", name="Dr. Maria Ruiz",
                                    organisation="Ruiz Family Dentistry")  # fmt: skip

    def on(self, day: date, hour: int = 15) -> None:
        self.clock(at(day, hour))

    # --- the plan ---------------------------------------------------------------------------

    def plan(self) -> None:
        """Presented Oct 20 by Cora, accepted Oct 22; the extraction done on Nov 2 (phase
        1), the implant booked with Dr. Park on Dec 10 (phase 2), the crown not booked."""
        with self.db.uow() as s:
            plan = TreatmentPlan(patient_id=self.patient_id, provider_id=self.okafor,
                                 title="Implant and crown", status="in_progress",
                                 created_by_id=self.cora.staff_id,
                                 presented_by_id=self.cora.staff_id,
                                 presented_at=at(d(10, 20)), decided_at=at(d(10, 22)))  # fmt: skip
            s.add(plan)
            s.flush()
            self.plan_id = plan.id
            phases = []
            for n, title in enumerate(("Extraction", "Implant placement", "Crown")):
                phase = TreatmentPhase(plan_id=plan.id, position=n, title=title,
                                       status="completed" if n == 0 else "accepted")  # fmt: skip
                s.add(phase)
                s.flush()
                phases.append(phase)
            ana = s.get(Patient, self.patient_id)
            okafor, park = s.get(Provider, self.okafor), s.get(Provider, self.mina)
            extraction = add_appointment(
                s, ana, okafor,
                service_id=self.services["Extraction"], treatment_phase_id=phases[0].id,
                starts_at=at(d(11, 2)), ends_at=at(d(11, 2)) + timedelta(minutes=45),
                status="completed",
            )  # fmt: skip
            s.add(TreatmentItem(phase_id=phases[0].id, description="Extraction #14",
                                service_id=self.services["Extraction"], status="completed",
                                completed_appointment_id=extraction.id,
                                completed_at=at(d(11, 2), 16)))  # fmt: skip
            s.add(TreatmentItem(phase_id=phases[1].id, description="Implant #14",
                                service_id=self.services["Implant placement"],
                                status="scheduled"))  # fmt: skip
            s.add(TreatmentItem(phase_id=phases[2].id, description="Crown #14",
                                service_id=self.services["Crown"], status="accepted"))  # fmt: skip
            self.implant_visit = add_appointment(
                s, ana, park,
                service_id=self.services["Implant placement"], treatment_phase_id=phases[1].id,
                starts_at=at(d(12, 10)), ends_at=at(d(12, 10)) + timedelta(hours=1),
                created_at=at(d(11, 20)),
            ).id  # fmt: skip
            # A cleaning that had nothing to do with the plan, and a visit she missed.
            add_appointment(s, ana, okafor,
                            starts_at=at(d(9, 14)), ends_at=at(d(9, 14)) + timedelta(minutes=30),
                            status="completed")  # fmt: skip
            add_appointment(s, ana, okafor,
                            starts_at=at(d(11, 9)), ends_at=at(d(11, 9)) + timedelta(minutes=30),
                            status="no_show")  # fmt: skip
            s.add(ConsultationNote(patient_id=self.patient_id, provider_id=self.okafor,
                                   author_id=self.okafor_login.staff_id,
                                   consulted_at=at(d(10, 19)),
                                   reason="Missing #14, wants a fixed tooth",
                                   body="Discussed bridge vs implant at length.",
                                   status="signed", signed_by_id=self.okafor_login.staff_id,
                                   signed_at=at(d(10, 19), 17)))  # fmt: skip

    # --- the referral, through the service -------------------------------------------------

    def referral_to(self, stage: str) -> rs.ReferralLine:
        """Out to Dr. Ann Lee on Oct 21, walked up to ``stage``: booked on Oct 23 for Oct 28,
        seen then (recorded Oct 29), the report filed Nov 3, acknowledged and closed Nov 4.
        "booked ahead" books Dec 14 instead, a visit still to come."""
        db, cora = self.db, self.cora
        self.on(d(10, 21))
        line = rs.create_outgoing(db, cora, patient_id=self.patient_id, contact_id=self.surgeon,
                                  provider_id=self.okafor,
                                  reason="Extraction of #14 with bone graft")  # fmt: skip
        if stage == "draft":
            return line
        line = rs.mark_sent(db, cora, line.id, version=line.version, via="fax")
        if stage == "sent":
            return line
        self.on(d(10, 23))
        visit = d(12, 14) if stage == "booked ahead" else d(10, 28)
        line = rs.record_booked(db, cora, line.id, version=line.version, visit_on=visit)
        if stage in ("booked", "booked ahead"):
            return line
        self.on(d(10, 29))
        line = rs.record_seen(db, cora, line.id, version=line.version, seen_on=d(10, 28))
        if stage == "seen":
            return line
        self.on(d(11, 3))
        line = rs.file_report(db, cora, line.id, version=line.version, filename="lee.pdf",
                              content=small_pdf(), received_on=d(11, 3))  # fmt: skip
        if stage == "report_received":
            return line
        self.on(d(11, 4))
        line = rs.acknowledge_report(db, self.okafor_login, line.id, version=line.version)
        if stage == "acknowledged":
            return line
        return rs.close_referral(db, cora, line.id, version=line.version)

    def incoming_to(self, stage: str) -> rs.ReferralLine:
        db, cora = self.db, self.cora
        self.on(d(11, 30))
        line = rs.create_incoming(db, cora, referrer_contact_id=self.referrer,
                                  patient_id=self.patient_id, new_patient=None,
                                  reason="Implant consultation",
                                  provider_id=self.okafor)  # fmt: skip
        if stage == "received":
            return line
        line = rs.record_booked(db, cora, line.id, version=line.version, visit_on=d(12, 3))
        if stage == "booked":
            return line
        self.on(d(12, 3))
        return rs.record_seen(db, cora, line.id, version=line.version, seen_on=d(12, 3))

    def read(self, actor=None):
        self.on(TODAY, 17)
        return care_timeline(self.db, actor or self.cora, self.patient_id, today=TODAY)


@pytest.fixture
def care(clinic, owner, make_staff, frozen_clock) -> Care:
    return Care(clinic, owner, make_staff, frozen_clock)


def _summary(timeline) -> list[tuple[str, str, str]]:
    return [(t.title, t.where, t.waiting_on) for t in timeline.threads]


# --- what each open thread waits on -----------------------------------------------------------

SURGEON = "Referral to Dr. Ann Lee, Lee Oral Surgery"
RUIZ = "Referral from Dr. Maria Ruiz, Ruiz Family Dentistry"


@pytest.mark.parametrize(
    ("stage", "where", "waiting_on"),
    [
        ("draft", "Draft", "us to send the referral"),
        ("sent", "Sent", "the specialist's office to book"),
        ("booked ahead", "Visit booked", "the patient to attend"),
        ("booked", "Visit booked", "the specialist's report"),  # the visit day is past
        ("seen", "Seen", "the specialist's report"),
        ("report_received", "Report received", "Dr. Daniel Okafor to acknowledge the report"),
        ("acknowledged", "Report received", "us to close the referral"),
    ],
)
def test_an_open_referral_out_says_what_it_waits_on(care, stage, where, waiting_on):
    care.referral_to(stage)
    (thread,) = care.read().threads
    assert (thread.kind, thread.title, thread.waiting_on) == ("referral", SURGEON, waiting_on)
    assert thread.where.startswith(f"{where} · ") and thread.where.endswith("Dr. Daniel Okafor")


@pytest.mark.parametrize(
    ("stage", "where", "waiting_on"),
    [
        ("received", "Received", "us to book the consultation"),
        ("booked", "Visit booked", "the patient to attend"),
        ("seen", "Seen", "us to send the consult letter"),
    ],
)
def test_an_open_referral_in_says_what_it_waits_on(care, stage, where, waiting_on):
    care.incoming_to(stage)
    (thread,) = [t for t in care.read().threads if t.kind == "referral"]
    assert (thread.title, thread.waiting_on) == (RUIZ, waiting_on)
    assert thread.where.startswith(f"{where} · ")


def test_days_in_stage_and_overdue_come_from_the_referral_service(care):
    care.referral_to("sent")  # sent Oct 21, never booked: 47 days on Dec 7
    (thread,) = care.read().threads
    assert thread.where == "Sent · 47 days in this stage · Dr. Daniel Okafor"
    assert thread.overdue == "No visit booked 47 days after sending"


def test_a_closed_referral_leaves_the_summary_but_not_the_timeline(care):
    care.referral_to("closed")
    timeline = care.read()
    assert timeline.threads == ()
    assert [s.what for s in timeline.steps if s.thread_title == SURGEON][:3] == [
        "Referral closed",
        "Report acknowledged",
        "Report received on Nov 3, 2026",
    ]


# --- the plan's phase -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "where", "waiting_on", "next_visit", "not_scheduled"),
    [
        (None, "Phase 2 of 3: Implant placement · Dr. Mina Park", "the patient to attend",
         d(12, 10), False),
        ("implant cancelled", "Phase 2 of 3: Implant placement · Dr. Daniel Okafor",
         "us to book phase 2", None, True),
        ("implant done", "Phase 3 of 3: Crown · Dr. Daniel Okafor", "us to book phase 3", None,
         True),
        ("crown declined", "Phase 2 of 2: Implant placement · Dr. Mina Park",
         "the patient to attend", d(12, 10), False),
    ],
)  # fmt: skip
def test_an_open_plan_says_its_phase_provider_and_next_visit(
    care, change, where, waiting_on, next_visit, not_scheduled
):
    care.plan()
    with care.db.uow() as s:
        implant = s.get(Appointment, care.implant_visit)
        phases = {
            p.title: p
            for p in s.query(TreatmentPhase).filter(TreatmentPhase.plan_id == care.plan_id)
        }
        if change == "implant cancelled":
            implant.status = "cancelled"
        elif change == "implant done":
            implant.starts_at = at(d(12, 1))
            implant.ends_at = at(d(12, 1), 16)
            implant.status = "completed"
            for item in phases["Implant placement"].items:
                item.status, item.completed_at = "completed", at(d(12, 1), 16)
                item.completed_appointment_id = implant.id
        elif change == "crown declined":
            phases["Crown"].status = "declined"
    (thread,) = care.read().threads
    assert (thread.title, thread.where, thread.waiting_on) == (
        "Implant and crown",
        where,
        waiting_on,
    )
    assert (thread.next_visit_on, thread.not_scheduled) == (next_visit, not_scheduled)


def test_a_presented_plan_waits_on_the_patient(care):
    care.plan()
    with care.db.uow() as s:
        plan = s.get(TreatmentPlan, care.plan_id)
        plan.status, plan.decided_at = "presented", None
    (thread,) = care.read().threads
    assert (thread.where, thread.waiting_on) == (
        "Presented, 3 phases · Dr. Daniel Okafor",
        "the patient to decide",
    )


# --- one timeline -----------------------------------------------------------------------------


def test_a_multi_phase_plan_and_a_referral_out_and_back_read_as_one_timeline(care):
    care.plan()
    care.referral_to("report_received")
    with care.db.uow() as s:
        s.add(Task(kind="call", title="Call Ana about the implant date",
                   patient_id=care.patient_id, due_on=d(12, 4),
                   assignee_id=care.cora.staff_id))  # fmt: skip
        s.add(Task(kind="call", title="Send the post-op instructions", patient_id=care.patient_id,
                   status="done", completed_at=at(d(11, 3), 18),
                   completed_by_id=care.rita.staff_id))  # fmt: skip
    timeline = care.read()

    assert _summary(timeline) == [
        (SURGEON, "Report received · 34 days in this stage · Dr. Daniel Okafor",
         "Dr. Daniel Okafor to acknowledge the report"),
        ("Implant and crown", "Phase 2 of 3: Implant placement · Dr. Mina Park",
         "the patient to attend"),
        ("Call Ana about the implant date", "Task", "Cora Coordinator"),
    ]  # fmt: skip
    assert timeline.threads[2].overdue == "3 days past its due date"
    plan = "Plan: Implant and crown"
    steps = [(s.on, s.thread_title, s.who, s.what) for s in timeline.steps]
    assert steps == [
        (d(11, 9), "Visits", "Dr. Daniel Okafor", "Missed a visit"),
        (d(11, 3), "Tasks", "Rita Reception", "Task done: Send the post-op instructions"),
        (d(11, 3), SURGEON, "Cora Coordinator", "Report received on Nov 3, 2026"),
        (d(11, 2), plan, "Dr. Daniel Okafor", "Phase 1 of 3 completed: Extraction"),
        (d(11, 2), plan, "Dr. Daniel Okafor", "Seen: Extraction (phase 1 of 3)"),
        (d(10, 29), SURGEON, "Cora Coordinator", "Patient seen on Oct 28, 2026"),
        (d(10, 23), SURGEON, "Cora Coordinator", "Visit booked for Oct 28, 2026"),
        (d(10, 22), plan, "", "Plan accepted"),
        (d(10, 21), SURGEON, "Cora Coordinator", "Sent on Oct 21, 2026: Fax"),
        (d(10, 21), SURGEON, "Cora Coordinator", "Referral drafted"),
        (d(10, 20), plan, "Cora Coordinator", "Plan presented: Implant and crown (3 phases)"),
        (d(10, 19), "Consultations", "Dr. Daniel Okafor",
         "Consultation: Missing #14, wants a fixed tooth"),
        (d(9, 14), "Visits", "Dr. Daniel Okafor", "Seen for a visit"),
    ]  # fmt: skip
    # The booked implant visit is ahead: in the summary, not among the steps taken.
    assert not any("Implant placement" in s.what for s in timeline.steps)


def test_each_role_sees_what_it_may(care, monkeypatch):
    care.plan()
    receptionist = care.read(care.rita)
    # The desk sees that a consultation took place, not what it was about.
    assert "Consultation" in [s.what for s in receptionist.steps]
    assert not any("Missing #14" in s.what for s in receptionist.steps)
    # No amount of money anywhere, for anyone.
    for actor in (care.owner, care.cora, care.rita):
        timeline = care.read(actor)
        texts = [s.what for s in timeline.steps] + [t.where for t in timeline.threads]
        assert not any("$" in text for text in texts)
    # A role without the right to see plans gets no plan, nor the book without the book's.
    granted = permissions.ROLE_PERMISSIONS["receptionist"]
    monkeypatch.setitem(
        permissions.ROLE_PERMISSIONS,
        permissions.Role.RECEPTIONIST,
        granted - {Permission.VIEW_PLANS, Permission.VIEW_SCHEDULE},
    )
    limited = care.read(care.rita)
    assert limited.threads == ()
    assert [s.thread for s in limited.steps] == ["notes"]


def test_a_patient_with_nothing_going_on_has_an_empty_path(clinic, owner):
    with clinic.db.uow() as s:
        patient_id = add_patient(s).id
    timeline = care_timeline(clinic.db, owner, patient_id, today=TODAY)
    assert timeline.is_empty and timeline.threads == () and timeline.steps == ()


def test_an_unknown_patient_or_a_stranger_is_refused(clinic, owner, care):
    with pytest.raises(NotFoundError, match="no longer exists"):
        care_timeline(clinic.db, owner, 999_999, today=TODAY)
    care.plan()
    granted = permissions.ROLE_PERMISSIONS["receptionist"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(permissions.ROLE_PERMISSIONS, permissions.Role.RECEPTIONIST,
                   granted - {Permission.VIEW_PATIENTS})  # fmt: skip
        with pytest.raises(PermissionDeniedError):
            care_timeline(clinic.db, care.rita, care.patient_id, today=TODAY)


def test_the_path_is_read_in_a_handful_of_queries_however_long_it_is(care):
    def count_queries() -> int:
        statements: list[str] = []

        def seen(conn, cursor, statement, *args):
            statements.append(statement)

        engine = care.db.engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            care.read(care.cora)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    care.plan()
    care.referral_to("closed")
    few = count_queries()
    for _ in range(4):
        care.referral_to("report_received")
    with care.db.uow() as s:
        for n in range(10):
            s.add(Task(title=f"Task {n}", patient_id=care.patient_id))
    assert count_queries() == few <= 20
