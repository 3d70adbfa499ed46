"""The front desk's day: the board's stages and waiting times, what a patient arriving still
needs, checking in a visit of another day, ready to check out, and the role's to-do counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.appointments import Appointment
from app.data.models.documents import (
    ConsentTemplate,
    ConsentVersion,
    DocumentKind,
    StoredDocument,
)
from app.data.models.insurance import InsurancePolicy, PreAuthorization
from app.data.models.payments import Charge
from app.data.models.providers import ServiceRequiredConsent
from app.data.models.tasks import Task
from app.services.clinic import to_do
from app.services.errors import ValidationError
from app.services.scheduling import appointment_status as st
from app.services.scheduling import day_board as board
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

pytestmark = pytest.mark.both_backends

#: 10:00 in Portland, Maine (the test clinic's zone) on Mon, Mar 2, 2026.
NINE = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TEN = NINE + timedelta(hours=1)
DAY = date(2026, 3, 2)


@pytest.fixture
def desk(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.fixture
def day(clinic):
    """Three visits on Mar 2 with two providers, one on Mar 3, one cancelled."""
    with clinic.db.uow() as session:
        ana = add_patient(
            session, first_name="Ana", last_name="Ruiz", medical_alerts="Latex allergy on file",
            allergies="Penicillin (hives)",
        )  # fmt: skip
        ben = add_patient(session, first_name="Ben", last_name="Cole")
        cy = add_patient(session, first_name="Cy", last_name="Diaz")
        okafor = add_provider(session, name="Daniel Okafor", position=1)
        lee = add_provider(session, name="Mina Lee", position=2)
        filling = add_service(session, name="Composite filling")
        ids = {
            "ana": add_appointment(session, ana, okafor, starts_at=NINE,
                                   ends_at=NINE + timedelta(minutes=30),
                                   service_id=filling.id).id,
            "ben": add_appointment(session, ben, lee, starts_at=NINE + timedelta(minutes=30),
                                   ends_at=TEN).id,
            "cy": add_appointment(session, cy, okafor, starts_at=TEN,
                                  ends_at=TEN + timedelta(minutes=30)).id,
            "tomorrow": add_appointment(session, cy, okafor, starts_at=NINE + timedelta(days=1),
                                        ends_at=TEN + timedelta(days=1)).id,
            "cancelled": add_appointment(session, ben, okafor, starts_at=TEN,
                                         ends_at=TEN + timedelta(minutes=30),
                                         status="cancelled").id,
        }  # fmt: skip
        ids["okafor"], ids["lee"], ids["filling"] = okafor.id, lee.id, filling.id
        ids["ana_patient"] = ana.id
        return ids


def _version(db, appointment_id) -> int:
    with db.uow() as session:
        return session.get(Appointment, appointment_id).version


def test_the_board_lists_the_days_visits_in_their_stages(clinic, desk, day):
    db = clinic.db
    st.change_status(db, desk, day["ana"], 1, "arrived", now=NINE + timedelta(minutes=2))
    seen = board.day_board(db, desk, DAY, now=NINE + timedelta(minutes=20))
    assert [v.appointment_id for v in seen.visits] == [day["ana"], day["ben"], day["cy"]]
    ana = seen.visits[0]
    assert ana.stage == board.Stage.ARRIVED and ana.next_step == "seat"
    assert ana.waiting_minutes == 18 and ana.waiting_too_long  # past the 15-minute default
    assert ana.alerts == "Alerts: Latex allergy on file · Allergies: Penicillin (hives)"
    assert ana.patient_name == "Ruiz, Ana" and ana.service_name == "Composite filling"
    assert seen.visits[1].stage == board.Stage.EXPECTED and seen.visits[1].alerts == ""
    assert seen.count(board.Stage.EXPECTED) == 2 and seen.is_today
    only_lee = board.day_board(db, desk, DAY, provider_id=day["lee"], now=NINE)
    assert [v.appointment_id for v in only_lee.visits] == [day["ben"]]
    assert {name for _id, name in seen.providers} >= {"Dr. Daniel Okafor", "Dr. Mina Lee"}


def test_seat_ready_and_back_walk_the_stages_and_stamp_the_times(clinic, desk, day):
    db, ana = clinic.db, day["ana"]
    v = st.change_status(db, desk, ana, 1, "arrived", now=NINE).version
    seated = NINE + timedelta(minutes=7)
    v = st.change_status(db, desk, ana, v, "in_treatment", now=seated).version
    line = board.day_board(db, desk, DAY, now=seated).visits[0]
    assert line.stage == board.Stage.IN_TREATMENT and line.seated_at == seated
    assert line.waiting_minutes is None and line.next_step == "ready"
    v = st.mark_ready(db, desk, ana, v, now=seated + timedelta(minutes=30)).version
    line = board.day_board(db, desk, DAY, now=seated).visits[0]
    assert line.stage == board.Stage.READY and line.next_step == "check_out"
    v = st.mark_ready(db, desk, ana, v, ready=False).version
    assert board.day_board(db, desk, DAY, now=seated).visits[0].stage == board.Stage.IN_TREATMENT
    st.change_status(db, desk, ana, v, "arrived", now=seated)  # seated by mistake: undone
    line = board.day_board(db, desk, DAY, now=seated).visits[0]
    assert line.stage == board.Stage.ARRIVED and line.seated_at is None
    assert line.arrived_at == NINE  # the real arrival is kept


def test_only_a_patient_in_treatment_can_be_ready(clinic, desk, day):
    with pytest.raises(ValidationError, match="seat them first"):
        st.mark_ready(clinic.db, desk, day["ana"], 1)


def test_checking_in_a_visit_of_an_earlier_day_asks_first(clinic, desk, day):
    four_days_later = NINE + timedelta(days=4, hours=3)
    with pytest.raises(st.NotTodayError, match="was on Mon, Mar 2, not today"):
        st.change_status(clinic.db, desk, day["ana"], 1, "arrived", now=four_days_later)
    assert _version(clinic.db, day["ana"]) == 1  # nothing written
    result = st.change_status(
        clinic.db, desk, day["ana"], 1, "arrived", now=four_days_later, not_today=True
    )
    assert result.minutes_late == 0  # not "+6427 min late": recorded at the start time


def test_check_in_names_the_alerts_and_what_is_missing(clinic, owner, desk, day):
    db = clinic.db
    with db.uow() as session:
        template = ConsentTemplate(key="composite")
        session.add(template)
        session.flush()
        session.add(ConsentVersion(template_id=template.id, version=1, title="Filling consent",
                                   body="…"))  # fmt: skip
        session.add(
            ServiceRequiredConsent(service_id=day["filling"], consent_template_id=template.id)
        )
        from app.data.models.contacts import Contact

        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        session.add(payer)
        session.flush()
        session.add(InsurancePolicy(patient_id=day["ana_patient"], payer_id=payer.id,
                                    plan_name="Delta PPO", member_id="X1"))  # fmt: skip
        session.add(Charge(patient_id=day["ana_patient"], service_date=DAY, description="Exam",
                           amount=Decimal("40.00")))  # fmt: skip
    details = board.check_in_details(db, desk, day["ana"], now=NINE)
    assert details.medical_alerts == "Latex allergy on file"
    assert details.allergies == "Penicillin (hives)"
    assert [m.kind for m in details.missing] == ["consent", "intake", "insurance", "balance"]
    assert details.missing[2].text == "Delta PPO has never been verified."
    assert details.balance == Decimal("40.00") and not details.not_today
    with db.uow() as session:
        session.add(StoredDocument(patient_id=day["ana_patient"], kind=DocumentKind.INTAKE.value,
                                   filename="intake.pdf", mime_type="application/pdf",
                                   content=b"%PDF-1.4", sha256="0" * 64, size_bytes=8))  # fmt: skip
    details = board.check_in_details(db, desk, day["ana"], now=NINE + timedelta(days=1))
    assert "intake" not in [m.kind for m in details.missing] and details.not_today


def test_the_to_do_counts_follow_the_lists_they_open(clinic, owner, desk, make_staff, day):
    db = clinic.db
    with db.uow() as session:
        template = ConsentTemplate(key="composite")
        session.add(template)
        session.flush()
        session.add(ConsentVersion(template_id=template.id, version=1, title="Filling consent",
                                   body="…"))  # fmt: skip
        session.add(
            ServiceRequiredConsent(service_id=day["filling"], consent_template_id=template.id)
        )
        session.add(PreAuthorization(patient_id=day["ana_patient"], procedure="Crown #14",
                                     status="approved", expires_on=DAY + timedelta(days=10),
                                     approved_units=2, used_units=0))  # fmt: skip
        session.add(PreAuthorization(patient_id=day["ana_patient"], procedure="Far off",
                                     status="approved", expires_on=DAY + timedelta(days=300),
                                     approved_units=5, used_units=1))  # fmt: skip
        session.add(Task(title="Call the lab", due_on=DAY - timedelta(days=1)))
        session.add(Task(title="Next week", due_on=DAY + timedelta(days=7)))
    items = {i.key: i for i in to_do.to_do(db, desk, now=NINE)}
    assert list(items) == list(to_do.items_for(desk))
    assert "unscheduled" not in items  # not a receptionist's
    assert items["consents"].count == 1 and items["consents"].target == "list"
    assert items["confirm"].count == 1  # tomorrow's visit, not yet confirmed
    assert items["preauths"].count == 1 and items["tasks"].count == 1
    lines = to_do.to_do_lines(db, desk, "preauths", now=NINE)
    assert lines[0].text == "Crown #14: expires on Mar 12, 2026 (2 of 2 units left)"
    tasks = to_do.to_do_lines(db, desk, "tasks", now=NINE)
    assert tasks[0].text == "Call the lab (due Mar 1, 2026)"
    provider = make_staff("pat", "provider", "Pat Provider")
    assert to_do.items_for(provider) == ("consents", "tasks")


def test_on_a_friday_the_visits_to_confirm_are_mondays_as_on_the_confirmations_page(clinic, desk):
    """The count and the list it opens agree: the next day the clinic is open."""
    from app.data.models.providers import WorkingHours

    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    monday = friday + timedelta(days=3)
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Mina Lee")
        for weekday in range(5):
            s.add(WorkingHours(provider_id=provider.id, weekday=weekday, start_minute=540,
                               end_minute=1020))  # fmt: skip
        add_appointment(s, add_patient(s), provider, starts_at=monday,
                        ends_at=monday + timedelta(minutes=30))  # fmt: skip
    items = {i.key: i for i in to_do.to_do(clinic.db, desk, now=friday)}
    assert items["confirm"].count == 1
    assert items["confirm"].label == "To confirm (Mon, Mar 9)"
