"""Message wording: the built-in English and Spanish texts of every kind of message on each
channel, the clinic's own edits of them, and filling them in.

Placeholders are ``{name}`` (``{{`` and ``}}`` for a brace itself), the same syntax as the
consent forms (:mod:`app.services.patients.consents`), and each kind may use only the names
in :data:`PLACEHOLDERS`: anything else is refused when saved, naming it, so a patient never
reads "{clinc_name}".  The built-in wording says the minimum a message needs — the clinic,
the date, the time, the address and the clinic's phone; ``{service}`` and ``{provider}`` (and
the words ``{appointment}`` adds) are blank unless the owner turns them on in Settings →
Messages.  Every text ends with how to stop texts, whatever the wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.messages import MessageChannel, MessageKind, MessageTemplate
from app.i18n import format_date, format_money, format_time
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import document_locale
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError
from app.services.messages.settings import current_config
from app.services.patients.consents import fill_placeholders, placeholders_in

__all__ = [
    "CHANNEL_LABELS",
    "KIND_LABELS",
    "LANGUAGES",
    "LANGUAGE_LABELS",
    "OPT_OUT_LINES",
    "PLACEHOLDERS",
    "PLACEHOLDER_DESCRIPTIONS",
    "SUBJECT_MAX",
    "TEXT_MAX",
    "TemplateText",
    "appointment_phrase",
    "builtin_template",
    "check_template",
    "fill_template",
    "preview_template",
    "render",
    "reset_template",
    "sample_values",
    "save_template",
    "template_in",
    "template_list",
]

#: Languages messages are written in; a patient's other language gets the clinic's.
LANGUAGES = ("en", "es")
LANGUAGE_LABELS = {"en": "English", "es": "Spanish"}
#: A text longer than this goes as more than four parts: refused when saved.
TEXT_MAX = 640
SUBJECT_MAX = 200

KIND_LABELS: dict[str, str] = {
    MessageKind.APPOINTMENT_REMINDER.value: "Appointment reminder",
    MessageKind.CONFIRMATION_REQUEST.value: "Confirmation request",
    MessageKind.RECALL_DUE.value: "Recall due",
    MessageKind.INSTALLMENT_DUE.value: "Installment due",
    MessageKind.INSTALLMENT_OVERDUE.value: "Installment overdue",
    MessageKind.POST_TREATMENT.value: "Post-treatment follow-up",
    MessageKind.REFERRAL_REMINDER.value: "Referral reminder to the specialist",
    MessageKind.CUSTOM.value: "Custom message",
}
CHANNEL_LABELS: dict[str, str] = {
    MessageChannel.EMAIL.value: "E-mail",
    MessageChannel.TEXT.value: "Text",
}

#: What each placeholder is filled with (shown beside the template editor).
PLACEHOLDER_DESCRIPTIONS: dict[str, str] = {
    "clinic_name": "the clinic's name",
    "clinic_phone": "the clinic's phone number",
    "clinic_address": "the clinic's address on one line",
    "first_name": "the patient's first (or preferred) name",
    "date": "the date (of the visit, the due day, the referral)",
    "time": "the visit's time",
    "appointment": "“your appointment”, naming the service and provider when Settings allow",
    "service": "the service's name — blank unless Settings allow naming it",
    "provider": "the provider's name — blank unless Settings allow naming them",
    "amount": "the amount still owed on the installment",
    "patient_name": "the patient's full name (to the specialist's office)",
    "contact_name": "the specialist's or office's name",
    "message": "the text typed for a custom message",
}

_COMMON = ("clinic_name", "clinic_phone", "clinic_address")
_VISIT = (*_COMMON, "first_name", "date", "time", "appointment", "service", "provider")

#: Per kind, the placeholders its wording may use.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    MessageKind.APPOINTMENT_REMINDER.value: _VISIT,
    MessageKind.CONFIRMATION_REQUEST.value: _VISIT,
    MessageKind.RECALL_DUE.value: (*_COMMON, "first_name", "date", "service"),
    MessageKind.INSTALLMENT_DUE.value: (*_COMMON, "first_name", "date", "amount"),
    MessageKind.INSTALLMENT_OVERDUE.value: (*_COMMON, "first_name", "date", "amount"),
    MessageKind.POST_TREATMENT.value: (*_COMMON, "first_name", "date", "service", "provider"),
    MessageKind.REFERRAL_REMINDER.value: (*_COMMON, "date", "patient_name", "contact_name"),
    MessageKind.CUSTOM.value: (*_COMMON, "first_name", "message"),
}

#: The line every text ends with (added when the wording does not already end with it).
OPT_OUT_LINES = {"en": "Reply STOP to opt out.", "es": "Responda BAJA para no recibir más."}

_E, _T = MessageChannel.EMAIL.value, MessageChannel.TEXT.value
K = MessageKind

# (kind, channel, language) → (subject, body).  Addresses and phones sit on lines of their
# own: a clinic without one set loses the line, not a sentence.
_BUILTIN: dict[tuple[str, str, str], tuple[str, str]] = {
    # --- appointment reminder
    (K.APPOINTMENT_REMINDER, _E, "en"): (
        "Reminder: your appointment at {clinic_name} on {date}",
        "Hello,\n\nThis is a reminder of {appointment} at {clinic_name} on {date} at {time}.\n\n"
        "{clinic_address}\n\nIf you need to change it, please call us at {clinic_phone}.\n\n"
        "{clinic_name}",
    ),
    (K.APPOINTMENT_REMINDER, _E, "es"): (
        "Recordatorio: su cita en {clinic_name} el {date}",
        "Hola:\n\nLe recordamos {appointment} en {clinic_name} el {date} a las {time}.\n\n"
        "{clinic_address}\n\nSi necesita cambiarla, llámenos al {clinic_phone}.\n\n"
        "{clinic_name}",
    ),
    (K.APPOINTMENT_REMINDER, _T, "en"): (
        "",
        "{clinic_name}: reminder of {appointment} on {date} at {time}.\n{clinic_address}\n"
        "To change it, call {clinic_phone}.",
    ),
    (K.APPOINTMENT_REMINDER, _T, "es"): (
        "",
        "{clinic_name}: le recordamos {appointment} el {date} a las {time}.\n{clinic_address}\n"
        "Para cambiarla, llame al {clinic_phone}.",
    ),
    # --- confirmation request
    (K.CONFIRMATION_REQUEST, _E, "en"): (
        "Please confirm your appointment on {date}",
        "Hello,\n\nWe look forward to seeing you at {clinic_name} on {date} at {time} for "
        "{appointment}.\n\n{clinic_address}\n\nPlease confirm by calling us at {clinic_phone}, "
        "or call to change it if the time no longer suits you.\n\n{clinic_name}",
    ),
    (K.CONFIRMATION_REQUEST, _E, "es"): (
        "Por favor, confirme su cita del {date}",
        "Hola:\n\nLe esperamos en {clinic_name} el {date} a las {time} para {appointment}.\n\n"
        "{clinic_address}\n\nPor favor, confirme llamando al {clinic_phone}, o llame para "
        "cambiarla si la hora ya no le conviene.\n\n{clinic_name}",
    ),
    (K.CONFIRMATION_REQUEST, _T, "en"): (
        "",
        "{clinic_name}: {appointment} is on {date} at {time}.\n{clinic_address}\n"
        "Reply C to confirm, or call {clinic_phone} to change it.",
    ),
    (K.CONFIRMATION_REQUEST, _T, "es"): (
        "",
        "{clinic_name}: {appointment} es el {date} a las {time}.\n{clinic_address}\n"
        "Responda SI para confirmar, o llame al {clinic_phone} para cambiarla.",
    ),
    # --- recall due
    (K.RECALL_DUE, _E, "en"): (
        "Time to book your next visit at {clinic_name}",
        "Hello,\n\nIt is time to book your next visit at {clinic_name}. Please call us at "
        "{clinic_phone} to find a time that suits you.\n\n{clinic_address}\n\n{clinic_name}",
    ),
    (K.RECALL_DUE, _E, "es"): (
        "Es hora de reservar su próxima visita en {clinic_name}",
        "Hola:\n\nEs hora de reservar su próxima visita en {clinic_name}. Llámenos al "
        "{clinic_phone} para encontrar una hora que le convenga.\n\n{clinic_address}\n\n"
        "{clinic_name}",
    ),
    (K.RECALL_DUE, _T, "en"): (
        "",
        "{clinic_name}: it is time to book your next visit. Call {clinic_phone} to find a time.",
    ),
    (K.RECALL_DUE, _T, "es"): (
        "",
        "{clinic_name}: es hora de reservar su próxima visita. Llame al {clinic_phone} para "
        "elegir una hora.",
    ),
    # --- installment due
    (K.INSTALLMENT_DUE, _E, "en"): (
        "Your payment of {amount} is due on {date}",
        "Hello,\n\nA reminder that your payment plan installment of {amount} is due on {date}. "
        "You can pay at the front desk, or call us at {clinic_phone} with any questions.\n\n"
        "{clinic_name}",
    ),
    (K.INSTALLMENT_DUE, _E, "es"): (
        "Su pago de {amount} vence el {date}",
        "Hola:\n\nLe recordamos que la cuota de su plan de pagos de {amount} vence el {date}. "
        "Puede pagar en recepción o llamarnos al {clinic_phone} si tiene preguntas.\n\n"
        "{clinic_name}",
    ),
    (K.INSTALLMENT_DUE, _T, "en"): (
        "",
        "{clinic_name}: your installment of {amount} is due on {date}. "
        "Questions? Call {clinic_phone}.",
    ),
    (K.INSTALLMENT_DUE, _T, "es"): (
        "",
        "{clinic_name}: su cuota de {amount} vence el {date}. ¿Preguntas? Llame al {clinic_phone}.",
    ),
    # --- installment overdue
    (K.INSTALLMENT_OVERDUE, _E, "en"): (
        "Your payment of {amount} was due on {date}",
        "Hello,\n\nOur records show that your installment of {amount}, due on {date}, has not "
        "been paid yet. If you have paid it already, thank you, and please disregard this "
        "message. Otherwise please call us at {clinic_phone}.\n\n{clinic_name}",
    ),
    (K.INSTALLMENT_OVERDUE, _E, "es"): (
        "Su pago de {amount} venció el {date}",
        "Hola:\n\nSegún nuestros registros, su cuota de {amount}, que vencía el {date}, aún no "
        "está pagada. Si ya la pagó, gracias, y no tenga en cuenta este mensaje. Si no, "
        "llámenos al {clinic_phone}.\n\n{clinic_name}",
    ),
    (K.INSTALLMENT_OVERDUE, _T, "en"): (
        "",
        "{clinic_name}: your installment of {amount} due on {date} is not paid yet. "
        "Please call {clinic_phone}.",
    ),
    (K.INSTALLMENT_OVERDUE, _T, "es"): (
        "",
        "{clinic_name}: su cuota de {amount} que vencía el {date} aún no está pagada. "
        "Llame al {clinic_phone}.",
    ),
    # --- after a treatment
    (K.POST_TREATMENT, _E, "en"): (
        "How are you feeling after your visit?",
        "Hello,\n\nThank you for your visit to {clinic_name} on {date}. If you have any "
        "questions or concerns about how you are feeling, please call us at {clinic_phone}."
        "\n\n{clinic_name}",
    ),
    (K.POST_TREATMENT, _E, "es"): (
        "¿Cómo se encuentra después de su visita?",
        "Hola:\n\nGracias por su visita a {clinic_name} el {date}. Si tiene alguna pregunta o "
        "duda sobre cómo se encuentra, llámenos al {clinic_phone}.\n\n{clinic_name}",
    ),
    (K.POST_TREATMENT, _T, "en"): (
        "",
        "{clinic_name}: thank you for your visit on {date}. Any questions or concerns? "
        "Call us at {clinic_phone}.",
    ),
    (K.POST_TREATMENT, _T, "es"): (
        "",
        "{clinic_name}: gracias por su visita del {date}. ¿Alguna pregunta o duda? "
        "Llámenos al {clinic_phone}.",
    ),
    # --- to a specialist's office
    (K.REFERRAL_REMINDER, _E, "en"): (
        "Referral of {patient_name} from {clinic_name}",
        "Hello {contact_name},\n\nOn {date} we referred our patient {patient_name} to you, and "
        "we have not yet heard of a visit booked. Could you let us know when the patient will "
        "be seen? You can reach us at {clinic_phone}.\n\nThank you,\n{clinic_name}\n"
        "{clinic_address}",
    ),
    (K.REFERRAL_REMINDER, _E, "es"): (
        "Derivación de {patient_name} desde {clinic_name}",
        "Hola, {contact_name}:\n\nEl {date} le derivamos a nuestro paciente {patient_name} y "
        "aún no sabemos de ninguna visita reservada. ¿Podría indicarnos cuándo se le atenderá? "
        "Puede llamarnos al {clinic_phone}.\n\nGracias,\n{clinic_name}\n{clinic_address}",
    ),
    (K.REFERRAL_REMINDER, _T, "en"): (
        "",
        "{clinic_name}: we referred {patient_name} to you on {date} and have not heard of a "
        "visit booked. Please call us at {clinic_phone}.",
    ),
    (K.REFERRAL_REMINDER, _T, "es"): (
        "",
        "{clinic_name}: le derivamos a {patient_name} el {date} y no sabemos de ninguna visita "
        "reservada. Llámenos al {clinic_phone}.",
    ),
    # --- custom: the typed text inside the clinic's frame
    (K.CUSTOM, _E, "en"): (
        "A message from {clinic_name}",
        "{message}\n\n{clinic_name}\n{clinic_phone}",
    ),
    (K.CUSTOM, _E, "es"): (
        "Un mensaje de {clinic_name}",
        "{message}\n\n{clinic_name}\n{clinic_phone}",
    ),
    (K.CUSTOM, _T, "en"): ("", "{clinic_name}: {message}"),
    (K.CUSTOM, _T, "es"): ("", "{clinic_name}: {message}"),
}
_BUILTIN = {(str(k), c, lang): wording for (k, c, lang), wording in _BUILTIN.items()}
del K


@dataclass(frozen=True)
class TemplateText:
    kind: str
    channel: str
    language: str
    subject: str
    body: str
    #: True where the clinic has not changed the built-in wording.
    is_default: bool
    #: The saved row's version (None: the built-in wording, no row).
    version: int | None

    @property
    def placeholders(self) -> tuple[str, ...]:
        return PLACEHOLDERS[self.kind]


def _check_key(kind: str, channel: str, language: str) -> None:
    if kind not in KIND_LABELS:
        raise ValidationError(f"There is no kind of message “{kind}”.", field="kind")
    if channel not in CHANNEL_LABELS:
        raise ValidationError("Messages go by e-mail or by text.", field="channel")
    if language not in LANGUAGES:
        raise ValidationError(
            f"Messages are written in English or Spanish, not “{language}”.", field="language"
        )


def builtin_template(kind: str, channel: str, language: str) -> TemplateText:
    """CareDesk's own wording of one kind of message."""
    _check_key(kind, channel, language)
    subject, body = _BUILTIN[(kind, channel, language)]
    return TemplateText(kind, channel, language, subject, body, is_default=True, version=None)


