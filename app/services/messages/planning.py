"""Planning: turning the clinic's rules into queued messages, once each.

For every active rule, the events whose send moment (event + the rule's offset) has come —
and whose subject still calls for a message: the visit still ahead, the treatment done, the
recall not booked, the installment unpaid, the referral still waiting — become one message
per channel, keyed ``<kind>:<subject>:<id>:<event moment>:<rule>:<channel>``.  The key is
unique in the outbox, so a second run (or another PC's run at the same moment) queues
nothing again; a visit moved to a new time has a new key and gets its messages anew, while
the old ones are cancelled at send time (eligibility.py).

Each kind is one query over an index-bounded range (visits by status and start, unpaid
installments by due day, …) with the patient's columns joined in: no query per patient.
Events on a day (a recall's or an installment's due day) happen when the clinic opens.  A
rule with a service replaces the clinic-wide rules of its kind for that service's visits.
Events older than :data:`LOOK_BACK` are history: a first run does not mail last year's
recalls.  A moment in the quiet hours waits for their end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.contacts import Contact
from app.data.models.messages import Message, MessageChannel, MessageKind, MessageRule
from app.data.models.patients import Patient
from app.data.models.payments import Installment, PaymentPlan, PaymentPlanStatus
from app.data.models.providers import Service
from app.data.models.referrals import Referral, ReferralDirection, ReferralStatus
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.uow import reading, unit_of_work
from app.services.messages import eligibility
from app.services.messages.queueing import add_messages, clinic_language, message_language
from app.services.messages.queueing import message_values as values_for
from app.services.messages.settings import (
    MessagingConfig,
    after_quiet_hours,
    current_config,
    in_quiet_hours,
)
from app.services.messages.templates import TemplateText, fill_template, template_in
from app.services.scheduling.booking import HOLDS_TIME, at_local

__all__ = ["LOOK_BACK", "PlanSummary", "plan_messages"]

#: A rule's moment older than this is history: nothing is queued for it any more.
LOOK_BACK = timedelta(days=7)

EMAIL_OFF = "E-mail is turned off in Settings → Messages."
TEXT_OFF = "Texts are turned off in Settings → Messages."
QUIET_UNTIL_VISIT = "The quiet hours last until the visit."

_K = MessageKind
_VISIT = (_K.APPOINTMENT_REMINDER.value, _K.CONFIRMATION_REQUEST.value)
_INSTALLMENT = (_K.INSTALLMENT_DUE.value, _K.INSTALLMENT_OVERDUE.value)
_CHUNK = 500

#: The patient's columns eligibility and the wording read.
_PATIENT_COLUMNS = (
    Patient.id.label("patient_id"),
    Patient.first_name,
    Patient.last_name,
    Patient.preferred_name,
    Patient.preferred_language,
    Patient.mobile_phone,
    Patient.email,
    Patient.may_text,
    Patient.may_email,
    Patient.text_opted_out_at,
    Patient.email_bounced_at,
    Patient.deceased_on,
    Patient.is_active,
    Patient.merged_into_id,
)


@dataclass(frozen=True)
class PlanSummary:
    #: Messages put in the outbox by this run (or that would be, in a dry run).
    queued: int
    #: Messages a rule called for that may not go, by why ("The patient has not agreed to
    #: texts." → 12).
    skipped: dict[str, int]
    #: Messages a rule called for that an earlier run queued already.
    already: int


@dataclass
class _Wanted:
    """One rule's message about one subject, before its channels are looked at."""

    rule: MessageRule
    send_at: datetime
    key: str  # without the channel
    patient: object | None = None  # a row with _PATIENT_COLUMNS
    contact: Contact | None = None
    appointment: object | None = None
    installment: object | None = None
    referral: object | None = None
    on: date | None = None
    #: A visit the message is about, still ahead: its start (no message due after it).
    visit_starts_at: datetime | None = None
    appointment_id: int | None = None
    appointment_starts_at: datetime | None = None
    installment_id: int | None = None
    referral_id: int | None = None


