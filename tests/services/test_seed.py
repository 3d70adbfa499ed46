"""The made-up clinics: deterministic, consistent, and the demo is made only once."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import keyring
import keyring.backends.fail
import phonenumbers
import pytest

from app import paths
from app.data.database import check_integrity
from app.demo import demo_clinic as demo
from app.demo import seed
from app.services.clinic import auth
from app.services.clinic.catalog import load_catalog, validate_provider, validate_service
from app.services.clinic.clinics import open_clinic

#: A small clinic on the seed's own Tuesday (not the wall clock's day, which changes what is
#: in the waiting room "now").
SMALL = {"patients": 50, "years": 1, "today": seed.SEED_TODAY}
# Tables whose every row the seed writes itself (the set-up's own rows are compared apart).
SEEDED_TABLES = (
    "providers", "working_hours", "provider_breaks", "rooms", "services", "contacts",
    "patients", "insurance_policies", "insurance_verifications", "preauthorizations",
    "appointments", "appointment_status_changes", "waitlist_entries", "consultation_notes",
    "note_addenda", "treatment_plans", "treatment_phases", "treatment_items", "charges",
    "payment_plans", "installments", "payments", "payment_allocations", "account_adjustments",
    "referrals", "tasks", "communication_entries",
)  # fmt: skip
APPOINTMENT_STATUSES = {
    "scheduled", "confirmed", "arrived", "in_treatment", "completed", "cancelled", "no_show",
}  # fmt: skip


def dump(db) -> dict[str, list[tuple]]:
    """Every seeded row, plus the set-up rows minus what is random or the creation time."""
    with db.engine.connect() as conn:
        tables = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                  for t in SEEDED_TABLES}  # fmt: skip
        tables["staff"] = conn.exec_driver_sql(
            "SELECT id, username, full_name, role, is_active, may_break_glass FROM staff"
            " ORDER BY id"
        ).fetchall()
        settings = conn.exec_driver_sql("SELECT * FROM clinic_settings").mappings().one()
        tables["clinic_settings"] = [
            tuple(v for k, v in settings.items() if k not in ("created_at", "updated_at"))
        ]
    return tables


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One small seeded clinic shared by the read-only checks (keyed with a passphrase)."""
    folder = tmp_path_factory.mktemp("seeded")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
            clinic = seed.create_seeded_clinic(
                folder / "small.caredesk", **SMALL, seed=12, passphrase="a-test-passphrase-1"
            )
    finally:
        keyring.set_keyring(previous)
    yield clinic
    clinic.db.close()


def _count(db, sql: str) -> int:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


@pytest.mark.slow
def test_same_seed_same_data_and_another_seed_other_data(seeded, tmp_path):
    # The module's clinic is the first of the pair (seed 12): this one is keyed through the
    # keyring, that one with a passphrase, and the data is the same all the same.
    second = seed.create_seeded_clinic(tmp_path / "b.caredesk", **SMALL, seed=12)
    other = seed.create_seeded_clinic(tmp_path / "c.caredesk", **SMALL, seed=4)
    try:
        a, b, c = dump(seeded.db), dump(second.db), dump(other.db)
        assert a == b
        assert a["patients"] != c["patients"]
        assert a["appointments"] != c["appointments"]
    finally:
        for clinic in (second, other):
            clinic.db.close()


def test_the_seeded_database_passes_every_integrity_check(seeded):
    report = check_integrity(seeded.db)
    assert report.ok, report.problems


def test_counts_are_those_of_a_small_clinic(seeded):
    db = seeded.db
    assert _count(db, "SELECT count(*) FROM patients") == SMALL["patients"]
    assert _count(db, "SELECT count(*) FROM providers") == 3
    assert _count(db, "SELECT count(*) FROM rooms") == 4
    assert 12 <= _count(db, "SELECT count(*) FROM services") <= 18
    # Three providers, about 250 working days, most slots filled.
    appointments = _count(db, "SELECT count(*) FROM appointments")
    assert 2500 < appointments < 12000
    for table in ("consultation_notes", "treatment_plans", "payment_plans", "installments",
                  "payments", "payment_allocations", "charges", "referrals", "tasks",
                  "communication_entries", "insurance_policies",
                  "appointment_status_changes"):  # fmt: skip
        assert _count(db, f"SELECT count(*) FROM {table}") > 0, table
    # Every visit's history starts with its booking.
    assert _count(db, "SELECT count(*) FROM appointment_status_changes WHERE from_status IS NULL") \
        == appointments  # fmt: skip