def _of_row(row: MessageTemplate) -> TemplateText:
    return TemplateText(
        row.kind, row.channel, row.language, row.subject, row.body, False, row.version
    )


def _row(session: Session, kind: str, channel: str, language: str) -> MessageTemplate | None:
    return session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind,
            MessageTemplate.channel == channel,
            MessageTemplate.language == language,
        )
    )


def template_in(session: Session, kind: str, channel: str, language: str) -> TemplateText:
    """The wording in use: the clinic's own, else the built-in one."""
    row = _row(session, kind, channel, language)
    return _of_row(row) if row is not None else builtin_template(kind, channel, language)


def template_list(db: Database, actor: Actor) -> list[TemplateText]:
    """Every kind × channel × language, in that order, with the wording in use."""
    with reading(db, actor) as session:
        rows = {
            (r.kind, r.channel, r.language): r for r in session.scalars(select(MessageTemplate))
        }
    out = []
    for kind in KIND_LABELS:
        for channel in CHANNEL_LABELS:
            for language in LANGUAGES:
                row = rows.get((kind, channel, language))
                out.append(
                    _of_row(row) if row is not None else builtin_template(kind, channel, language)
                )
    return out


# --- checking and filling ---------------------------------------------------------------------


def _kind_words(kind: str) -> str:
    return KIND_LABELS[kind][:1].lower() + KIND_LABELS[kind][1:]