@dataclass
class _Run:
    session: Session
    now: datetime
    config: MessagingConfig
    zone: object
    today: date
    opens_at_minute: int
    rules: dict[str, list[MessageRule]]
    skipped: Counter = field(default_factory=Counter)

    def rules_for(self, kind: str, service_id: int | None) -> list[MessageRule]:
        """The rules of ``kind`` for a visit of ``service_id``: that service's own, if it has
        any, in place of the clinic-wide ones."""
        rules = self.rules.get(kind, [])
        own = [r for r in rules if service_id is not None and r.service_id == service_id]
        return own or [r for r in rules if r.service_id is None]

    def on_day(self, day: date) -> datetime:
        """When an event on a calendar day happens: as the clinic opens."""
        return at_local(day, self.opens_at_minute, self.zone)

    def in_window(self, send_at: datetime) -> bool:
        return self.now - LOOK_BACK < send_at <= self.now

    def offsets(self, kind: str) -> tuple[timedelta, timedelta]:
        minutes = [r.offset_minutes for r in self.rules.get(kind, [])]
        return timedelta(minutes=min(minutes)), timedelta(minutes=max(minutes))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%MZ")


# --- what each kind calls for -----------------------------------------------------------------


def _visits_ahead(run: _Run) -> Iterator[_Wanted]:
    """Reminders and confirmation requests: visits still ahead whose rule's moment came (and
    came after the visit was booked: a visit booked yesterday for tomorrow gets no "two days
    before" request)."""
    kinds = [k for k in _VISIT if run.rules.get(k)]
    if not kinds:
        return
    earliest = min(run.offsets(k)[0] for k in kinds)  # the most negative offset
    rows = run.session.execute(
        select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.status,
            Appointment.service_id,
            Appointment.provider_id,
            Appointment.created_at,
            *_PATIENT_COLUMNS,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status.in_(
                (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
            ),
            Appointment.starts_at > run.now,
            Appointment.starts_at <= run.now - earliest,
        )
    )
    for row in rows:
        for kind in kinds:
            if (
                kind == _K.CONFIRMATION_REQUEST.value
                and row.status == AppointmentStatus.CONFIRMED.value
            ):
                continue
            for rule in run.rules_for(kind, row.service_id):
                send_at = row.starts_at + timedelta(minutes=rule.offset_minutes)
                if send_at > run.now or row.created_at > send_at:
                    continue
                yield _Wanted(
                    rule=rule,
                    send_at=send_at,
                    key=f"{kind}:appointment:{row.id}:{_stamp(row.starts_at)}:{rule.id}",
                    patient=row,
                    appointment=row,
                    visit_starts_at=row.starts_at,
                    appointment_id=row.id,
                    appointment_starts_at=row.starts_at,
                )


def _after_treatment(run: _Run) -> Iterator[_Wanted]:
    kind = _K.POST_TREATMENT.value
    if not run.rules.get(kind):
        return
    low, high = run.offsets(kind)
    rows = run.session.execute(
        select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.service_id,
            Appointment.provider_id,
            *_PATIENT_COLUMNS,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status == AppointmentStatus.COMPLETED.value,
            Appointment.starts_at > run.now - LOOK_BACK - high,
            Appointment.starts_at <= run.now - low,
        )
    )
    for row in rows:
        for rule in run.rules_for(kind, row.service_id):
            send_at = row.starts_at + timedelta(minutes=rule.offset_minutes)
            if run.in_window(send_at):
                yield _Wanted(
                    rule=rule,
                    send_at=send_at,
                    key=f"{kind}:appointment:{row.id}:{_stamp(row.starts_at)}:{rule.id}",
                    patient=row,
                    appointment=row,
                    appointment_id=row.id,
                )


