"""Insurance: policies, verification log, pre-authorisation warnings, the verification queue."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.clock import utc_now
from app.data.models.appointments import Appointment
from app.data.models.clinic import ClinicSettings
from app.data.models.contacts import Contact
from app.data.models.tasks import Task
from app.services.clinic import catalog
from app.services.clinic.catalog import ProviderData
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.patients import insurance
from app.services.patients.insurance import PolicyData, PreauthData
from tests.data.factories import add_named_patient


def add_contact(db, organisation, kind="payer", active=True) -> int:
    with db.uow() as session:
        contact = Contact(kind=kind, organisation=organisation, is_active=active)
        session.add(contact)
        session.flush()
        return contact.id


@pytest.fixture
def payer_id(clinic):
    return add_contact(clinic.db, "Delta Dental")


@pytest.fixture
def provider_id(clinic, owner):
    return catalog.save_provider(clinic.db, owner, ProviderData(name="Ana Torres")).id


@pytest.fixture
def book(clinic, provider_id):
    def book(patient_id, starts_in: timedelta, status="scheduled") -> int:
        starts = utc_now() + starts_in
        with clinic.db.uow() as session:
            appt = Appointment(
                patient_id=patient_id,
                provider_id=provider_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                status=status,
            )
            session.add(appt)
            session.flush()
            return appt.id

    return book


def policy(payer_id, /, **changes) -> PolicyData:
    return replace(
        PolicyData(
            payer_id=payer_id,
            member_id="XJ-1234",
            group_number="G-77",
            subscriber_name="Zoë Nguyễn",
            coverage_percent=80,
            copay=Decimal("25.00"),
            deductible=Decimal("500"),
            deductible_met="120.5",
        ),
        **changes,
    )


def test_policy_round_trips_with_money_as_decimal(clinic, owner, patient_id, payer_id):
    saved = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    assert saved.payer_name == "Delta Dental" and saved.member_id == "XJ-1234"
    assert saved.copay == Decimal("25.00") and saved.deductible_met == Decimal("120.50")
    assert all(
        isinstance(v, Decimal) for v in (saved.copay, saved.deductible, saved.deductible_met)
    )
    assert saved.is_primary and saved.active
    assert saved.last_verified_at is None and saved.verification_stale
    assert insurance.list_policies(clinic.db, owner, patient_id) == [saved]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"member_id": ""}, "member_id"),
        ({"member_id": "\x00\x07"}, "member_id"),
        ({"member_id": "m" * 61}, "member_id"),
        ({"group_number": "g" * 61}, "group_number"),
        ({"subscriber_name": "s" * 201}, "subscriber_name"),
        ({"subscriber_relation": "cousin"}, "subscriber_relation"),
        ({"coverage_percent": 101}, "coverage_percent"),
        ({"coverage_percent": -1}, "coverage_percent"),
        ({"coverage_percent": 80.5}, "coverage_percent"),
        ({"copay": "-5"}, "copay"),
        ({"copay": "twenty"}, "copay"),
        ({"copay": 25.0}, "copay"),
        ({"copay": "NaN"}, "copay"),
        ({"deductible": "99999999"}, "deductible"),
        ({"deductible": "100", "deductible_met": "100.01"}, "deductible_met"),
        ({"payer_id": 999}, "payer_id"),
    ],
)
def test_bad_policies_are_refused_with_their_field(
    clinic, owner, patient_id, payer_id, change, field
):
    with pytest.raises(ValidationError) as raised:
        insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id, **change))
    assert raised.value.field == field and str(raised.value)
    assert insurance.list_policies(clinic.db, owner, patient_id) == []


def test_payer_must_be_an_active_payer_contact(clinic, owner, patient_id):
    lab = add_contact(clinic.db, "Smile Lab", kind="lab")
    retired = add_contact(clinic.db, "Old Payer", active=False)
    for bad in (lab, retired):
        with pytest.raises(ValidationError) as raised:
            insurance.save_policy(clinic.db, owner, patient_id, policy(bad))
        assert raised.value.field == "payer_id"


def test_list_payers_shows_active_payers_by_name(clinic, owner, payer_id):
    aetna = add_contact(clinic.db, "aetna")
    add_contact(clinic.db, "Smile Lab", kind="lab")
    add_contact(clinic.db, "Gone", active=False)
    assert insurance.list_payers(clinic.db, owner) == [(aetna, "aetna"), (payer_id, "Delta Dental")]


def test_updates_are_checked_against_the_version(clinic, owner, patient_id, payer_id):
    first = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    data = policy(payer_id, id=first.id, version=first.version)
    second = insurance.save_policy(clinic.db, owner, patient_id, replace(data, is_primary=False))
    assert not second.is_primary and second.version == first.version + 1
    with pytest.raises(ConcurrentEditError):
        insurance.save_policy(clinic.db, owner, patient_id, replace(data, member_id="NEW"))
    other = add_named_patient(clinic.db, "Ana", "Other")
    with pytest.raises(NotFoundError):
        insurance.save_policy(clinic.db, owner, other, replace(data, version=second.version))


def test_verification_log_and_staleness(clinic, owner, make_staff, patient_id, payer_id):
    rita = make_staff("rita", "receptionist", "Rita Reception")
    saved = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    old = insurance.record_verification(
        clinic.db,
        rita,
        saved.id,
        method="phone",
        result="active",
        reference="REF-1",
        verified_at=utc_now() - timedelta(days=31),
    )
    assert insurance.list_policies(clinic.db, owner, patient_id)[0].verification_stale
    new = insurance.record_verification(clinic.db, rita, saved.id, method="portal", result="active")
    assert new.verified_by == "Rita Reception" and old.reference == "REF-1"
    assert insurance.list_verifications(clinic.db, owner, saved.id) == [new, old]
    (line,) = insurance.list_policies(clinic.db, owner, patient_id)
    assert line.last_verified_at == new.verified_at and not line.verification_stale


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"method": "pigeon", "result": "active"}, "method"),
        ({"method": "phone", "result": "probably"}, "result"),
        ({"method": "phone", "result": "active", "reference": "r" * 61}, "reference"),
        (
            {"method": "phone", "result": "active", "verified_at": datetime(2025, 1, 1)},
            "verified_at",
        ),
        (
            {"method": "phone", "result": "active", "verified_at": utc_now() + timedelta(days=1)},
            "verified_at",
        ),
    ],
)
def test_bad_verifications_are_refused(clinic, owner, patient_id, payer_id, kwargs, field):
    saved = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    with pytest.raises(ValidationError) as raised:
        insurance.record_verification(clinic.db, owner, saved.id, **kwargs)
    assert raised.value.field == field
    assert insurance.list_verifications(clinic.db, owner, saved.id) == []


# --- pre-authorisations --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,expires_in_days,booked_in_days,warning",
    [
        (PreauthData("Crown", "approved", "A1", 3, 0), None, [], ""),
        (PreauthData("Crown", "approved", "A1", 3, 3), None, [], "all 3 approved units are used"),
        (
            PreauthData("Crown", "approved", "A1", 2, 1),
            None,
            [5, 10],
            "only 1 approved units left for 2 booked visits",
        ),
        (PreauthData("Crown", "approved", "A1", None, 0), 20, [30], "before the booked visit"),
        (PreauthData("Crown", "approved", "A1", None, 0), 40, [30], ""),
        (PreauthData("Crown", "requested", "", None, 0), 5, [30], ""),
    ],
)
def test_preauth_warnings(
    clinic, owner, book, patient_id, clinic_day, data, expires_in_days, booked_in_days, warning
):
    if expires_in_days is not None:
        data = replace(data, expires_on=clinic_day + timedelta(days=expires_in_days))
    for days in booked_in_days:
        book(patient_id, timedelta(days=days))
    line = insurance.save_preauth(clinic.db, owner, patient_id, data)
    assert warning in line.warning and bool(line.warning) == bool(warning)
    assert insurance.list_preauths(clinic.db, owner, patient_id) == [line]


def test_expired_preauths_fold_away(clinic, owner, patient_id, clinic_day):
    expired = insurance.save_preauth(
        clinic.db,
        owner,
        patient_id,
        PreauthData("Implant", "approved", "X9", 1, 0, clinic_day - timedelta(days=2)),
    )
    current = insurance.save_preauth(
        clinic.db,
        owner,
        patient_id,
        PreauthData("Crown", "approved", "C1", 1, 0, clinic_day + timedelta(days=60)),
    )
    assert expired.expired and "expired on" in expired.warning and not current.expired
    assert insurance.list_preauths(clinic.db, owner, patient_id) == [current]
    assert insurance.list_preauths(clinic.db, owner, patient_id, include_expired=True) == [
        expired,
        current,
    ]


@pytest.mark.parametrize(
    "data,field",
    [
        (PreauthData(""), "service"),
        (PreauthData("s" * 201), "service"),
        (PreauthData("Crown", status="maybe"), "status"),
        (PreauthData("Crown", number="n" * 61), "number"),
        (PreauthData("Crown", approved_units=-1), "approved_units"),
        (PreauthData("Crown", used_units=-1), "used_units"),
        (PreauthData("Crown", approved_units=2, used_units=3), "used_units"),
        (PreauthData("Crown", expires_on="soon"), "expires_on"),
        (PreauthData("Crown", policy_id=999), "policy_id"),
    ],
)
def test_bad_preauths_are_refused(clinic, owner, patient_id, data, field):
    with pytest.raises(ValidationError) as raised:
        insurance.save_preauth(clinic.db, owner, patient_id, data)
    assert raised.value.field == field
    assert insurance.list_preauths(clinic.db, owner, patient_id, include_expired=True) == []


def test_preauth_update_uses_units_and_records_the_decision(clinic, owner, patient_id):
    line = insurance.save_preauth(clinic.db, owner, patient_id, PreauthData("Crown 🦷"))
    assert line.status == "requested" and line.service == "Crown 🦷"
    approved = insurance.save_preauth(
        clinic.db,
        owner,
        patient_id,
        PreauthData("Crown 🦷", "approved", "AUTH-7", 4, 1, id=line.id, version=line.version),
    )
    assert (approved.status, approved.approved_units, approved.used_units) == ("approved", 4, 1)
    with pytest.raises(ConcurrentEditError):
        insurance.save_preauth(
            clinic.db,
            owner,
            patient_id,
            replace(PreauthData("x"), id=line.id, version=line.version),
        )


# --- verification queue -------------------------------------------------------------------


def test_queue_lists_upcoming_visits_with_stale_or_missing_verification(
    clinic, owner, book, patient_id, payer_id
):
    fresh_patient = add_named_patient(clinic.db, "Fresh", "Verified")
    no_policy = add_named_patient(clinic.db, "No", "Insurance")
    stale = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    fresh = insurance.save_policy(clinic.db, owner, fresh_patient, policy(payer_id))
    insurance.record_verification(clinic.db, owner, fresh.id, method="phone", result="active")
    insurance.record_verification(
        clinic.db,
        owner,
        stale.id,
        method="phone",
        result="active",
        verified_at=utc_now() - timedelta(days=45),
    )
    soon = book(patient_id, timedelta(days=2))
    book(patient_id, timedelta(days=20))  # beyond the look-ahead
    book(patient_id, timedelta(days=1), status="cancelled")
    book(patient_id, timedelta(days=-1))  # past
    book(fresh_patient, timedelta(days=1))
    book(no_policy, timedelta(days=1))
    (line,) = insurance.verification_queue(clinic.db, owner, days_ahead=7)
    assert (line.appointment_id, line.patient_id, line.policy_id) == (soon, patient_id, stale.id)
    assert line.patient_name == "Nguyễn, Zoë" and line.payer == "Delta Dental"
    assert line.last_verified_at is not None and line.assignee == ""
    assert len(insurance.verification_queue(clinic.db, owner, days_ahead=30)) == 2


def test_queue_follows_the_clinic_max_age(clinic, owner, book, patient_id, payer_id):
    saved = insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    insurance.record_verification(
        clinic.db,
        owner,
        saved.id,
        method="portal",
        result="active",
        verified_at=utc_now() - timedelta(days=10),
    )
    book(patient_id, timedelta(days=1))
    assert insurance.verification_queue(clinic.db, owner) == []
    with clinic.db.uow() as session:
        session.execute(update(ClinicSettings).values(verification_max_age_days=7))
    assert len(insurance.verification_queue(clinic.db, owner)) == 1
    assert insurance.list_policies(clinic.db, owner, patient_id)[0].verification_stale


def test_assigning_a_verification_makes_one_task(
    clinic, owner, make_staff, book, patient_id, payer_id
):
    rita = make_staff("rita", "receptionist", "Rita Reception")
    cora = make_staff("cora", "coordinator", "Cora Coordinator")
    insurance.save_policy(clinic.db, owner, patient_id, policy(payer_id))
    appt = book(patient_id, timedelta(days=3))
    insurance.assign_verification(clinic.db, owner, appt, rita.staff_id)
    assert insurance.verification_queue(clinic.db, owner)[0].assignee == "Rita Reception"
    insurance.assign_verification(clinic.db, owner, appt, cora.staff_id)
    assert insurance.verification_queue(clinic.db, owner)[0].assignee == "Cora Coordinator"
    with clinic.db.uow() as session:
        (task,) = session.scalars(select(Task)).all()
        assert (task.kind, task.appointment_id, task.patient_id) == (
            "insurance_verification",
            appt,
            patient_id,
        )
    with pytest.raises(ValidationError) as raised:
        insurance.assign_verification(clinic.db, owner, appt, 999)
    assert raised.value.field == "assignee_id"
    with pytest.raises(NotFoundError):
        insurance.assign_verification(clinic.db, owner, 999, rita.staff_id)


@pytest.mark.parametrize("days", [0, -1, 400, True])
def test_queue_look_ahead_is_checked(clinic, owner, days):
    with pytest.raises(ValidationError) as raised:
        insurance.verification_queue(clinic.db, owner, days_ahead=days)
    assert raised.value.field == "days_ahead"


def test_provider_cannot_change_insurance(clinic, make_staff, patient_id, payer_id):
    provider = make_staff("paula", "provider")
    with pytest.raises(PermissionDeniedError):
        insurance.save_policy(clinic.db, provider, patient_id, policy(payer_id))
    with pytest.raises(PermissionDeniedError):
        insurance.save_preauth(clinic.db, provider, patient_id, PreauthData("Crown"))
    assert insurance.list_policies(clinic.db, provider, patient_id) == []


def test_dates_are_plain_dates(clinic, owner, patient_id):
    line = insurance.save_preauth(
        clinic.db, owner, patient_id, PreauthData("Crown", expires_on=date(2099, 1, 1))
    )
    assert line.expires_on == date(2099, 1, 1) and not line.expired