def check_template(kind: str, channel: str, subject: str, body: str) -> None:
    """Refuse wording that would go out wrongly: an empty body, an e-mail without a subject,
    a placeholder this kind has no value for (named), a brace that closes nothing, a text
    longer than :data:`TEXT_MAX` once filled.  A text's subject is ignored."""
    _check_key(kind, channel, LANGUAGES[0])
    fields = [("body", body)]
    if channel == MessageChannel.EMAIL.value:
        if not subject.strip():
            raise ValidationError("An e-mail needs a subject.", field="subject")
        if len(subject) > SUBJECT_MAX:
            raise ValidationError(
                f"Keep the subject under {SUBJECT_MAX} characters.", field="subject"
            )
        if "\n" in subject or "\r" in subject:
            raise ValidationError("Write the subject on one line.", field="subject")
        fields.insert(0, ("subject", subject))
    if not body.strip():
        raise ValidationError("Write the message itself: the body is empty.", field="body")
    allowed = PLACEHOLDERS[kind]
    for field, text in fields:
        for name in placeholders_in(text, field=field):
            if name not in allowed:
                known = ", ".join("{" + p + "}" for p in allowed)
                raise ValidationError(
                    f"The {field} uses “{{{name}}}”, which a {_kind_words(kind)} cannot fill "
                    f"in. Use one of: {known}.",
                    field=field,
                )
    if channel == MessageChannel.TEXT.value:
        for language in LANGUAGES:
            _, filled = fill_template(
                kind, channel, language, "", body, sample_values(kind, language)
            )
            if len(filled) > TEXT_MAX:
                raise ValidationError(
                    f"A text holds at most {TEXT_MAX} characters (four parts), the line on "
                    f"how to stop texts included; filled in, this one has {len(filled)}. "
                    "Shorten it.",
                    field="body",
                )