def _recalls(run: _Run) -> Iterator[_Wanted]:
    """A patient's last completed visit of a recall service is due back ``interval`` days
    later; no message once anything is booked."""
    kind = _K.RECALL_DUE.value
    if not run.rules.get(kind):
        return
    low, high = run.offsets(kind)
    recall_services = select(Service.id).where(Service.recall_interval_days.is_not(None))
    intervals = run.session.scalars(
        select(Service.recall_interval_days)
        .where(Service.recall_interval_days.is_not(None))
        .distinct()
    ).all()
    for interval in intervals:
        # Visits whose due day (+ the rules' offsets) falls in the look-back window, a day of
        # margin each side for the zone; the exact moment is checked below.
        margin = timedelta(days=1)
        first_day = run.today - timedelta(days=interval) - _days(high) - LOOK_BACK - margin
        last_day = run.today - timedelta(days=interval) - _days(low) + margin
        rows = run.session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.service_id,
                Appointment.provider_id,
                *_PATIENT_COLUMNS,
            )
            .join(Service, Service.id == Appointment.service_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                Appointment.status == AppointmentStatus.COMPLETED.value,
                Appointment.starts_at >= at_local(first_day, 0, run.zone),
                Appointment.starts_at < at_local(last_day, 24 * 60, run.zone),
                Service.recall_interval_days == interval,
            )
        ).all()
        # Due only from the patient's last recall visit, and only with nothing booked: two
        # reads per 500 patients through the (patient, start) index.
        patient_ids = {row.patient_id for row in rows}
        last_visit: dict[int, datetime] = {}
        booked: set[int] = set()
        for chunk in _chunks(patient_ids):
            last_visit.update(
                run.session.execute(
                    select(Appointment.patient_id, func.max(Appointment.starts_at))
                    .where(
                        Appointment.patient_id.in_(chunk),
                        Appointment.status == AppointmentStatus.COMPLETED.value,
                        Appointment.service_id.in_(recall_services),
                    )
                    .group_by(Appointment.patient_id)
                ).all()
            )
            booked.update(
                run.session.scalars(
                    select(Appointment.patient_id).where(
                        Appointment.patient_id.in_(chunk),
                        Appointment.starts_at >= run.now,
                        Appointment.status.in_(HOLDS_TIME),
                    )
                )
            )
        rows = [
            row
            for row in rows
            if row.patient_id not in booked and last_visit.get(row.patient_id) == row.starts_at
        ]
        for row in rows:
            due_on = row.starts_at.astimezone(run.zone).date() + timedelta(days=interval)
            for rule in run.rules_for(kind, row.service_id):
                send_at = run.on_day(due_on) + timedelta(minutes=rule.offset_minutes)
                if run.in_window(send_at):
                    yield _Wanted(
                        rule=rule,
                        send_at=send_at,
                        key=f"{kind}:appointment:{row.id}:{due_on.isoformat()}:{rule.id}",
                        patient=row,
                        appointment=row,
                        on=due_on,
                        appointment_id=row.id,
                    )


def _days(span: timedelta) -> timedelta:
    """A span rounded out to whole days (for a query's day range)."""
    whole = span.days + (1 if span - timedelta(days=span.days) else 0)
    return timedelta(days=whole)


def _installments(run: _Run) -> Iterator[_Wanted]:
    kinds = [k for k in _INSTALLMENT if run.rules.get(k)]
    if not kinds:
        return
    low = min(run.offsets(k)[0] for k in kinds)
    high = max(run.offsets(k)[1] for k in kinds)
    rows = run.session.execute(
        select(
            Installment.id,
            Installment.due_on,
            Installment.amount,
            Installment.paid_amount,
            *_PATIENT_COLUMNS,
        )
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .join(Patient, Patient.id == PaymentPlan.patient_id)
        .where(
            Installment.paid_amount < Installment.amount,
            Installment.due_on >= run.today - _days(high) - _days(LOOK_BACK) - timedelta(days=1),
            Installment.due_on <= run.today - _days(low) + timedelta(days=1),
            PaymentPlan.status == PaymentPlanStatus.ACTIVE.value,
        )
    )
    for row in rows:
        for kind in kinds:
            for rule in run.rules_for(kind, None):
                send_at = run.on_day(row.due_on) + timedelta(minutes=rule.offset_minutes)
                if not run.in_window(send_at):
                    continue
                yield _Wanted(
                    rule=rule,
                    send_at=send_at,
                    key=f"{kind}:installment:{row.id}:{row.due_on.isoformat()}:{rule.id}",
                    patient=row,
                    installment=row,
                    installment_id=row.id,
                )