def test_appointments_come_in_every_status_with_matching_history(seeded):
    db = seeded.db
    with db.engine.connect() as conn:
        statuses = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT status FROM appointments")}
        assert statuses == APPOINTMENT_STATUSES
        # The last step of each history is the appointment's status.
        mismatched = conn.exec_driver_sql(
            "SELECT count(*) FROM appointments a JOIN appointment_status_changes c"
            " ON c.appointment_id = a.id AND c.changed_at = (SELECT max(changed_at)"
            " FROM appointment_status_changes WHERE appointment_id = a.id)"
            " WHERE c.to_status <> a.status"
        ).scalar()
        assert mismatched == 0
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM appointments WHERE late_cancel").scalar() > 0
        )
        signed = {r[0] for r in conn.exec_driver_sql("SELECT status FROM consultation_notes")}
        assert signed == {"signed", "draft"} or signed == {"signed"}


def test_no_provider_or_room_is_double_booked(seeded):
    overlaps = _count(
        seeded.db,
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id"
        " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        " AND (a.provider_id = b.provider_id OR a.room_id = b.room_id)"
        " AND a.status <> 'cancelled' AND b.status <> 'cancelled'",
    )
    assert overlaps == 0


def test_patients_look_like_the_service_layer_stored_them(seeded):
    with seeded.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT first_name, middle_name, last_name, preferred_name, search_name,"
            " mobile_phone, home_phone, email, chart_number FROM patients"
        ).fetchall()
    assert len({r.chart_number for r in rows}) == len(rows)
    for row in rows:
        assert row.search_name == seed.patient_search_name(
            row.first_name, row.middle_name, row.last_name, row.preferred_name
        )
        assert row.search_name.isascii() and row.search_name == row.search_name.lower()
        for phone in (row.mobile_phone, row.home_phone):
            if phone:
                assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
                assert phone.startswith("+1")
        assert row.email == row.email.lower()


def test_search_names_are_folded():
    assert seed.fold_for_search("  Núñez  García ") == "nunez garcia"
    assert seed.patient_search_name("José", "", "Nguyễn", "Pepe") == "nguyen jose pepe"


def test_money_on_a_payment_plan_adds_up(seeded):
    with seeded.db.engine.connect() as conn:
        plans = conn.exec_driver_sql(
            "SELECT p.id, p.financed_amount, sum(i.principal), p.total_amount - p.down_payment"
            " FROM payment_plans p JOIN installments i ON i.payment_plan_id = p.id GROUP BY p.id"
        ).fetchall()
    assert plans
    for _, financed, principals, rest in plans:
        assert financed == principals == rest


def test_what_each_installment_was_paid_is_its_live_allocations(seeded):
    from app.services.billing import balances

    with seeded.db.uow() as session:
        assert balances.unbalanced_installments(session) == []
        # And each payment's unapplied money (a patient's credit) its allocations and refunds.
        assert balances.unbalanced_payments(session) == []
        assert any(balances.live_allocations(session).values())


def test_interest_on_a_payment_plan_is_charged_once_at_signing(seeded):
    """Balances include what an APR plan costs: one finance charge of the schedule's interest."""
    with seeded.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.id, sum(i.interest),"
            " (SELECT sum(c.amount) FROM charges c"
            "   WHERE c.description = 'Finance charge, payment plan #' || p.id)"
            " FROM payment_plans p JOIN installments i ON i.payment_plan_id = p.id"
            " GROUP BY p.id"
        ).fetchall()
    assert any(interest > 0 for _, interest, _ in rows)
    for _, interest, charged in rows:
        assert (charged or 0) == interest


@pytest.mark.parametrize(
    "financed,count,apr",
    [
        (Decimal("1000.00"), 3, 0),
        (Decimal("2450.55"), 12, 0),
        (Decimal("3599.99"), 10, 990),
        (Decimal("12000.00"), 18, 1490),
    ],
)
def test_installment_schedule_is_exact_to_the_cent(financed, count, apr):
    rows = seed.installment_schedule(financed, count, apr, date(2026, 1, 31))
    assert [r[0] for r in rows] == list(range(1, count + 1))
    assert sum(r[3] for r in rows) == financed
    assert all(r[2] == r[3] + r[4] and r[2] > 0 for r in rows)
    assert rows[-1][5] == 0
    assert rows[1][1] == date(2026, 2, 28)  # month ends stay month ends
    if apr:
        assert sum(r[4] for r in rows) > 0


