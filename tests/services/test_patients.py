"""Patients: validation, creation with chart numbers, opening (audited), edits and conflicts."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.clinic import audit_log
from app.services.errors import PatientChangedError, PermissionDeniedError, ValidationError
from app.services.patients import records as patients
from app.services.patients import search as patient_search
from app.services.patients.records import PatientForm

pytestmark = pytest.mark.both_backends

TODAY = date(2026, 11, 23)


def form(**changes) -> PatientForm:
    base = {"first_name": "Zoë", "last_name": "Nguyễn", "date_of_birth": date(1985, 3, 14)}
    return PatientForm(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "  "}, "first_name"),
        ({"last_name": "\x00\x07"}, "last_name"),
        ({"last_name": "x" * 10_000}, "last_name"),
        ({"mobile_phone": "12"}, "mobile_phone"),
        ({"home_phone": "call me"}, "home_phone"),
        ({"email": "not an address"}, "email"),
        ({"date_of_birth": date(2026, 11, 24)}, "date_of_birth"),
        ({"date_of_birth": date(1900, 1, 1)}, "date_of_birth"),
        ({"sex": "robot"}, "sex"),
    ],
)
def test_a_field_that_cannot_be_stored_is_named(changes, field) -> None:
    with pytest.raises(ValidationError) as raised:
        patients.validate_patient(form(**changes), today=TODAY)
    assert raised.value.field == field


def test_validation_tidies_phones_emails_and_pasted_text() -> None:
    clean = patients.validate_patient(
        form(
            first_name=" Zoë\t\x1b ",
            mobile_phone="(512) 555-0142",
            work_phone="+1 512.555.0199",
            email="Zoe.Nguyen@Example.COM",
            medical_alerts="Latex allergy\nPacemaker\x00",
            country="us",
        ),
        today=TODAY,
    )
    assert clean.first_name == "Zoë"
    assert clean.mobile_phone == "+15125550142"
    assert clean.work_phone == "+15125550199"
    assert clean.email == "zoe.nguyen@example.com"
    assert clean.medical_alerts == "Latex allergy\nPacemaker"
    assert clean.country == "US"


def test_emoji_and_right_to_left_names_are_kept() -> None:
    clean = patients.validate_patient(form(first_name="سارا 🌸", last_name="כהן"), today=TODAY)
    assert (clean.first_name, clean.last_name) == ("سارا 🌸", "כהן")


def test_new_patients_get_consecutive_chart_numbers_and_start_as_inquiries(clinic, owner) -> None:
    first = patients.create_patient(clinic.db, owner, form())
    second = patients.create_patient(clinic.db, owner, form(first_name="Ana", last_name="Ruiz"))
    assert (first.chart_number, second.chart_number) == ("P000001", "P000002")
    assert first.journey_stage == "inquiry"
    assert first.form.first_name == "Zoë"
    assert first.balance == 0
    assert first.last_changed_by == "owner"


def test_opening_a_record_is_audited_and_listed_as_recent(clinic, owner, make_staff) -> None:
    ana = patients.create_patient(clinic.db, owner, form(first_name="Ana", last_name="Ruiz"))
    zoe = patients.create_patient(clinic.db, owner, form())
    desk = make_staff("rita", "receptionist")
    patients.open_patient(clinic.db, desk, ana.id)
    patients.open_patient(clinic.db, desk, zoe.id)
    patients.open_patient(clinic.db, desk, ana.id)
    assert [h.id for h in patient_search.recent_patients(clinic.db, desk)] == [ana.id, zoe.id]
    assert patient_search.recent_patients(clinic.db, owner) == []
    opened = audit_log.list_entries(
        clinic.db, owner, audit_log.AuditFilter(action="record_opened", patient_id=ana.id)
    )
    assert [row.username for row in opened] == ["rita", "rita"]


def test_a_stale_save_names_who_changed_the_patient(clinic, owner, make_staff) -> None:
    created = patients.create_patient(clinic.db, owner, form())
    rita = make_staff("rita", "receptionist")
    patients.update_patient(clinic.db, rita, created.id, created.version, form(city="Austin"))
    with pytest.raises(PatientChangedError) as raised:
        patients.update_patient(clinic.db, owner, created.id, created.version, form(city="Waco"))
    assert raised.value.changed_by == "rita"
    assert raised.value.changed_at is not None
    assert patients.open_patient(clinic.db, owner, created.id).form.city == "Austin"
    saved = patients.update_patient(
        clinic.db, owner, created.id, created.version, form(city="Waco"), overwrite=True
    )
    assert saved.form.city == "Waco"
    assert saved.version > created.version


def test_an_edit_is_found_by_the_new_name_only(clinic, owner) -> None:
    created = patients.create_patient(clinic.db, owner, form())
    patients.update_patient(clinic.db, owner, created.id, created.version, form(last_name="Tran"))
    assert [h.id for h in patient_search.search_patients(clinic.db, owner, "tran")] == [created.id]
    assert patient_search.search_patients(clinic.db, owner, "nguyen") == []


def test_providers_cannot_edit_patients(clinic, owner, make_staff) -> None:
    provider = make_staff("drlee", "provider")
    with pytest.raises(PermissionDeniedError):
        patients.create_patient(clinic.db, provider, form())


def test_duplicates_are_found_by_name_and_birthday_phone_or_email(clinic, owner) -> None:
    zoe = patients.create_patient(
        clinic.db, owner, form(mobile_phone="512 555 0142", email="zoe@example.com")
    )
    cases = [
        (form(first_name="ZOE", last_name="nguyen"), ("same name and date of birth",)),
        (form(last_name="Other", home_phone="(512) 555-0142"), ("same phone number",)),
        (form(last_name="Other", email="zoe@example.com"), ("same e-mail address",)),
        (form(last_name="Other"), None),
    ]
    for typed, reasons in cases:
        found = patients.find_duplicates(clinic.db, owner, typed)
        if reasons is None:
            assert found == []
        else:
            assert [(m.patient.id, m.reasons) for m in found] == [(zoe.id, reasons)]
    assert patients.find_duplicates(clinic.db, owner, form(), exclude_id=zoe.id) == []


def test_balance_of_a_new_patient_is_zero(clinic, owner) -> None:
    from app.services.billing import balances

    created = patients.create_patient(clinic.db, owner, form())
    assert balances.patient_balance_for(clinic.db, owner, created.id) == 0


def test_appointment_history_splits_upcoming_and_past_and_counts_misses(clinic, owner) -> None:
    from datetime import UTC, datetime, timedelta

    from app.data.models.appointments import Appointment
    from app.data.models.providers import Provider
    from app.services.clinic.uow import unit_of_work

    created = patients.create_patient(clinic.db, owner, form())
    now = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(clinic.db, owner) as session:
        provider = Provider(name="Dr Lee")
        session.add(provider)
        session.flush()
        for days, status, late in [
            (-30, "completed", False),
            (-20, "no_show", False),
            (-10, "cancelled", True),
            (5, "scheduled", False),
            (9, "confirmed", False),
        ]:
            starts = now + timedelta(days=days)
            session.add(
                Appointment(
                    patient_id=created.id,
                    provider_id=provider.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=30),
                    status=status,
                    late_cancel=late,
                )
            )
    history = patients.appointment_history(clinic.db, owner, created.id)
    assert [a.status for a in history.upcoming] == ["scheduled", "confirmed"]
    assert [a.status for a in history.past] == ["cancelled", "no_show", "completed"]
    assert (history.no_shows, history.late_cancels) == (1, 1)
    assert history.upcoming[0].provider == "Dr Lee"
    record = patients.open_patient(clinic.db, owner, created.id)
    assert record.next_appointment is not None
    assert record.next_appointment.starts_at == now + timedelta(days=5)
