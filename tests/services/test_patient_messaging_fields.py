"""The patient's messaging facts on the record: a STOP ends with the patient's new consent, a
bounced address with a new one, and a date of death is checked before anything is saved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from app.data.models.patients import Patient
from app.services.errors import ValidationError
from app.services.patients import records as patients
from app.services.patients.records import PatientForm

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # midday in the clinic, whatever its zone
TODAY = date(2026, 11, 23)
STOPPED_AT = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


def form(**changes) -> PatientForm:
    base = {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "date_of_birth": date(1984, 11, 2),
        "mobile_phone": "2075550121",
        "email": "ana@example.com",
        "may_text": True,
        "may_email": True,
    }
    return PatientForm(**{**base, **changes})


def stored(clinic, patient_id: int) -> Patient:
    with clinic.db.uow() as session:
        patient = session.get(Patient, patient_id)
        session.expunge(patient)
        return patient


def mark(clinic, patient_id: int, **values) -> None:
    """What the sender does when a STOP or a bounce comes back."""
    with clinic.db.uow() as session:
        patient = session.get(Patient, patient_id)
        for name, value in values.items():
            setattr(patient, name, value)


@pytest.fixture
def ana(clinic, owner, frozen_clock) -> int:
    frozen_clock(NOW)
    return patients.create_patient(clinic.db, owner, form()).id


def test_a_stop_shows_may_text_unticked_and_saving_other_edits_keeps_the_opt_out(
    clinic, owner, ana
) -> None:
    mark(clinic, ana, text_opted_out_at=STOPPED_AT)
    record = patients.open_patient(clinic.db, owner, ana)
    assert record.form.may_text is False
    assert record.text_opted_out_at == STOPPED_AT
    patients.update_patient(
        clinic.db, owner, ana, record.version, replace(record.form, city="Portland")
    )
    after = stored(clinic, ana)
    assert after.city == "Portland"
    assert after.text_opted_out_at is not None
    assert after.may_text is False


def test_ticking_may_text_again_clears_the_opt_out(clinic, owner, ana) -> None:
    mark(clinic, ana, text_opted_out_at=STOPPED_AT)
    record = patients.open_patient(clinic.db, owner, ana)
    saved = patients.update_patient(clinic.db, owner, ana, record.version, form(may_text=True))
    assert saved.form.may_text is True
    assert saved.text_opted_out_at is None
    after = stored(clinic, ana)
    assert (after.may_text, after.text_opted_out_at) == (True, None)


def test_a_new_email_address_forgets_the_bounce_and_the_same_one_keeps_it(
    clinic, owner, ana
) -> None:
    mark(clinic, ana, email_bounced_at=STOPPED_AT)
    record = patients.open_patient(clinic.db, owner, ana)
    # The address typed again in capitals is the same address: the bounce stays.
    same = patients.update_patient(
        clinic.db, owner, ana, record.version, form(email="ANA@example.com", city="Bath")
    )
    assert same.email_bounced_at is not None
    assert same.form.email == "ana@example.com"
    changed = patients.update_patient(
        clinic.db, owner, ana, same.version, form(email="ana.ruiz@example.org", city="Bath")
    )
    assert changed.email_bounced_at is None
    assert stored(clinic, ana).email_bounced_at is None


@pytest.mark.parametrize(
    ("died", "sentence"),
    [
        (date(2026, 11, 24), "The date of death cannot be in the future."),
        (date(1984, 11, 1), "The date of death cannot be before the date of birth."),
    ],
)
def test_a_date_of_death_that_cannot_be_is_refused_and_nothing_is_saved(
    clinic, owner, ana, died, sentence
) -> None:
    record = patients.open_patient(clinic.db, owner, ana)
    with pytest.raises(ValidationError) as raised:
        patients.update_patient(
            clinic.db, owner, ana, record.version, form(deceased_on=died, city="Bath")
        )
    assert str(raised.value) == sentence
    assert raised.value.field == "deceased_on"
    after = stored(clinic, ana)
    assert (after.deceased_on, after.city, after.version) == (None, "", record.version)


def test_a_date_of_death_today_or_on_the_birthday_is_saved(clinic, owner, ana) -> None:
    record = patients.open_patient(clinic.db, owner, ana)
    saved = patients.update_patient(clinic.db, owner, ana, record.version, form(deceased_on=TODAY))
    assert saved.form.deceased_on == TODAY
    assert stored(clinic, ana).deceased_on == TODAY
    newborn = form(date_of_birth=date(2026, 11, 1), deceased_on=date(2026, 11, 1))
    assert patients.validate_patient(newborn, today=TODAY).deceased_on == date(2026, 11, 1)


def test_a_date_of_death_is_checked_without_a_date_of_birth_too() -> None:
    with pytest.raises(ValidationError, match="future"):
        patients.validate_patient(
            form(date_of_birth=None, deceased_on=date(2027, 1, 1)), today=TODAY
        )
    assert patients.validate_patient(form(date_of_birth=None), today=TODAY).deceased_on is None


def test_confirming_the_address_clears_the_bounce_and_nothing_else(
    clinic, owner, make_staff, ana
) -> None:
    from app.services.errors import PermissionDeniedError

    mark(clinic, ana, email_bounced_at=STOPPED_AT, text_opted_out_at=STOPPED_AT)
    provider = make_staff("paul", "provider")
    with pytest.raises(PermissionDeniedError):
        patients.confirm_email_address(clinic.db, provider, ana)
    assert stored(clinic, ana).email_bounced_at is not None
    record = patients.confirm_email_address(clinic.db, owner, ana)
    assert record.email_bounced_at is None
    assert record.text_opted_out_at == STOPPED_AT  # a STOP is the patient's to end
    assert stored(clinic, ana).email == "ana@example.com"