def _fill(text: str, values: Mapping[str, str]) -> str:
    """Fill ``text``; a line made only of placeholders that are all blank (a clinic with no
    address on file) is left out rather than sent empty."""
    lines = []
    for line in text.split("\n"):
        filled = fill_placeholders(line, dict(values))
        if placeholders_in(line) and not filled.strip(" ,.:;-\t"):
            continue
        lines.append(filled.rstrip())
    out = "\n".join(lines)
    while "\n\n\n" in out:
        out = out.replace("\n\n\n", "\n\n")
    return out.strip()


def fill_template(
    kind: str, channel: str, language: str, subject: str, body: str, values: Mapping[str, str]
) -> tuple[str, str]:
    """``(subject, body)`` of given wording filled with ``values``; a text gets no subject and
    ends with the line on how to stop texts."""
    if channel == MessageChannel.TEXT.value:
        filled = _fill(body, values)
        stop = OPT_OUT_LINES.get(language, OPT_OUT_LINES["en"])
        if not filled.endswith(stop):
            filled = f"{filled}\n{stop}"
        return "", filled
    return " ".join(_fill(subject, values).split()), _fill(body, values)


def render(
    session: Session, kind: str, channel: str, language: str, values: Mapping[str, str]
) -> tuple[str, str]:
    """The message as it goes: the wording in use for that kind, channel and language
    (English where the language has none), filled with ``values``."""
    if language not in LANGUAGES:
        language = LANGUAGES[0]
    wording = template_in(session, kind, channel, language)
    return fill_template(kind, channel, language, wording.subject, wording.body, values)