def _referrals(run: _Run) -> Iterator[_Wanted]:
    """Referrals sent to an office that has not booked the patient yet."""
    kind = _K.REFERRAL_REMINDER.value
    if not run.rules.get(kind):
        return
    low, high = run.offsets(kind)
    referrals = run.session.execute(
        select(
            Referral.id,
            Referral.patient_id,
            Referral.contact_id,
            Referral.referred_on,
            Referral.sent_at,
        ).where(
            Referral.status == ReferralStatus.SENT.value,
            Referral.direction == ReferralDirection.OUTGOING.value,
            Referral.contact_id.is_not(None),
            Referral.sent_at > run.now - LOOK_BACK - high,
            Referral.sent_at <= run.now - low,
        )
    ).all()
    contacts = _by_id(run.session, Contact, {r.contact_id for r in referrals})
    patients = _patients(run.session, {r.patient_id for r in referrals})
    for row in referrals:
        for rule in run.rules_for(kind, None):
            send_at = row.sent_at + timedelta(minutes=rule.offset_minutes)
            if run.in_window(send_at):
                yield _Wanted(
                    rule=rule,
                    send_at=send_at,
                    key=f"{kind}:referral:{row.id}:{_stamp(row.sent_at)}:{rule.id}",
                    contact=contacts.get(row.contact_id),
                    referral=row,
                    # The office learns whom it is about; eligibility is the office's.
                    appointment=None,
                    referral_id=row.id,
                    patient=patients.get(row.patient_id),
                )


def _chunks(ids: Iterable) -> Iterator[list]:
    ids = sorted(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _by_id(session: Session, model, ids: set[int]) -> dict:
    found = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(model).where(model.id.in_(chunk))):
            found[row.id] = row
    return found


def _patients(session: Session, ids: set[int]) -> dict:
    found = {}
    for chunk in _chunks(ids):
        for row in session.execute(select(*_PATIENT_COLUMNS).where(Patient.id.in_(chunk))):
            found[row.patient_id] = row
    return found


_FINDERS = (_visits_ahead, _after_treatment, _recalls, _installments, _referrals)


# --- turning them into messages -------------------------------------------------------------


def _taken(session: Session, keys: list[str]) -> set[str]:
    taken: set[str] = set()
    for chunk in _chunks(set(keys)):
        taken.update(
            session.scalars(select(Message.automatic_key).where(Message.automatic_key.in_(chunk)))
        )
    return taken


def _due_at(run: _Run, send_at: datetime) -> datetime:
    """The send moment, moved past the quiet hours (and past these quiet hours when it is
    planned late, in the middle of them)."""
    due = after_quiet_hours(run.config, send_at)
    if due < run.now and in_quiet_hours(run.config, run.now):
        due = after_quiet_hours(run.config, run.now)
    return due


def plan_messages(
    db: Database, actor: Actor | None, now: datetime, *, dry_run: bool = False
) -> PlanSummary:
    """Queue every message the active rules call for at ``now`` that is not queued yet, in
    one transaction (a dry run counts them and queues nothing).  Running it again queues
    nothing new; two PCs running it at once queue each message once.  The clinic's rules
    run for whoever is signed in: no permission of their own is needed."""
    # A dry run writes nothing: it need not wait for (or hold) the write lock.
    with (reading if dry_run else unit_of_work)(db, actor) as session:
        return _plan(session, now, created_by_id=None, dry_run=dry_run)