def test_every_demo_account_signs_in(seeded):
    for account in seed.DEMO_ACCOUNTS:
        actor = auth.login(seeded.db, account.username, seed.DEMO_PASSWORD)
        assert actor.role == account.role


def test_the_catalogue_is_one_the_settings_page_accepts(seeded):
    owner = auth.login(seeded.db, "owner", seed.DEMO_PASSWORD)
    catalog = load_catalog(seeded.db, owner)
    assert len(catalog.providers) == 3
    for provider in catalog.providers:
        validate_provider(provider)
    for service in catalog.services:
        validate_service(service)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("with_keyring", [True, False], ids=["keyring", "no-keyring"])
def test_the_demo_is_made_once_then_opened(monkeypatch, with_keyring):
    if not with_keyring:
        keyring.set_keyring(keyring.backends.fail.Keyring())  # the autouse fixture restores it
    monkeypatch.setattr(demo, "DEMO_PATIENTS", 40)
    monkeypatch.setattr(demo, "DEMO_YEARS", 1)
    calls = []
    real = demo.create_seeded_clinic

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(demo, "create_seeded_clinic", counting)
    first = demo.open_or_create_demo(today=date(2026, 3, 10))
    assert first.path == paths.demo_database_path()
    assert first.key_in_keyring is with_keyring
    first.db.close()
    assert not Path(str(paths.demo_database_path()) + ".partial").exists()
    digest = _file_digest(paths.demo_database_path())

    second = demo.open_or_create_demo(today=date(2026, 9, 1))
    try:
        assert len(calls) == 1 and calls[0]["today"] == date(2026, 3, 10)
        assert _count(second.db, "SELECT count(*) FROM patients") == 40
        # Bookings reach about three months past the day it was made.
        last = _count(second.db, "SELECT max(date(starts_at)) FROM appointments")
        assert "2026-05-15" < last <= "2026-06-10"
    finally:
        second.db.close()
    assert _file_digest(paths.demo_database_path()) == digest


def test_the_demo_is_locked_with_the_published_passphrase_without_a_keyring(monkeypatch):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.setattr(demo, "DEMO_PATIENTS", 5)
    monkeypatch.setattr(demo, "DEMO_YEARS", 1)
    clinic = demo.open_or_create_demo(today=date(2026, 3, 10))
    clinic.db.close()
    from app.data.keys import DatabaseKey

    again = open_clinic(paths.demo_database_path(), DatabaseKey(passphrase=demo.DEMO_PASSPHRASE))
    again.db.close()


def test_seeding_refuses_an_empty_clinic(tmp_path):
    with pytest.raises(ValueError):
        seed.create_seeded_clinic(tmp_path / "x.caredesk", patients=0, years=1, seed=1)
    assert not (tmp_path / "x.caredesk").exists()


def test_a_failed_seed_leaves_no_file_behind(tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(seed._Seeder, "write_patients", broken)
    target = tmp_path / "x.caredesk"
    with pytest.raises(RuntimeError):
        seed.create_seeded_clinic(target, **SMALL, seed=1)
    for suffix in ("", "-wal", "-shm"):
        assert not Path(str(target) + suffix).exists()


def test_seeded_patients_use_the_new_journey_and_are_found_by_the_search(seeded):
    from app.data.models.patients import JourneyStage
    from app.services.patients import search as patient_search

    with seeded.db.engine.connect() as conn:
        stages = set(conn.exec_driver_sql("SELECT DISTINCT journey_stage FROM patients").scalars())
        rows = conn.exec_driver_sql(
            "SELECT id, last_name, mobile_phone, email FROM patients"
            " WHERE is_active AND mobile_phone <> '' AND email <> '' ORDER BY id LIMIT 20"
        ).fetchall()
    assert stages <= {s.value for s in JourneyStage}
    assert {"inquiry", "follow_up"} <= stages
    assert rows
    with seeded.db.uow() as session:
        for row in rows:
            for query in (row.last_name, row.mobile_phone[2:], row.email):
                found = patient_search.search_in_session(session, query, limit=10_000)
                assert row.id in [h.id for h in found], query
