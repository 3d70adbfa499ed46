"""The recall list: who is due back (last completed recall visit + interval), nothing booked."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.data.models import Appointment
from app.data.models.communications import CommunicationEntry
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.patients import communications
from app.services.scheduling.recalls import recall_count, recall_list, record_recall_contact
from tests.data.factories import add_patient, add_provider, add_service
from tests.services.test_plans_overview import every_page

NY = ZoneInfo("America/New_York")  # the clinic fixture's zone
AS_OF = date(2026, 6, 16)


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NY)


#: The instant the fixed calendar below is seen from (noon on AS_OF): its "completed"
#: visits are in the past and its future bookings ahead, whatever the real date.
NOW = local(2026, 6, 16, 12)


@pytest.fixture
def desk(clinic):
    """Builders for a small clinic: a 180-day hygiene recall, a 365-day exam, a filling."""

    class Desk:
        def __init__(self) -> None:
            with clinic.db.uow() as s:
                self.provider_id = add_provider(s, name="Maya Chen").id
                self.hygiene = add_service(s, name="Hygiene visit", recall_interval_days=180).id
                self.exam = add_service(s, name="Annual exam", recall_interval_days=365).id
                self.filling = add_service(s, name="Filling").id

        def patient(self, last: str, **values) -> int:
            with clinic.db.uow() as s:
                return add_patient(s, first_name="Ana", last_name=last, **values).id

        def visit(self, patient_id: int, service_id: int, at: datetime, status="completed"):
            with clinic.db.uow() as s:
                starts = at.astimezone(NY)
                s.add(
                    Appointment(
                        patient_id=patient_id,
                        provider_id=self.provider_id,
                        service_id=service_id,
                        starts_at=starts,
                        ends_at=starts + timedelta(minutes=30),
                        status=status,
                    )
                )

        def contact(self, patient_id: int, at: datetime, purpose="recall", outcome="no_answer"):
            with clinic.db.uow() as s:
                s.add(
                    CommunicationEntry(
                        patient_id=patient_id,
                        occurred_at=at,
                        channel="call",
                        direction="outbound",
                        purpose=purpose,
                        outcome=outcome,
                    )
                )

    return Desk()


def _ids(lines) -> list[int]:
    return [line.patient_id for line in lines]


def test_due_date_is_the_last_visits_local_date_plus_the_interval(clinic, owner, desk):
    ana = desk.patient("Ruiz", mobile_phone="+12075550123")
    desk.visit(ana, desk.hygiene, local(2025, 12, 1, 10, 0))
    # 23:30 in New York is already Dec 2 in UTC: the visit still counts as Dec 1.
    ben = desk.patient("Okafor")
    desk.visit(ben, desk.hygiene, local(2025, 12, 1, 23, 30))

    lines = recall_list(clinic.db, owner, now=NOW, as_of=AS_OF)
    assert len(lines) == 2
    for line in lines:
        assert line.last_visit_on == date(2025, 12, 1)
        assert line.due_on == date(2026, 5, 30)  # Dec 1 + 180 days
        assert line.days_overdue == 17
        assert line.service_name == "Hygiene visit"
    ruiz = next(line for line in lines if line.patient_id == ana)
    assert (ruiz.patient_name, ruiz.phone) == ("Ruiz, Ana", "(207) 555-0123")


def test_not_yet_due_unless_planning_ahead(clinic, owner, desk):
    cara = desk.patient("Silva")
    desk.visit(cara, desk.exam, local(2025, 6, 20))  # due Jun 20, 2026
    assert recall_list(clinic.db, owner, now=NOW, as_of=AS_OF) == []
    assert recall_list(clinic.db, owner, now=NOW, as_of=date(2026, 6, 20))[0].days_overdue == 0
    (line,) = recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, due_within_days=7)
    assert (line.due_on, line.days_overdue) == (date(2026, 6, 20), -4)
    assert recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, due_within_days=3) == []


def test_only_the_last_completed_recall_visit_counts(clinic, owner, desk):
    dora = desk.patient("Kim")
    desk.visit(dora, desk.hygiene, local(2024, 1, 10))
    desk.visit(dora, desk.hygiene, local(2026, 3, 1))  # due Aug 28, 2026
    desk.visit(dora, desk.filling, local(2026, 4, 1))  # no recall: ignored
    eli = desk.patient("Novak")
    desk.visit(eli, desk.hygiene, local(2025, 1, 5))  # due Jul 4, 2025
    desk.visit(eli, desk.hygiene, local(2025, 11, 1), status="no_show")
    desk.visit(eli, desk.exam, local(2025, 12, 1), status="cancelled")

    (line,) = recall_list(clinic.db, owner, now=NOW, as_of=AS_OF)
    assert line.patient_id == eli
    assert (line.due_on, line.days_overdue) == (date(2025, 7, 4), 347)
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=date(2026, 8, 28))) == [eli, dora]


def test_most_overdue_first_and_limit(clinic, owner, desk):
    recent = desk.patient("Adams")
    desk.visit(recent, desk.hygiene, local(2025, 12, 1))
    oldest = desk.patient("Baker")
    desk.visit(oldest, desk.exam, local(2023, 3, 1))
    middle = desk.patient("Cole")
    desk.visit(middle, desk.hygiene, local(2025, 6, 1))
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF)) == [oldest, middle, recent]
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, limit=2)) == [oldest, middle]


def test_a_future_appointment_that_holds_time_takes_the_patient_off(clinic, owner, desk):
    booked = desk.patient("Booked")
    desk.visit(booked, desk.hygiene, local(2025, 1, 5))
    desk.visit(booked, desk.filling, NOW + timedelta(days=10), status="scheduled")
    cancelled = desk.patient("Cancelled")
    desk.visit(cancelled, desk.hygiene, local(2025, 1, 5))
    desk.visit(cancelled, desk.hygiene, NOW + timedelta(days=10), status="cancelled")
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF)) == [cancelled]
    # Once that day has passed, the booking no longer holds time ahead.
    assert _ids(recall_list(clinic.db, owner, now=NOW + timedelta(days=11))) == [booked, cancelled]


def test_inactive_and_merged_patients_are_left_out(clinic, owner, desk):
    kept = desk.patient("Kept")
    desk.visit(kept, desk.hygiene, local(2025, 1, 5))
    gone = desk.patient("Gone", is_active=False)
    desk.visit(gone, desk.hygiene, local(2025, 1, 5))
    merged = desk.patient("Merged", is_active=False, merged_into_id=kept)
    desk.visit(merged, desk.hygiene, local(2025, 1, 5))
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF)) == [kept]


def test_contacts_hide_the_patient_for_n_days_then_they_come_back(clinic, owner, desk):
    ana = desk.patient("Ruiz")
    desk.visit(ana, desk.hygiene, local(2025, 12, 1))  # due May 30, 2026
    desk.contact(ana, local(2025, 11, 20))  # before the last visit: not counted
    desk.contact(ana, local(2026, 5, 20), purpose="general")  # not a recall contact
    desk.contact(ana, local(2026, 5, 25), outcome="no_answer")
    desk.contact(ana, local(2026, 6, 5, 16, 0), outcome="left_message")

    assert recall_list(clinic.db, owner, now=NOW, as_of=AS_OF) == []  # Jun 5 + 14 days > Jun 16
    assert recall_list(clinic.db, owner, now=NOW, as_of=date(2026, 6, 18)) == []
    (line,) = recall_list(clinic.db, owner, now=NOW, as_of=date(2026, 6, 19))
    assert (line.contacts, line.last_contact_outcome) == (2, "left_message")
    assert line.last_contact_at == local(2026, 6, 5, 16, 0)
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, hide_contacted_days=7)) == [ana]
    assert _ids(recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, hide_contacted_days=0)) == [ana]


def test_recording_a_recall_call_logs_it_and_hides_the_patient(
    clinic, make_staff, desk, clinic_day
):
    rita = make_staff("rita", "receptionist", "Rita Reception")
    ana = desk.patient("Ruiz")
    # Due 20 days ago (180-day recall), whenever the test runs: it reads the real clock.
    visited = datetime.combine(clinic_day - timedelta(days=200), time(10), tzinfo=NY)
    desk.visit(ana, desk.hygiene, visited)
    assert _ids(recall_list(clinic.db, rita)) == [ana]

    record_recall_contact(clinic.db, rita, ana, "left_message", "Asked her to call back")
    assert recall_list(clinic.db, rita) == []
    (line,) = recall_list(clinic.db, rita, as_of=clinic_day + timedelta(days=14))
    assert (line.contacts, line.last_contact_outcome) == (1, "left_message")
    (logged,) = communications.list_contacts(clinic.db, rita, ana)
    assert logged.summary == "Recall call: left a message.\nAsked her to call back"
    assert logged.staff == "Rita Reception"
    with clinic.db.uow() as s:
        entry = s.scalars(select(CommunicationEntry)).one()
        assert (entry.purpose, entry.channel, entry.direction) == ("recall", "call", "outbound")


def test_bad_recall_requests_are_refused(clinic, make_staff, desk):
    ana = desk.patient("Ruiz")
    paul = make_staff("paul", "provider")
    rita = make_staff("rita", "receptionist")
    with pytest.raises(ValidationError) as raised:
        record_recall_contact(clinic.db, rita, ana, "confirmed")
    assert raised.value.field == "outcome"
    with pytest.raises(PermissionDeniedError):
        record_recall_contact(clinic.db, paul, ana, "reached")
    merged = desk.patient("Merged", is_active=False, merged_into_id=ana)
    with pytest.raises(ValidationError, match="merged"):
        record_recall_contact(clinic.db, rita, merged, "reached")
    with pytest.raises(ValidationError):
        recall_list(clinic.db, rita, hide_contacted_days=-1)


@pytest.fixture
def crowd(desk) -> dict[str, list[int]]:
    """Patients due in an order with ties on every key but the patient: several due the same
    day under the same name, one due soon, one booked, one just called."""
    ids: dict[str, list[int]] = {"tie": [], "late_tie": []}
    ids["oldest"] = [desk.patient("Zed")]
    desk.visit(ids["oldest"][0], desk.exam, local(2024, 1, 10))  # due Jan 9, 2025
    ids["able"] = [desk.patient("Able")]
    desk.visit(ids["able"][0], desk.hygiene, local(2025, 12, 1))  # due May 30, 2026
    for _ in range(4):
        ids["tie"].append(desk.patient("Tie"))
        desk.visit(ids["tie"][-1], desk.hygiene, local(2025, 12, 1))  # due May 30 too
    for _ in range(2):
        ids["late_tie"].append(desk.patient("Tie"))
        desk.visit(ids["late_tie"][-1], desk.exam, local(2025, 6, 3))  # due Jun 3, 2026
    ids["soon"] = [desk.patient("Soon")]
    desk.visit(ids["soon"][0], desk.hygiene, local(2026, 1, 1))  # due Jun 30, 2026
    booked = desk.patient("Booked")
    desk.visit(booked, desk.hygiene, local(2025, 1, 5))
    desk.visit(booked, desk.filling, NOW + timedelta(days=10), status="scheduled")
    called = desk.patient("Called")
    desk.visit(called, desk.hygiene, local(2025, 1, 5))
    desk.contact(called, local(2026, 6, 10))
    return ids


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=12), within=st.sampled_from([0, 30]))
def test_recall_pages_add_up_to_the_whole_list_once(clinic, owner, crowd, size, within):
    whole = recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, due_within_days=within)
    paged = every_page(
        lambda offset, limit: recall_list(
            clinic.db,
            owner,
            now=NOW,
            as_of=AS_OF,
            due_within_days=within,
            offset=offset,
            limit=limit,
        ),
        size,
    )
    assert paged == whole
    expected = crowd["oldest"] + crowd["able"] + crowd["tie"] + crowd["late_tie"]
    assert _ids(paged) == (expected + crowd["soon"] if within else expected)
    assert recall_count(clinic.db, owner, now=NOW, as_of=AS_OF, due_within_days=within) == len(
        whole
    )


def test_recall_count_follows_the_filters(clinic, owner, crowd):
    assert recall_count(clinic.db, owner, now=NOW, as_of=AS_OF) == 8
    # Never hiding the contacted: the patient called on Jun 10 counts again.
    assert recall_count(clinic.db, owner, now=NOW, as_of=AS_OF, hide_contacted_days=0) == 9
    assert recall_count(clinic.db, owner, now=NOW, as_of=date(2024, 1, 1)) == 0
    page = recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, offset=6, limit=5)
    assert _ids(page) == crowd["late_tie"]  # the last page is short
    assert recall_list(clinic.db, owner, now=NOW, as_of=AS_OF, offset=20, limit=5) == []


def test_bad_pages_and_filters_of_the_recall_list_are_refused(
    clinic, owner, make_staff, monkeypatch
):
    for page in ({"offset": -1}, {"limit": -1}):
        with pytest.raises(ValidationError) as raised:
            recall_list(clinic.db, owner, **page)
        assert raised.value.field == "limit"
    with pytest.raises(ValidationError) as raised:
        recall_count(clinic.db, owner, due_within_days=-1)
    assert raised.value.field == "days"
    from app.services.clinic import permissions

    rita = make_staff("rita", "receptionist")
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, rita.role, frozenset())
    with pytest.raises(PermissionDeniedError):
        recall_count(clinic.db, rita)
