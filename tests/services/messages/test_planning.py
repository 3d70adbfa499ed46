"""Planning: the clinic's rules become queued messages once each — in the patient's language,
moved past the quiet hours, the service's own rules in place of the clinic-wide ones."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from app.data.models.appointments import Appointment
from app.data.models.clinic import ClinicSettings
from app.data.models.contacts import Contact
from app.data.models.messages import Message, MessageRule, MessagingSettings
from app.data.models.payments import Installment, PaymentPlan
from app.data.models.referrals import Referral
from app.services.messages import eligibility
from app.services.messages.planning import EMAIL_OFF, plan_messages
from app.services.messages.queueing import add_message, add_messages
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

NY = ZoneInfo("America/New_York")
BOOKED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


#: Monday Dec 7 2026, 4 pm at the clinic (New York).
NOW = ny(2026, 12, 7, 16, 0)


@pytest.fixture
def clinic_sends(clinic):
    """E-mail and texts turned on (quiet hours 20:00 → 08:00, the default)."""
    with clinic.db.uow() as session:
        session.add(MessagingSettings(id=1, email_enabled=True, text_enabled=True))
    return clinic


def _patient(session, **changes):
    values = {
        "mobile_phone": "+12075550123",
        "email": "ana@example.org",
        "may_text": True,
        "may_email": True,
    }
    return add_patient(session, **(values | changes))


def _visit(clinic, starts_at, *, service=None, **patient):
    with clinic.db.uow() as session:
        person = _patient(session, **patient)
        visit = add_appointment(
            session, person, add_provider(session), starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30), created_at=BOOKED_AT,
            service_id=service,
        )  # fmt: skip
        return visit.id


def _messages(clinic, **where):
    with clinic.db.uow() as session:
        query = select(Message).order_by(Message.id)
        for name, value in where.items():
            query = query.where(getattr(Message, name) == value)
        rows = session.scalars(query).all()
        session.expunge_all()
        return rows


def _only_rules(clinic, *rules):
    """Replace the clinic's rules with these (kind, offset, email, text[, service])."""
    with clinic.db.uow() as session:
        for rule in session.scalars(select(MessageRule)):
            rule.is_active = False
        for kind, offset, email, texts, *service in rules:
            session.add(
                MessageRule(
                    kind=kind, offset_minutes=offset, send_email=email, send_text=texts,
                    service_id=service[0] if service else None,
                )
            )  # fmt: skip


def test_a_new_clinic_starts_with_the_default_rules(clinic):
    with clinic.db.uow() as session:
        kinds = sorted(r.kind for r in session.scalars(select(MessageRule)))
    assert kinds.count("recall_due") == 2
    assert "confirmation_request" in kinds and "appointment_reminder" in kinds


@pytest.mark.both_backends
def test_each_message_is_queued_once(clinic_sends, owner):
    visit = _visit(clinic_sends, ny(2026, 12, 9, 15, 0))  # request went out at 3 pm today
    first = plan_messages(clinic_sends.db, owner, NOW)
    assert (first.queued, first.already) == (2, 0)
    again = plan_messages(clinic_sends.db, owner, NOW + timedelta(minutes=1))
    assert (again.queued, again.already) == (0, 2)
    messages = _messages(clinic_sends)
    assert {(m.kind, m.channel) for m in messages} == {
        ("confirmation_request", "email"),
        ("confirmation_request", "text"),
    }
    text_message = next(m for m in messages if m.channel == "text")
    assert text_message.to_address == "+12075550123"
    assert text_message.appointment_id == visit
    assert text_message.appointment_starts_at == ny(2026, 12, 9, 15, 0)
    assert text_message.due_at == ny(2026, 12, 7, 15, 0)
    assert "Wednesday, December 9, 2026" in text_message.body
    assert "Reply C to confirm" in text_message.body
    assert text_message.body.endswith("Reply STOP to opt out.")
    assert text_message.state == "queued"


def test_a_dry_run_counts_and_queues_nothing(clinic_sends, owner):
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0))
    assert plan_messages(clinic_sends.db, owner, NOW, dry_run=True).queued == 2
    assert _messages(clinic_sends) == []


def test_no_message_before_its_moment(clinic_sends, owner):
    _visit(clinic_sends, ny(2026, 12, 9, 17, 0))  # its request goes at 5 pm today
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 0
    assert plan_messages(clinic_sends.db, owner, ny(2026, 12, 7, 17, 0)).queued == 2


