"""Insurance: the freshness window the Insurance tab names in its stale flag."""

from sqlalchemy import update

from app.data.models.clinic import ClinicSettings
from app.services.patients import insurance


def test_verification_max_age_follows_the_clinic_setting(clinic, owner):
    assert insurance.verification_max_age_days(clinic.db, owner) == 30
    with clinic.db.uow() as session:
        session.execute(update(ClinicSettings).values(verification_max_age_days=14))
    assert insurance.verification_max_age_days(clinic.db, owner) == 14
