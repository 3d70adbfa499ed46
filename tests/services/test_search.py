"""Patient search: accents, name words, phone formats, dates of birth, chart numbers, paging."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.clinic import compiled
from app.services.errors import PermissionDeniedError
from app.services.patients import journey
from app.services.patients import records as patients
from app.services.patients import search as patient_search
from app.services.patients.records import PatientForm

pytestmark = pytest.mark.both_backends


@pytest.fixture
def people(clinic, owner) -> dict[str, int]:
    rows = {
        "zoe": PatientForm(
            first_name="Zoë",
            last_name="Nguyễn",
            preferred_name="Zo",
            date_of_birth=date(1985, 3, 14),
            mobile_phone="(512) 555-0142",
            email="zoe.nguyen@example.com",
        ),
        "jose": PatientForm(
            first_name="José",
            last_name="Núñez García",
            date_of_birth=date(1990, 7, 1),
            home_phone="737-555-0100",
        ),
        "ann": PatientForm(first_name="Ann", last_name="Smith-Jones", email="ann@example.org"),
    }
    return {key: patients.create_patient(clinic.db, owner, f).id for key, f in rows.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zoe", ["zoe"]),
        ("nguyen", ["zoe"]),
        ("NGUYỄN zo", ["zoe"]),
        ("nguyen ann", []),
        ("garcia", ["jose"]),
        ("nunez jo", ["jose"]),
        ("jones", ["ann"]),
        ("smith-j", ["ann"]),
        ("(512) 555-0142", ["zoe"]),
        ("5125550142", ["zoe"]),
        ("+1 512 555", ["zoe"]),
        ("512-555", ["zoe"]),
        ("737.555.0100", ["jose"]),
        ("zoe.nguyen@ex", ["zoe"]),
        ("ann@", ["ann"]),
        ("1985-03-14", ["zoe"]),
        ("3/14/85", ["zoe"]),
        ("03/14/1985", ["zoe"]),
        ("7/1/1990", ["jose"]),
        ("P000003", ["ann"]),
        ("p000002", ["jose"]),
        ("", []),
        ("   ", []),
        ("\x00", []),
        ("qqq", []),
    ],
)
def test_search_finds(clinic, owner, people, query, expected) -> None:
    hits = patient_search.search_patients(clinic.db, owner, query)
    assert [h.id for h in hits] == [people[k] for k in expected]


def test_hits_carry_what_the_list_shows(clinic, owner, people) -> None:
    (hit,) = patient_search.search_patients(clinic.db, owner, "zoe")
    assert hit.display_name == "Nguyễn, Zoë (Zo)"
    assert hit.phone == "(512) 555-0142"
    assert hit.chart_number == "P000001"
    assert hit.journey_stage == "inquiry"


def test_results_are_in_name_order_and_page_with_offset(clinic, owner) -> None:
    for first in ("Carl", "Amy", "Bea", "Dan"):
        patients.create_patient(clinic.db, owner, PatientForm(first_name=first, last_name="Lee"))
    page1 = patient_search.search_patients(clinic.db, owner, "lee", limit=2)
    page2 = patient_search.search_patients(clinic.db, owner, "lee", limit=2, offset=2)
    assert [h.first_name for h in page1 + page2] == ["Amy", "Bea", "Carl", "Dan"]


def test_inactive_patients_only_when_asked(clinic, owner, people) -> None:
    journey.set_journey_stage(clinic.db, owner, people["ann"], "inactive", "Moved away")
    assert patient_search.search_patients(clinic.db, owner, "jones") == []
    found = patient_search.search_patients(clinic.db, owner, "jones", include_inactive=True)
    assert [h.id for h in found] == [people["ann"]]


def test_search_needs_permission_to_see_patients(clinic, owner, make_staff, monkeypatch) -> None:
    from app.services.clinic import permissions

    rita = make_staff("rita", "receptionist")
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, rita.role, frozenset())
    with pytest.raises(PermissionDeniedError):
        patient_search.search_patients(clinic.db, rita, "zoe")


_letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüñøç", min_size=2, max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    last=_letters,
    first=_letters,
    phone_tail=st.integers(min_value=0, max_value=9999),
    user=st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
)
def test_every_patient_is_found_by_own_last_name_phone_and_email(
    clinic, owner, last, first, phone_tail, user
) -> None:
    phone = f"512555{phone_tail:04d}"
    created = patients.create_patient(
        clinic.db,
        owner,
        PatientForm(
            first_name=first.title(),
            last_name=last.title(),
            mobile_phone=phone,
            email=f"{user}@example.com",
        ),
    )
    for query in (last.upper(), f"({phone[:3]}) {phone[3:6]}-{phone[6:]}", f"{user}@example.com"):
        found = patient_search.search_patients(clinic.db, owner, query, limit=1000)
        assert created.id in [h.id for h in found], query


def test_command_line_search_is_audited_as_who_signed_in_without_the_query(
    clinic, owner, people
) -> None:
    from app.services.clinic import audit_log

    hits = patient_search.command_search(clinic.db, owner, "nguyen")
    assert [h.id for h in hits] == [people["zoe"]]
    (row,) = audit_log.list_entries(clinic.db, owner, audit_log.AuditFilter(action="export"))
    assert row.username == "owner"
    assert row.detail == "command-line patient search: 1 result(s)"
    assert "nguyen" not in row.detail


@pytest.fixture
def h_people(clinic, owner) -> dict[str, int]:
    forms = {
        "hall": PatientForm(first_name="Amy", last_name="Hall", mobile_phone="512-555-0101"),
        "harris": PatientForm(first_name="Ben", last_name="Harris", home_phone="512-555-0199"),
        "hannah": PatientForm(
            first_name="Hannah",
            last_name="Adams",
            mobile_phone="512-555-0102",
            home_phone="512-555-0103",  # two numbers with one prefix: still listed once
        ),
        "henry": PatientForm(first_name="Henry", last_name="Baker", email="hb@example.com"),
        "hugo": PatientForm(first_name="Carl", last_name="Diaz", preferred_name="Hugo"),
    }
    return {key: patients.create_patient(clinic.db, owner, f).id for key, f in forms.items()}


def test_last_name_matches_come_first_then_other_words_in_word_order(
    clinic, owner, h_people
) -> None:
    found = patient_search.search_patients(clinic.db, owner, "h")
    # Henry Baker matches by his first name and by his e-mail; he is listed once, at "hb@…".
    expected = ["hall", "harris", "hannah", "henry", "hugo"]
    assert [h.id for h in found] == [h_people[k] for k in expected]


@pytest.mark.parametrize("query", ["h", "ha", "512555", "512-555-01", "h b"])
def test_pages_join_up_across_the_tiers(clinic, owner, h_people, query) -> None:
    whole = [h.id for h in patient_search.search_patients(clinic.db, owner, query, limit=100)]
    assert whole and len(whole) == len(set(whole))
    for size in (1, 2, 3):
        paged = []
        for offset in range(0, len(whole) + size, size):
            paged += [
                h.id
                for h in patient_search.search_patients(
                    clinic.db, owner, query, limit=size, offset=offset
                )
            ]
        assert paged == whole, (query, size)


def test_an_exact_chart_number_comes_before_phone_matches(clinic, owner, h_people) -> None:
    chart_of_harris = patients.open_patient(clinic.db, owner, h_people["harris"]).chart_number
    digits = chart_of_harris.lstrip("P").lstrip("0")
    found = patient_search.search_patients(clinic.db, owner, digits)
    assert found[0].id == h_people["harris"]


def test_patients_written_before_the_search_index_are_indexed_on_upgrade(clinic, owner) -> None:
    from sqlalchemy import delete

    from app.data.models.patients import PatientSearchTerm

    created = patients.create_patient(
        clinic.db, owner, PatientForm(first_name="Zoë", last_name="Nguyễn", email="zn@example.com")
    )
    with clinic.db.uow() as session:  # as a database from before migration 0003 holds it
        session.execute(delete(PatientSearchTerm).where(PatientSearchTerm.patient_id == created.id))
    assert patient_search.search_patients(clinic.db, owner, "zn@ex") == []
    with clinic.db.uow() as session:
        assert patient_search.index_unindexed_patients(session) == 1
    with clinic.db.uow() as session:
        assert patient_search.index_unindexed_patients(session) == 0
    assert [h.id for h in patient_search.search_patients(clinic.db, owner, "nguyen")] == [
        created.id
    ]
    assert [h.id for h in patient_search.search_patients(clinic.db, owner, "zn@ex")] == [created.id]


def _statements_of(db, call) -> list[str]:
    from sqlalchemy import event

    sent: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return sent


def test_names_need_no_settings_and_no_second_query_for_the_rows(clinic, owner, h_people) -> None:
    sent = _statements_of(clinic.db, lambda: patient_search.search_patients(clinic.db, owner, "h"))
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    # The account as it is now (sessions.py), then the two tiers, each with the columns
    # the list shows.
    assert len(reads) == 3 and "FROM staff" in reads[0]
    assert not any("clinic_settings" in s for s in reads)
    sent = _statements_of(
        clinic.db, lambda: patient_search.search_patients(clinic.db, owner, "512555")
    )
    assert any("clinic_settings" in s for s in sent)  # a phone number needs the country


def test_a_known_shape_is_reused_with_new_values(clinic, owner, h_people, monkeypatch) -> None:
    for query in ("h", "h b", "512555", "3/14/85", "P000002", "hall hall"):
        patient_search.search_patients(clinic.db, owner, query, include_inactive=True)

    def build_again(*args):
        raise AssertionError("a statement was built again")

    monkeypatch.setattr(compiled.CompiledStatement, "of", build_again)
    found = patient_search.search_patients(clinic.db, owner, "ha", include_inactive=True)
    assert [h.id for h in found] == [h_people[k] for k in ("hall", "harris", "hannah")]
    found = patient_search.search_patients(clinic.db, owner, "harris b", include_inactive=True)
    assert [h.id for h in found] == [h_people["harris"]]
    assert patient_search.search_patients(clinic.db, owner, "hall hall", include_inactive=True)