@pytest.mark.both_backends
def test_a_moved_visit_gets_new_messages_keyed_on_its_new_time(clinic_sends, owner):
    visit = _visit(clinic_sends, ny(2026, 12, 9, 15, 0))
    plan_messages(clinic_sends.db, owner, NOW)
    with clinic_sends.db.uow() as session:
        moved = session.get(Appointment, visit)
        moved.starts_at, moved.ends_at = ny(2026, 12, 9, 15, 30), ny(2026, 12, 9, 16, 0)
    summary = plan_messages(clinic_sends.db, owner, NOW + timedelta(minutes=5))
    assert (summary.queued, summary.already) == (2, 0)
    old, new = _messages(clinic_sends)[:2], _messages(clinic_sends)[2:]
    assert {m.appointment_starts_at for m in new} == {ny(2026, 12, 9, 15, 30)}
    with clinic_sends.db.uow() as session:
        stale = session.get(Message, old[0].id)
        fresh = session.get(Message, new[0].id)
        assert eligibility.why_not_send(session, stale, NOW) == eligibility.VISIT_MOVED
        assert eligibility.why_not_send(session, fresh, NOW) is None


def test_quiet_hours_move_the_due_time(clinic_sends, owner):
    # The request's moment is 9 pm tonight, in the quiet hours: it waits for 8 am.
    _visit(clinic_sends, ny(2026, 12, 9, 21, 0))
    plan_messages(clinic_sends.db, owner, ny(2026, 12, 7, 21, 30))
    assert {m.due_at for m in _messages(clinic_sends)} == {ny(2026, 12, 8, 8, 0)}


def test_a_reminder_the_quiet_hours_would_hold_past_the_visit_is_skipped(clinic_sends, owner):
    _only_rules(clinic_sends, ("appointment_reminder", -120, False, True))
    _visit(clinic_sends, ny(2026, 12, 8, 7, 30))
    summary = plan_messages(clinic_sends.db, owner, ny(2026, 12, 8, 6, 0))
    assert summary.queued == 0
    assert summary.skipped == {"The quiet hours last until the visit.": 1}


def test_a_visit_booked_after_the_moment_gets_no_request(clinic_sends, owner):
    visit = _visit(clinic_sends, ny(2026, 12, 9, 15, 0))
    with clinic_sends.db.uow() as session:
        session.get(Appointment, visit).created_at = ny(2026, 12, 7, 15, 30)
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 0


def test_spanish_patient_gets_spanish_with_spanish_dates(clinic_sends, owner):
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), preferred_language="es")
    plan_messages(clinic_sends.db, owner, NOW)
    email, text_message = _messages(clinic_sends)
    assert email.language == text_message.language == "es"
    assert email.subject == "Por favor, confirme su cita del miércoles, 9 de diciembre de 2026"
    assert "a las 3:00\u202fp.m." in email.body
    assert "Responda SI para confirmar" in text_message.body
    assert text_message.body.endswith("Responda BAJA para no recibir más.")


def test_a_patient_with_no_language_gets_the_clinics(clinic_sends, owner):
    with clinic_sends.db.uow() as session:
        session.get(ClinicSettings, 1).locale = "es_MX"
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), preferred_language="")
    plan_messages(clinic_sends.db, owner, NOW)
    assert {m.language for m in _messages(clinic_sends)} == {"es"}
    assert "miércoles, 9 de diciembre de 2026" in _messages(clinic_sends)[0].body


def test_minimum_necessary_no_service_or_provider_unless_turned_on(clinic_sends, owner):
    with clinic_sends.db.uow() as session:
        service = add_service(session, name="Botox").id
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), service=service)
    plan_messages(clinic_sends.db, owner, NOW)
    assert all("Botox" not in m.body + m.subject for m in _messages(clinic_sends))
    assert all("Provider" not in m.body for m in _messages(clinic_sends))
    with clinic_sends.db.uow() as session:
        session.get(MessagingSettings, 1).include_service_name = True
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), service=service)
    plan_messages(clinic_sends.db, owner, NOW)
    named = _messages(clinic_sends)[2:]
    assert all("your appointment for Botox" in m.body for m in named)


def test_who_may_not_get_one_is_counted_by_why(clinic_sends, owner):
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), may_text=False)
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0), email="", text_opted_out_at=BOOKED_AT)
    summary = plan_messages(clinic_sends.db, owner, NOW)
    assert summary.queued == 1
    assert summary.skipped == {
        eligibility.NO_TEXT_CONSENT: 1,
        eligibility.OPTED_OUT: 1,
        eligibility.NO_EMAIL: 1,
    }


