"""Live refresh across PCs: what one PC commits on the clinic server reaches the others'
listeners — kinds and ids only, never a name — and a rolled-back write says nothing."""

from __future__ import annotations

import queue

import pytest

from app.data.server import ServerAddress
from app.data.server_events import ChangeListener, ServerChange, parse_payload
from app.services.changes import Changes, changes_of_kinds
from app.services.errors import ValidationError
from app.services.patients.records import PatientForm, create_patient
from tests.pg_cluster import SERVER_APP_PASSWORD

pytestmark = pytest.mark.server_only


@pytest.fixture
def heard(clinic):
    """What a listener on another PC hears, one change at a time."""
    received: queue.Queue[ServerChange | None] = queue.Queue()
    connected: queue.Queue[bool] = queue.Queue()
    address: ServerAddress = clinic.server
    listener = ChangeListener(
        address,
        SERVER_APP_PASSWORD,
        received.put,
        on_connection=connected.put,
    )
    listener.start()
    assert connected.get(timeout=10) is True
    yield received
    listener.stop()
    assert not listener.running


def test_a_new_patient_reaches_the_other_pcs_with_its_id_and_no_name(clinic, owner, heard):
    record = create_patient(clinic.db, owner, PatientForm("Zoë", "Nguyễn"))
    change = heard.get(timeout=10)
    assert change.kinds == {"patients", "audit"}
    assert record.id in change.ids_of("patients")
    assert change.origin == clinic.db.origin and change.workstation
    assert changes_of_kinds(change.kinds) == Changes(patients=True, audit=True)


def test_nothing_is_announced_for_a_write_that_did_not_commit(clinic, owner, heard):
    with pytest.raises(ValidationError):
        create_patient(clinic.db, owner, PatientForm("", ""))
    create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz"))
    change = heard.get(timeout=10)
    assert "patients" in change.kinds
    assert heard.empty()  # the refused one said nothing before or after


def test_a_notification_never_carries_what_was_written(clinic, owner, monkeypatch):
    """The payload as sent: kinds, ids, the sender — none of the patient's details."""
    from app.data import server_events

    sent: list[str] = []
    real = server_events.payload_of
    monkeypatch.setattr(
        "app.services.clinic.uow.payload_of", lambda *a: sent.append(real(*a)) or sent[-1]
    )
    create_patient(clinic.db, owner, PatientForm("Zoë", "Nguyễn", email="zoe@example.com"))
    [payload] = sent
    for detail in ("Zo", "Nguy", "zoe@", "example"):
        assert detail not in payload
    assert parse_payload(payload).kinds == {"patients", "audit"}


def test_a_payload_too_long_for_one_notification_says_more_changed():
    from app.data.server_events import MAX_PAYLOAD_BYTES, payload_of

    rows = [("appointments", n) for n in range(5000)]
    payload = payload_of(["appointments"], rows, "sender")
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES + 200
    change = parse_payload(payload)
    assert change.more and change.kinds == {"appointments"}


def test_a_notification_from_another_program_is_ignored():
    assert parse_payload("hello") is None
    assert parse_payload('{"k": 5}') is None
