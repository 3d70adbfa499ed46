"""Message wording: the built-in texts, the clinic's edits checked when saved, and filling
them in — in the patient's language, saying no more than the clinic allows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.data.models.messages import MessageKind, MessagingSettings
from app.data.models.payments import Installment, PaymentPlan
from app.data.models.staff import Role
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.messages import templates
from app.services.messages.queueing import message_language, message_values
from app.services.messages.settings import current_config
from app.services.messages.templates import (
    CHANNEL_LABELS,
    KIND_LABELS,
    LANGUAGES,
    OPT_OUT_LINES,
    PLACEHOLDERS,
    TEXT_MAX,
    builtin_template,
    check_template,
    fill_template,
    preview_template,
    render,
    reset_template,
    sample_values,
    save_template,
    template_list,
)
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

REMINDER = MessageKind.APPOINTMENT_REMINDER.value
CONFIRM = MessageKind.CONFIRMATION_REQUEST.value
EMAIL, TEXT = "email", "text"


def test_every_kind_channel_and_language_has_built_in_wording_that_passes_its_own_check():
    for kind in KIND_LABELS:
        for channel in CHANNEL_LABELS:
            for language in LANGUAGES:
                wording = builtin_template(kind, channel, language)
                assert wording.body.strip()
                check_template(kind, channel, wording.subject, wording.body)
                subject, body = fill_template(
                    kind, channel, language, wording.subject, wording.body,
                    sample_values(kind, language),
                )  # fmt: skip
                assert "{" not in subject + body
                if channel == TEXT:
                    assert body.endswith(OPT_OUT_LINES[language])
                    assert subject == ""
                else:
                    assert subject


def test_built_in_wording_names_no_service_or_provider():
    """Minimum necessary: the built-in texts never use {service} or {provider} directly
    (only {appointment}, which names them when the clinic allows)."""
    for kind in KIND_LABELS:
        for channel in CHANNEL_LABELS:
            for language in LANGUAGES:
                wording = builtin_template(kind, channel, language)
                assert "{service}" not in wording.subject + wording.body
                assert "{provider}" not in wording.subject + wording.body


def test_texts_say_how_to_confirm_and_how_to_stop_in_both_languages():
    _, english = fill_template(
        CONFIRM, TEXT, "en", "", builtin_template(CONFIRM, TEXT, "en").body,
        sample_values(CONFIRM, "en"),
    )  # fmt: skip
    _, spanish = fill_template(
        CONFIRM, TEXT, "es", "", builtin_template(CONFIRM, TEXT, "es").body,
        sample_values(CONFIRM, "es"),
    )  # fmt: skip
    assert "Reply C to confirm" in english
    assert english.endswith("Reply STOP to opt out.")
    assert "Responda SI para confirmar" in spanish
    assert spanish.endswith("Responda BAJA para no recibir más.")


def test_a_line_of_only_blank_placeholders_is_left_out():
    values = sample_values(REMINDER, "en") | {"clinic_address": ""}
    _, body = fill_template(
        REMINDER, TEXT, "en", "", builtin_template(REMINDER, TEXT, "en").body, values
    )
    assert "\n\n" not in body
    assert body.splitlines()[1].startswith("To change it, call")


@pytest.mark.parametrize(
    ("channel", "subject", "body", "field", "words"),
    [
        (EMAIL, "Hi", "Your visit with {dentist} is soon.", "body", "“{dentist}”"),
        (EMAIL, "Visit on {dat}", "Your visit is soon.", "subject", "“{dat}”"),
        (TEXT, "", "Owed: {amount}", "body", "“{amount}”"),
        (EMAIL, "Hi", "Your visit is on {date.", "body", "brace"),
        (EMAIL, "Hi", "Your visit is on {date:%d}.", "body", "{date:%d}"),
        (EMAIL, "Hi", "   ", "body", "body is empty"),
        (EMAIL, "  ", "Your visit is on {date}.", "subject", "needs a subject"),
        (EMAIL, "Line one\nline two", "Your visit is on {date}.", "subject", "one line"),
        (TEXT, "", "x" * (TEXT_MAX - 5), "body", f"at most {TEXT_MAX} characters"),
    ],
)
def test_wording_that_would_go_out_wrongly_is_refused_naming_why_and_nothing_changes(
    clinic, owner, channel, subject, body, field, words
):
    kept = save_template(
        clinic.db, owner, REMINDER, channel, "en", "Soon: {date}", "See you {date} at {time}.",
        version=None,
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        save_template(
            clinic.db, owner, REMINDER, channel, "en", subject, body, version=kept.version
        )
    assert words in str(refused.value)
    assert refused.value.field == field
    stored = _stored(clinic, owner, REMINDER, channel, "en")
    assert (stored.body, stored.version, stored.is_default) == (
        "See you {date} at {time}.",
        kept.version,
        False,
    )


def test_an_unknown_placeholder_is_named_with_the_ones_the_kind_may_use(clinic, owner):
    with pytest.raises(ValidationError) as refused:
        save_template(
            clinic.db, owner, MessageKind.RECALL_DUE.value, EMAIL, "es", "Hola",
            "Su cita con {provider} está pendiente.", version=None,
        )  # fmt: skip
    message = str(refused.value)
    assert "“{provider}”" in message
    assert "recall due" in message
    assert "{clinic_name}" in message and "{service}" in message
    assert _stored(clinic, owner, MessageKind.RECALL_DUE.value, EMAIL, "es").is_default


def _stored(clinic, owner, kind, channel, language):
    return next(
        t
        for t in template_list(clinic.db, owner)
        if (t.kind, t.channel, t.language) == (kind, channel, language)
    )


def test_list_holds_every_kind_channel_and_language(clinic, owner):
    listed = template_list(clinic.db, owner)
    assert len(listed) == len(KIND_LABELS) * len(CHANNEL_LABELS) * len(LANGUAGES)
    assert all(t.is_default and t.version is None for t in listed)


def test_saved_wording_is_used_then_reset_to_built_in(clinic, owner):
    saved = save_template(
        clinic.db, owner, REMINDER, TEXT, "es", "ignored for texts",
        "{clinic_name}: su cita es el {date} a las {time}.", version=None,
    )  # fmt: skip
    assert (saved.subject, saved.is_default, saved.version) == ("", False, 1)
    with clinic.db.uow() as session:
        _, body = render(session, REMINDER, TEXT, "es", sample_values(REMINDER, "es"))
    assert body.startswith("Bright Smile Clinic: su cita es el martes, 8 de diciembre")
    assert body.endswith("Responda BAJA para no recibir más.")

    with pytest.raises(ConcurrentEditError):
        save_template(clinic.db, owner, REMINDER, TEXT, "es", "", "{date}", version=None)

    reset = reset_template(clinic.db, owner, REMINDER, TEXT, "es")
    assert reset == builtin_template(REMINDER, TEXT, "es")
    assert _stored(clinic, owner, REMINDER, TEXT, "es").is_default


def test_saving_the_built_in_wording_goes_back_to_it(clinic, owner):
    builtin = builtin_template(REMINDER, EMAIL, "en")
    edited = save_template(
        clinic.db, owner, REMINDER, EMAIL, "en", builtin.subject, builtin.body + " Thanks.",
        version=None,
    )  # fmt: skip
    back = save_template(
        clinic.db, owner, REMINDER, EMAIL, "en", builtin.subject, builtin.body,
        version=edited.version,
    )  # fmt: skip
    assert back.is_default
    assert _stored(clinic, owner, REMINDER, EMAIL, "en").is_default


def test_only_who_manages_settings_changes_wording(clinic, make_staff):
    desk = make_staff("desk", Role.RECEPTIONIST.value)
    with pytest.raises(PermissionDeniedError):
        save_template(clinic.db, desk, REMINDER, TEXT, "en", "", "{date}", version=None)
    with pytest.raises(PermissionDeniedError):
        reset_template(clinic.db, desk, REMINDER, TEXT, "en")


def _allow_names(clinic, service: bool, provider: bool) -> None:
    with clinic.db.uow() as session:
        row = session.get(MessagingSettings, 1) or MessagingSettings(id=1)
        row.include_service_name, row.include_provider_name = service, provider
        session.add(row)


def test_preview_names_the_service_only_when_the_clinic_allows(clinic, owner):
    body = "{clinic_name}: {appointment} on {date}; {service} {provider}"
    _, plain = preview_template(clinic.db, owner, REMINDER, TEXT, "en", "", body)
    assert "Hygiene" not in plain and "Dr. Lee" not in plain
    assert plain.startswith("Bayside Dental: your appointment on Tuesday, December 8, 2026;")
    _allow_names(clinic, service=True, provider=True)
    _, named = preview_template(clinic.db, owner, REMINDER, TEXT, "en", "", body)
    assert "your appointment for Hygiene visit with Dr. Lee on" in named


def test_preview_writes_as_the_clinic_would_in_spanish(clinic, owner):
    subject, body = preview_template(
        clinic.db, owner, MessageKind.INSTALLMENT_DUE.value, EMAIL, "es",
        "Pago de {amount}", "{clinic_name}, {clinic_address}: vence el {date}.",
    )  # fmt: skip
    assert subject == "Pago de $125.00"
    assert body == (
        "Bayside Dental, 12 Harbour Road, Portland, ME 04101: vence el martes, 8 de diciembre "
        "de 2026."
    )


def test_preview_refuses_what_a_save_refuses(clinic, owner):
    with pytest.raises(ValidationError, match=r"“\{amount\}”"):
        preview_template(clinic.db, owner, REMINDER, TEXT, "en", "", "{amount}")


# --- the values a message is filled with ------------------------------------------------------


@pytest.fixture
def visit(clinic):
    """A visit on Tuesday Dec 8 2026 at 9:30 in New York (the clinic's zone)."""
    with clinic.db.uow() as session:
        patient = add_patient(session, first_name="María", preferred_language="es")
        provider = add_provider(session, name="Ana Lee", title="Dr.")
        service = add_service(session, name="Hygiene visit", name_es="Limpieza dental")
        appointment = add_appointment(
            session, patient, provider, service_id=service.id,
            starts_at=datetime(2026, 12, 8, 14, 30, tzinfo=UTC),
            ends_at=datetime(2026, 12, 8, 15, 0, tzinfo=UTC),
        )  # fmt: skip
        return patient.id, appointment.id


def _values(clinic, visit, language):
    from app.data.models.appointments import Appointment
    from app.data.models.patients import Patient

    with clinic.db.uow() as session:
        config = current_config(session)
        patient = session.get(Patient, visit[0])
        appointment = session.get(Appointment, visit[1])
        return message_values(
            session, config, patient=patient, appointment=appointment, language=language
        )


def test_spanish_values_write_the_date_and_time_in_spanish_in_the_clinics_zone(clinic, visit):
    values = _values(clinic, visit, "es")
    assert values["date"] == "martes, 8 de diciembre de 2026"
    # Spanish as written in the clinic's country (es_US): 12-hour times.
    assert values["time"] == "9:30\u202fa.m."
    assert values["appointment"] == "su cita"
    english = _values(clinic, visit, "en")
    assert english["date"] == "Tuesday, December 8, 2026"
    assert english["time"] == "9:30\u202fAM"
    assert english["clinic_name"] == "Bayside Dental"
    assert english["clinic_address"] == "12 Harbour Road, Portland, ME 04101"


def test_values_leave_out_the_service_and_provider_unless_allowed(clinic, visit):
    values = _values(clinic, visit, "es")
    assert (values["service"], values["provider"]) == ("", "")
    _allow_names(clinic, service=True, provider=False)
    values = _values(clinic, visit, "es")
    assert values["service"] == "Limpieza dental"
    assert values["provider"] == ""
    assert values["appointment"] == "su cita de Limpieza dental"
    _allow_names(clinic, service=True, provider=True)
    assert _values(clinic, visit, "en")["appointment"] == (
        "your appointment for Hygiene visit with Dr. Ana Lee"
    )


def test_an_installment_is_filled_with_what_is_still_owed(clinic):
    with clinic.db.uow() as session:
        patient = add_patient(session)
        plan = PaymentPlan(
            patient_id=patient.id, status="active", plan_date=date(2026, 11, 1),
            total_amount=Decimal("300.00"), financed_amount=Decimal("300.00"),
            installment_count=1, first_due_on=date(2026, 12, 1),
        )  # fmt: skip
        session.add(plan)
        session.flush()
        installment = Installment(
            payment_plan_id=plan.id, sequence=1, due_on=date(2026, 12, 1),
            amount=Decimal("300.00"), principal=Decimal("300.00"),
            balance_after=Decimal("0.00"), paid_amount=Decimal("100.00"),
        )  # fmt: skip
        session.add(installment)
        session.flush()
        values = message_values(
            session, current_config(session), patient=patient, installment=installment,
            language="es",
        )  # fmt: skip
    assert values["amount"] == "$200.00"  # es_US: the clinic's own dollars
    assert values["date"] == "martes, 1 de diciembre de 2026"


def test_a_patient_with_no_language_gets_the_clinics(clinic):
    with clinic.db.uow() as session:
        assert message_language(session, "") == "en"
        assert message_language(session, "es") == "es"
        assert message_language(session, "fr") == "en"
        from app.data.models.clinic import ClinicSettings

        session.get(ClinicSettings, 1).locale = "es_MX"
        session.flush()
        assert message_language(session, "") == "es"
        assert message_language(session, None) == "es"


def test_placeholders_of_every_kind_are_described():
    for names in PLACEHOLDERS.values():
        for name in names:
            assert name in templates.PLACEHOLDER_DESCRIPTIONS


def test_doubled_braces_print_a_brace_and_a_texts_subject_is_ignored():
    check_template(REMINDER, TEXT, "{not_checked}", "Code {{A1}} on {date}")
    _, body = fill_template(REMINDER, TEXT, "en", "", "Code {{A1}} on {date}", {"date": "Dec 8"})
    assert body == "Code {A1} on Dec 8\nReply STOP to opt out."