def test_a_channel_turned_off_queues_nothing_on_it(clinic_sends, owner):
    with clinic_sends.db.uow() as session:
        session.get(MessagingSettings, 1).email_enabled = False
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0))
    summary = plan_messages(clinic_sends.db, owner, NOW)
    assert summary.queued == 1
    assert summary.skipped == {EMAIL_OFF: 1}


def test_a_services_own_rule_replaces_the_clinic_wide_one(clinic_sends, owner):
    with clinic_sends.db.uow() as session:
        laser = add_service(session, name="Laser").id
    _only_rules(
        clinic_sends,
        ("appointment_reminder", -120, False, True),
        ("appointment_reminder", -24 * 60, True, False, laser),
    )
    # Both visits are in 90 minutes: the clinic-wide "2 hours before" has come for both.
    laser_visit = _visit(clinic_sends, NOW + timedelta(minutes=90), service=laser)
    plain_visit = _visit(clinic_sends, NOW + timedelta(minutes=90))
    plan_messages(clinic_sends.db, owner, NOW)
    with clinic_sends.db.uow() as session:
        laser_rule, wide_rule = (
            session.scalar(select(MessageRule.id).where(MessageRule.service_id == laser)),
            session.scalar(
                select(MessageRule.id).where(
                    MessageRule.is_active, MessageRule.service_id.is_(None)
                )
            ),
        )
    sent = {(m.appointment_id, m.rule_id, m.channel) for m in _messages(clinic_sends)}
    assert sent == {(laser_visit, laser_rule, "email"), (plain_visit, wide_rule, "text")}


@pytest.mark.both_backends
def test_recall_when_due_unless_something_is_booked(clinic_sends, owner):
    _only_rules(clinic_sends, ("recall_due", 0, True, False))
    with clinic_sends.db.uow() as session:
        cleaning = add_service(session, name="Cleaning", recall_interval_days=180)
        provider = add_provider(session)
        last_visit = ny(2026, 6, 10, 10, 0)  # + 180 days = Dec 7
        due, booked = _patient(session), _patient(session)
        for patient in (due, booked):
            add_appointment(
                session, patient, add_provider(session), service_id=cleaning.id,
                status="completed",
                starts_at=last_visit, ends_at=last_visit + timedelta(hours=1),
                created_at=BOOKED_AT - timedelta(days=200),
            )  # fmt: skip
        add_appointment(
            session, booked, provider, starts_at=ny(2027, 1, 5, 9, 0),
            ends_at=ny(2027, 1, 5, 10, 0), created_at=BOOKED_AT,
        )  # fmt: skip
        due_id = due.id
    assert plan_messages(clinic_sends.db, owner, ny(2026, 12, 7, 7, 0)).queued == 0  # not open
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 1
    (message,) = _messages(clinic_sends)
    assert (message.kind, message.patient_id) == ("recall_due", due_id)
    assert message.due_at == ny(2026, 12, 7, 8, 0)  # the clinic opens at 8
    assert plan_messages(clinic_sends.db, owner, NOW + timedelta(days=1)).queued == 0


@pytest.mark.both_backends
def test_installment_reminders_only_while_unpaid(clinic_sends, owner):
    _only_rules(clinic_sends, ("installment_due", -3 * 24 * 60, True, False))
    with clinic_sends.db.uow() as session:
        ids = []
        for paid in (Decimal("0.00"), Decimal("150.00")):
            patient = _patient(session)
            plan = PaymentPlan(
                patient_id=patient.id, status="active", plan_date=date(2026, 11, 1),
                total_amount=Decimal("150.00"), financed_amount=Decimal("150.00"),
                installment_count=1, first_due_on=date(2026, 12, 10),
            )  # fmt: skip
            session.add(plan)
            session.flush()
            installment = Installment(
                payment_plan_id=plan.id, sequence=1, due_on=date(2026, 12, 10),
                amount=Decimal("150.00"), principal=Decimal("150.00"),
                balance_after=Decimal("0.00"), paid_amount=paid,
            )  # fmt: skip
            session.add(installment)
            session.flush()
            ids.append(installment.id)
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 1
    (message,) = _messages(clinic_sends)
    assert message.installment_id == ids[0]
    assert "$150.00" in message.body and "Thursday, December 10, 2026" in message.body