_SAMPLES = {
    "en": {
        "clinic_name": "Bright Smile Clinic",
        "clinic_phone": "(512) 555-0100",
        "clinic_address": "120 Main Street, Suite 4, Austin TX 78701",
        "first_name": "Maria",
        "date": "Tuesday, December 8, 2026",
        "time": "9:30 AM",
        "appointment": "your appointment",
        "service": "Hygiene visit",
        "provider": "Dr. Lee",
        "amount": "$125.00",
        "patient_name": "Maria Lopez",
        "contact_name": "Dr. Patel",
        "message": "Our office will be closed on Friday.",
    },
    "es": {
        "clinic_name": "Bright Smile Clinic",
        "clinic_phone": "(512) 555-0100",
        "clinic_address": "120 Main Street, Suite 4, Austin TX 78701",
        "first_name": "María",
        "date": "martes, 8 de diciembre de 2026",
        "time": "9:30",
        "appointment": "su cita",
        "service": "Limpieza",
        "provider": "Dr. Lee",
        "amount": "125,00 US$",
        "patient_name": "María López",
        "contact_name": "Dr. Patel",
        "message": "Nuestra clínica estará cerrada el viernes.",
    },
}


def appointment_phrase(language: str, service: str = "", provider: str = "") -> str:
    """What ``{appointment}`` says: "your appointment", with the service and provider when
    given (they are blank unless the clinic's settings allow naming them)."""
    if language == "es":
        return (
            "su cita"
            + (f" de {service}" if service else "")
            + (f" con {provider}" if provider else "")
        )
    return (
        "your appointment"
        + (f" for {service}" if service else "")
        + (f" with {provider}" if provider else "")
    )