def _plan(session: Session, now: datetime, *, created_by_id, dry_run: bool) -> PlanSummary:
    rules: dict[str, list[MessageRule]] = {}
    for rule in session.scalars(
        select(MessageRule).where(MessageRule.is_active).order_by(MessageRule.id)
    ):
        rules.setdefault(rule.kind, []).append(rule)
    if not rules:
        return PlanSummary(queued=0, skipped={}, already=0)
    settings = clinic_settings(session)
    run = _Run(
        session=session,
        now=now,
        config=current_config(session),
        zone=clinic_zone(session),
        today=clinic_today(session, now),
        opens_at_minute=settings.opens_at_minute,
        rules=rules,
    )
    wanted = [w for finder in _FINDERS for w in finder(run)]
    keys = [f"{w.key}:{channel}" for w in wanted for channel in _channels(w.rule)]
    taken = _taken(session, keys)
    wordings: dict[tuple[str, str, str], TemplateText] = {}
    fallback_language = clinic_language(session)
    queued = already = 0
    rows: list[dict[str, object]] = []
    for w in wanted:
        for channel in _channels(w.rule):
            key = f"{w.key}:{channel}"
            if key in taken:
                already += 1
                continue
            reason, to_address = _recipient(run, w, channel)
            if reason is None:
                due_at = _due_at(run, w.send_at)
                if w.visit_starts_at is not None and due_at >= w.visit_starts_at:
                    reason = QUIET_UNTIL_VISIT
            if reason is not None:
                run.skipped[reason] += 1
                continue
            if dry_run:
                queued += 1
                taken.add(key)
                continue
            language = (
                message_language(session, w.patient.preferred_language)
                if w.contact is None and w.patient is not None
                else fallback_language
            )
            kind = w.rule.kind
            wording = wordings.get((kind, channel, language))
            if wording is None:
                wording = wordings[(kind, channel, language)] = template_in(
                    session, kind, channel, language
                )
            values = values_for(
                session,
                run.config,
                patient=w.patient,
                contact=w.contact,
                appointment=w.appointment,
                installment=w.installment,
                referral=w.referral,
                language=language,
                on=w.on,
            )
            subject, body = fill_template(
                kind, channel, language, wording.subject, wording.body, values
            )
            rows.append(
                {
                    "kind": kind,
                    "channel": channel,
                    "to_address": to_address,
                    "language": language,
                    "subject": subject,
                    "body": body,
                    "due_at": due_at,
                    # A message to an office is still about its patient (the record lists it).
                    "patient_id": w.patient.patient_id if w.patient is not None else None,
                    "contact_id": w.contact.id if w.contact is not None else None,
                    "appointment_id": w.appointment_id,
                    "appointment_starts_at": w.appointment_starts_at,
                    "installment_id": w.installment_id,
                    "referral_id": w.referral_id,
                    "rule_id": w.rule.id,
                    "automatic_key": key,
                    "created_by_id": created_by_id,
                }
            )
            taken.add(key)
    if rows:
        made = add_messages(session, rows)
        queued += made
        already += len(rows) - made
        if made:
            record(
                session,
                AuditAction.CREATE,
                entity="messages",
                detail=f"Messages planned by the clinic's rules: {made} queued",
            )
    return PlanSummary(queued=queued, skipped=dict(run.skipped), already=already)


def _channels(rule: MessageRule) -> tuple[str, ...]:
    return tuple(
        channel
        for channel, on in (
            (MessageChannel.EMAIL.value, rule.send_email),
            (MessageChannel.TEXT.value, rule.send_text),
        )
        if on
    )


def _recipient(run: _Run, w: _Wanted, channel: str) -> tuple[str | None, str]:
    """(why not, "") or (None, the address or number it goes to)."""
    if channel == MessageChannel.EMAIL.value and not run.config.email_enabled:
        return EMAIL_OFF, ""
    if channel == MessageChannel.TEXT.value and not run.config.text_enabled:
        return TEXT_OFF, ""
    if w.contact is not None or w.referral is not None:
        if w.contact is None:
            return eligibility.CONTACT_INACTIVE, ""
        reason = eligibility.why_not_about_patient(w.patient) if w.patient is not None else None
        if reason is not None:
            return reason, ""
        reason = eligibility.why_not_to_contact(w.contact, channel)
        return reason, eligibility.contact_address(w.contact) if reason is None else ""
    reason = eligibility.why_not_to_patient(w.patient, channel, now=run.now)
    if reason is not None:
        return reason, ""
    return None, eligibility.address_of(w.patient, channel)
