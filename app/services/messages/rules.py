"""When messages go on their own: the clinic's rules ("confirmation request 2 days before the
visit, by e-mail and text").

A rule's ``offset_minutes`` counts from its event — the visit's start, the recall's or the
installment's due day, the day a referral was sent — negative before it.  A rule may name a
service: then it alone (with the other rules of its kind for that service) applies to that
service's visits, in place of the clinic-wide rules of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.messages import AUTOMATIC_KINDS, MessageKind, MessageRule
from app.data.models.providers import Service
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError
from app.services.messages.templates import KIND_LABELS

__all__ = [
    "AUTOMATIC_KINDS",
    "MAX_OFFSET_MINUTES",
    "SERVICE_KINDS",
    "RuleForm",
    "RuleLine",
    "describe_offset",
    "rule_list",
    "save_rule",
]

#: A rule reaches at most a year from its event.
MAX_OFFSET_MINUTES = 365 * 24 * 60
#: Kinds whose rules may be set per service (their event is a visit of that service).
SERVICE_KINDS = (
    MessageKind.APPOINTMENT_REMINDER.value,
    MessageKind.CONFIRMATION_REQUEST.value,
    MessageKind.POST_TREATMENT.value,
    MessageKind.RECALL_DUE.value,
)
#: Kinds that go before their event (the others go on it or after it).
_BEFORE = (
    MessageKind.APPOINTMENT_REMINDER.value,
    MessageKind.CONFIRMATION_REQUEST.value,
    MessageKind.INSTALLMENT_DUE.value,
)
#: Kinds that go only by e-mail (to an office, which cannot take texts).
_EMAIL_ONLY = (MessageKind.REFERRAL_REMINDER.value,)

# What each kind counts from, in English and Spanish: (the event, "before", "after", "on it").
_EVENTS = {
    "en": {
        MessageKind.APPOINTMENT_REMINDER.value: ("the visit", "at the visit's time"),
        MessageKind.CONFIRMATION_REQUEST.value: ("the visit", "at the visit's time"),
        MessageKind.POST_TREATMENT.value: ("the visit", "at the visit's time"),
        MessageKind.RECALL_DUE.value: ("the due day", "when due"),
        MessageKind.INSTALLMENT_DUE.value: ("the due day", "on the due day"),
        MessageKind.INSTALLMENT_OVERDUE.value: ("the due day", "on the due day"),
        MessageKind.REFERRAL_REMINDER.value: ("the referral was sent", "when the referral is sent"),
    },
    "es": {
        MessageKind.APPOINTMENT_REMINDER.value: ("la visita", "a la hora de la visita"),
        MessageKind.CONFIRMATION_REQUEST.value: ("la visita", "a la hora de la visita"),
        MessageKind.POST_TREATMENT.value: ("la visita", "a la hora de la visita"),
        MessageKind.RECALL_DUE.value: ("el día previsto", "el día previsto"),
        MessageKind.INSTALLMENT_DUE.value: ("el vencimiento", "el día del vencimiento"),
        MessageKind.INSTALLMENT_OVERDUE.value: ("el vencimiento", "el día del vencimiento"),
        MessageKind.REFERRAL_REMINDER.value: (
            "el envío de la derivación",
            "al enviar la derivación",
        ),
    },
}
_UNITS = {
    "en": {"day": ("day", "days"), "hour": ("hour", "hours"), "minute": ("minute", "minutes")},
    "es": {"day": ("día", "días"), "hour": ("hora", "horas"), "minute": ("minuto", "minutos")},
}


def describe_offset(kind: str, offset_minutes: int, language: str = "en") -> str:
    """When a rule sends, in words: "2 days before the visit", "when due",
    "30 days after the due day" (Spanish: "2 días antes de la visita")."""
    language = language if language in _EVENTS else "en"
    event, on_it = _EVENTS[language].get(kind, _EVENTS[language][MessageKind.RECALL_DUE.value])
    if offset_minutes == 0:
        return on_it
    size = abs(offset_minutes)
    if size % (24 * 60) == 0:
        count, unit = size // (24 * 60), "day"
    elif size % 60 == 0:
        count, unit = size // 60, "hour"
    else:
        count, unit = size, "minute"
    singular, plural = _UNITS[language][unit]
    amount = f"{count} {singular if count == 1 else plural}"
    if language == "es":
        side = "antes de" if offset_minutes < 0 else "después de"
        if event.startswith("el "):
            return f"{amount} {side.replace(' de', ' del')} {event[3:]}"
        return f"{amount} {side} {event}"
    side = "before" if offset_minutes < 0 else "after"
    return f"{amount} {side} {event}"


@dataclass(frozen=True)
class RuleLine:
    id: int
    kind: str
    offset_minutes: int
    send_email: bool
    send_text: bool
    service_id: int | None
    #: "" for a clinic-wide rule.
    service_name: str
    is_active: bool
    version: int
    #: "2 days before the visit"
    description: str

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class RuleForm:
    kind: str
    offset_minutes: int
    send_email: bool
    send_text: bool
    service_id: int | None = None
    is_active: bool = True


def _line(rule: MessageRule, services: dict[int, str]) -> RuleLine:
    return RuleLine(
        id=rule.id,
        kind=rule.kind,
        offset_minutes=rule.offset_minutes,
        send_email=rule.send_email,
        send_text=rule.send_text,
        service_id=rule.service_id,
        service_name=services.get(rule.service_id, "") if rule.service_id else "",
        is_active=rule.is_active,
        version=rule.version,
        description=describe_offset(rule.kind, rule.offset_minutes),
    )


def _service_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Service.id, Service.name)).all())


_KIND_ORDER = {kind.value: n for n, kind in enumerate(AUTOMATIC_KINDS)}


def rule_list(db: Database, actor: Actor) -> list[RuleLine]:
    """Every rule, active or not: by kind, clinic-wide before per-service, earliest first."""
    with reading(db, actor) as session:
        services = _service_names(session)
        rules = session.scalars(select(MessageRule)).all()
        lines = [_line(rule, services) for rule in rules]
    return sorted(
        lines,
        key=lambda r: (
            _KIND_ORDER.get(r.kind, 99),
            r.service_id is not None,
            r.service_name.lower(),
            r.offset_minutes,
            r.id,
        ),
    )


def _validate(session: Session, form: RuleForm) -> None:
    if form.kind not in _KIND_ORDER:
        raise ValidationError("Choose which kind of message the rule sends.", field="kind")
    words = KIND_LABELS[form.kind].lower()
    if not (form.send_email or form.send_text):
        raise ValidationError("Choose e-mail, text or both.", field="channels")
    if form.kind in _EMAIL_ONLY and form.send_text:
        raise ValidationError(
            "A referral reminder goes to the specialist's office by e-mail only.",
            field="channels",
        )
    if isinstance(form.offset_minutes, bool) or not isinstance(form.offset_minutes, int):
        raise ValidationError("Give the time as a whole number.", field="offset")
    if abs(form.offset_minutes) > MAX_OFFSET_MINUTES:
        raise ValidationError("A rule reaches at most a year from its event.", field="offset")
    if form.kind in _BEFORE and form.offset_minutes > 0:
        raise ValidationError(
            f"A {words} goes before {_EVENTS['en'][form.kind][0]}: give a time before it.",
            field="offset",
        )
    if form.kind not in _BEFORE and form.offset_minutes < 0:
        raise ValidationError(
            f"A {words} goes on or after {_EVENTS['en'][form.kind][0]}, not before it.",
            field="offset",
        )
    if form.service_id is not None:
        if form.kind not in SERVICE_KINDS:
            raise ValidationError(
                f"A {words} rule is for the whole clinic: it cannot be set per service.",
                field="service",
            )
        if session.get(Service, form.service_id) is None:
            raise ValidationError("That service is not in the catalog.", field="service")


def save_rule(
    db: Database,
    actor: Actor,
    form: RuleForm,
    *,
    rule_id: int | None = None,
    version: int | None = None,
) -> RuleLine:
    """Add a rule (``rule_id`` None) or change one (``version``: the one read; a change
    made meanwhile is refused).  A second active rule sending the same kind at the same time
    for the same service is refused: it would only send the same message twice."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    with unit_of_work(db, actor) as session:
        _validate(session, form)
        if form.is_active:
            twin = session.scalar(
                select(MessageRule.id).where(
                    MessageRule.kind == form.kind,
                    MessageRule.offset_minutes == form.offset_minutes,
                    MessageRule.service_id.is_(None)
                    if form.service_id is None
                    else MessageRule.service_id == form.service_id,
                    MessageRule.is_active,
                    *([MessageRule.id != rule_id] if rule_id is not None else []),
                )
            )
            if twin is not None:
                raise ValidationError(
                    "An active rule already sends this message at that time: change that "
                    "one instead.",
                    field="offset",
                )
        values = {
            "kind": form.kind,
            "offset_minutes": form.offset_minutes,
            "send_email": form.send_email,
            "send_text": form.send_text,
            "service_id": form.service_id,
            "is_active": form.is_active,
        }
        if rule_id is None:
            rule = MessageRule(**values)
            session.add(rule)
        else:
            rule = session.get(MessageRule, rule_id)
            if rule is None:
                raise NotFoundError("That message rule no longer exists.")
            if version is not None and rule.version != version:
                raise ConcurrentEditError("This message rule")
            assign_changed(rule, values)
        session.flush()
        return _line(rule, _service_names(session))