_SAMPLE_DAY = date(2026, 12, 8)
_SAMPLE_TIME = time(9, 30)
_SAMPLE_AMOUNT = Decimal("125.00")


def sample_values(kind: str, language: str) -> dict[str, str]:
    """Made-up values for a preview of ``kind`` (only the placeholders it may use)."""
    samples = _SAMPLES.get(language, _SAMPLES["en"])
    return {name: samples[name] for name in PLACEHOLDERS[kind]}


# --- the clinic's own wording ----------------------------------------------------------------


def save_template(
    db: Database,
    actor: Actor,
    kind: str,
    channel: str,
    language: str,
    subject: str,
    body: str,
    *,
    version: int | None,
) -> TemplateText:
    """Save the clinic's wording of one kind × channel × language (checked first: nothing is
    saved when it is refused).  ``version`` is the one read (None: the built-in wording was
    shown); someone else's save since then is refused.  Wording equal to the built-in one
    goes back to it."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    _check_key(kind, channel, language)
    if channel == MessageChannel.TEXT.value:
        subject = ""
    subject, body = subject.strip(), body.strip()
    check_template(kind, channel, subject, body)
    builtin = builtin_template(kind, channel, language)
    with unit_of_work(db, actor) as session:
        row = _row(session, kind, channel, language)
        if (row.version if row is not None else None) != version:
            raise ConcurrentEditError(f"The {_kind_words(kind)} wording")
        if (subject, body) == (builtin.subject, builtin.body):
            if row is not None:
                session.delete(row)
            return builtin
        if row is None:
            row = MessageTemplate(
                kind=kind,
                channel=channel,
                language=language,
                subject=subject,
                body=body,
                updated_by_id=actor.staff_id,
            )
            session.add(row)
        elif (row.subject, row.body) != (subject, body):
            row.subject, row.body, row.updated_by_id = subject, body, actor.staff_id
        session.flush()
        return _of_row(row)


def reset_template(
    db: Database, actor: Actor, kind: str, channel: str, language: str
) -> TemplateText:
    """Back to CareDesk's built-in wording (the clinic's own is removed)."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    builtin = builtin_template(kind, channel, language)
    with unit_of_work(db, actor) as session:
        row = _row(session, kind, channel, language)
        if row is not None:
            session.delete(row)
    return builtin


def preview_template(
    db: Database, actor: Actor, kind: str, channel: str, language: str, subject: str, body: str
) -> tuple[str, str]:
    """Wording being edited, filled in as the clinic would send it — its own name, address
    and phone, a made-up patient and visit — naming no service or provider unless the
    settings allow it; refused like a save."""
    _check_key(kind, channel, language)
    check_template(kind, channel, subject, body)
    with reading(db, actor) as session:
        config = current_config(session)
        settings = clinic_settings(session)
        values = sample_values(kind, language)
        # The clinic's own details, and the sample date, time and amount as Babel writes
        # them for this language in the clinic's region: what the patient would read.
        locale = document_locale(settings.locale, language)
        clinic = {
            "clinic_name": settings.name,
            "clinic_phone": settings.phone,
            "clinic_address": ", ".join(
                p
                for p in (
                    settings.address_line1,
                    settings.address_line2,
                    settings.city,
                    " ".join(q for q in (settings.region, settings.postal_code) if q),
                )
                if p
            ),
            "date": format_date(_SAMPLE_DAY, locale, "full"),
            "time": format_time(_SAMPLE_TIME, None, locale),
            "amount": format_money(_SAMPLE_AMOUNT, settings.currency, locale),
        }
    values |= {name: text for name, text in clinic.items() if name in values}
    if not config.include_service_name and "service" in values:
        values["service"] = ""
    if not config.include_provider_name and "provider" in values:
        values["provider"] = ""
    if "appointment" in values:
        values["appointment"] = appointment_phrase(
            language, values.get("service", ""), values.get("provider", "")
        )
    return fill_template(kind, channel, language, subject, body, values)