@pytest.mark.both_backends
def test_a_taken_key_is_not_queued_twice_even_past_the_check(clinic_sends, owner):
    """Another PC inserting the same message meanwhile: the second insert meets the key."""
    args = dict(
        kind="custom", channel="text", to_address="+12075550123", language="en", subject="",
        body="Hi", due_at=NOW, automatic_key="custom:test:1",
    )  # fmt: skip
    with clinic_sends.db.uow() as session:
        args["patient_id"] = _patient(session).id
        assert add_message(session, **args) is not None
    with clinic_sends.db.uow() as session:
        assert add_message(session, **args) is None
        # The rest of the transaction stands.
        assert add_message(session, **(args | {"automatic_key": "custom:test:2"})) is not None
    assert len(_messages(clinic_sends)) == 2
    # Many at once: the batch meets a key taken meanwhile and goes again one by one.
    batch = [args | {"automatic_key": f"custom:test:{n}"} for n in range(1, 6)]
    with clinic_sends.db.uow() as session:
        assert add_messages(session, batch) == 3
    keys = [m.automatic_key for m in _messages(clinic_sends)]
    assert sorted(keys) == [f"custom:test:{n}" for n in range(1, 6)]


@pytest.mark.both_backends
def test_two_sessions_planning_at_once_queue_each_message_once(clinic_sends, owner):
    for hour in (15, 15, 14):
        _visit(clinic_sends, ny(2026, 12, 9, hour, 0))
    start = threading.Barrier(2)
    results, errors = [], []

    def plan() -> None:
        try:
            start.wait()
            results.append(plan_messages(clinic_sends.db, owner, NOW))
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=plan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.queued for r in results) == 6
    assert len(_messages(clinic_sends)) == 6


def test_planning_reads_the_big_tables_through_indexes(clinic_sends, owner):
    """No full scan of appointments, patients, installments or messages: a day's planning
    over a 100,000-patient clinic stays a few index ranges."""
    _visit(clinic_sends, ny(2026, 12, 9, 15, 0))
    with clinic_sends.db.uow() as session:
        cleaning = add_service(session, name="Cleaning", recall_interval_days=180)
        add_appointment(
            session, _patient(session), add_provider(session), service_id=cleaning.id,
            status="completed", starts_at=ny(2026, 6, 10, 10, 0), ends_at=ny(2026, 6, 10, 11, 0),
        )  # fmt: skip
        session.add_all(
            [
                MessageRule(kind="post_treatment", offset_minutes=24 * 60),
                MessageRule(kind="referral_reminder", offset_minutes=7 * 24 * 60, send_text=False),
            ]
        )
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = clinic_sends.db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        plan_messages(clinic_sends.db, owner, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    big = ("appointments", "patients", "installments", "messages", "referrals")
    scans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                detail = row[-1]
                if detail.startswith("SCAN") and any(f" {t}" in detail for t in big):
                    scans.append(detail)
    assert scans == []
    read = " ".join(s for s, _ in statements)
    assert all(table in read for table in big)


def test_after_treatment_while_the_visit_stays_completed(clinic_sends, owner):
    _only_rules(clinic_sends, ("post_treatment", 24 * 60, False, True))
    visit = _visit(clinic_sends, ny(2026, 12, 6, 11, 0))
    with clinic_sends.db.uow() as session:
        session.get(Appointment, visit).status = "completed"
    assert plan_messages(clinic_sends.db, owner, ny(2026, 12, 7, 10, 0)).queued == 0
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 1
    (message,) = _messages(clinic_sends)
    assert "thank you for your visit on Sunday, December 6, 2026" in message.body
    # A week and more later it is history: a first run does not send old follow-ups.
    _visit(clinic_sends, ny(2026, 11, 20, 11, 0))
    with clinic_sends.db.uow() as session:
        for row in session.scalars(select(Appointment)):
            row.status = "completed"
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 0


@pytest.mark.both_backends
def test_a_referral_reminder_goes_to_the_office_about_the_patient(clinic_sends, owner):
    _only_rules(clinic_sends, ("referral_reminder", 7 * 24 * 60, True, False))
    with clinic_sends.db.uow() as session:
        patient = _patient(session, first_name="Ana", last_name="Ruiz", preferred_language="es")
        office = Contact(kind="specialist", name="Dr. Patel", email="desk@patel.example")
        session.add(office)
        session.flush()
        session.add(
            Referral(
                patient_id=patient.id, direction="outgoing", contact_id=office.id,
                status="sent", referred_on=date(2026, 11, 28), sent_at=ny(2026, 11, 30, 10, 0),
            )
        )  # fmt: skip
        ids = patient.id, office.id
    assert plan_messages(clinic_sends.db, owner, NOW).queued == 1
    (message,) = _messages(clinic_sends)
    assert (message.patient_id, message.contact_id) == ids
    assert message.to_address == "desk@patel.example"
    assert message.language == "en"  # the clinic's, not the patient's
    assert message.subject == "Referral of Ana Ruiz from Bayside Dental"
    assert "Hello Dr. Patel," in message.body
