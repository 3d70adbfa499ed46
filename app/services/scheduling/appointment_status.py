"""An appointment's status flow: confirm, arrive, treat, complete, cancel, no-show, undo.

The allowed steps (:data:`TRANSITIONS`, the one table)::

    from           to
    scheduled      confirmed, arrived (walk-in, never confirmed), cancelled, no_show
    confirmed      arrived, cancelled, no_show, scheduled (undo)
    arrived        in_treatment, completed, confirmed (undo), scheduled (undo; clears arrived_at)
    in_treatment   completed, arrived (undo: started by mistake)
    no_show        arrived, scheduled ("they came after all": the visit's own day only;
                   a no-show fee added for it is reversed)
    completed      -  (final)
    cancelled      -  (final)

Time rules on top of the table: a no-show only once the start time has passed; arriving
not before the visit's day.  Every write goes through
:func:`app.services.scheduling.booking.record_status_change` (history row: who and when), inside
the same unit of work as the appointment's update, so the automatic audit sees both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import today_in, utc_now
from app.data.database import Database
from app.data.models.appointments import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    CancelledBy,
)
from app.data.models.clinic import ClinicSettings
from app.data.models.patients import Patient
from app.data.models.payments import AccountAdjustment, AdjustmentKind, Charge, ChargeKind
from app.data.models.providers import Provider, Room, Service
from app.data.models.staff import Staff
from app.i18n import format_date, format_weekday_date
from app.money import ZERO
from app.services.billing import visit_charges
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError
from app.services.patients import journey, phones
from app.services.scheduling import booking as scheduling

S = AppointmentStatus

#: The one table of allowed steps (see the module docstring for why each exists).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.ARRIVED, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.ARRIVED, S.CANCELLED, S.NO_SHOW, S.SCHEDULED}),
    S.ARRIVED: frozenset({S.IN_TREATMENT, S.COMPLETED, S.CONFIRMED, S.SCHEDULED}),
    S.IN_TREATMENT: frozenset({S.COMPLETED, S.ARRIVED}),
    S.NO_SHOW: frozenset({S.ARRIVED, S.SCHEDULED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: Steps that take a mistaken step back (the details dialog offers them as "Undo").
UNDO_STEPS: frozenset[tuple[str, str]] = frozenset(
    {
        (S.CONFIRMED, S.SCHEDULED),
        (S.ARRIVED, S.CONFIRMED),
        (S.ARRIVED, S.SCHEDULED),
        (S.IN_TREATMENT, S.ARRIVED),
        (S.NO_SHOW, S.SCHEDULED),
        (S.NO_SHOW, S.ARRIVED),
    }
)
#: The order the details dialog shows next steps in.
_ORDER = [S.CONFIRMED, S.ARRIVED, S.IN_TREATMENT, S.COMPLETED, S.SCHEDULED, S.NO_SHOW, S.CANCELLED]

STATUS_LABELS: dict[str, str] = {
    S.SCHEDULED: "Scheduled",
    S.CONFIRMED: "Confirmed",
    S.ARRIVED: "Arrived",
    S.IN_TREATMENT: "In treatment",
    S.COMPLETED: "Completed",
    S.CANCELLED: "Canceled",
    S.NO_SHOW: "No-show",
}
_FROM_WORDS = {
    S.SCHEDULED: "A scheduled appointment",
    S.CONFIRMED: "A confirmed appointment",
    S.ARRIVED: "An appointment whose patient has arrived",
    S.IN_TREATMENT: "An appointment in treatment",
    S.COMPLETED: "A completed appointment",
    S.CANCELLED: "A canceled appointment",
    S.NO_SHOW: "A no-show",
}
_TO_WORDS = {
    S.SCHEDULED: "put back to scheduled",
    S.CONFIRMED: "marked as confirmed",
    S.ARRIVED: "marked as arrived",
    S.IN_TREATMENT: "marked as in treatment",
    S.COMPLETED: "marked as completed",
    S.CANCELLED: "canceled",
    S.NO_SHOW: "marked as a no-show",
}
_JOURNEY_EVENTS = {S.IN_TREATMENT: "treatment_started", S.COMPLETED: "treatment_completed"}
#: Reasons the cancel dialog offers (free text is fine too).
COMMON_CANCEL_REASONS = (
    "Patient ill",
    "Schedule conflict",
    "Transport problem",
    "Cost concerns",
    "Treatment no longer wanted",
    "Provider unavailable",
    "Weather",
)
MAX_FEE = Decimal("100000")


class NotTodayError(ValidationError):
    """Checking in a visit of an earlier day: asked, not assumed (see change_status)."""

    def __init__(self, visit_day: date, locale: str = "en_US") -> None:
        day = format_weekday_date(visit_day, locale, with_year=False)
        super().__init__(
            f"This visit was on {day}, not today. Check the "
            "patient in for that day anyway? The arrival is recorded at the visit's start "
            "time.",
            field="status",
        )
        self.visit_day = visit_day


# --- plain data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusResult:
    appointment_id: int
    version: int
    status: str
    #: Minutes after the start the patient arrived (negative = early); None before arrival.
    minutes_late: int | None = None
    warnings: tuple[str, ...] = ()
    #: The fee added to the patient's account by this change (0.00 when none).
    fee_added: Decimal = ZERO
    fee_kind: str | None = None
    late_cancel: bool = False
    #: A no-show fee taken back because the no-show was undone.
    fee_reversed: Decimal = ZERO
    #: What completing the visit charged the patient (treatment; 0.00 when nothing).
    charged: Decimal = ZERO


@dataclass(frozen=True)
class StatusLine:
    from_status: str | None
    to_status: str
    changed_at: datetime
    changed_by_name: str
    reason: str
    id: int = 0


@dataclass(frozen=True)
class AppointmentSummary:
    id: int
    version: int
    patient_id: int
    patient_name: str
    patient_phone: str
    service_name: str
    provider_name: str
    room_name: str
    starts_at: datetime
    ends_at: datetime
    status: str
    notes: str
    arrived_at: datetime | None
    minutes_late: int | None
    no_shows: int
    late_cancels: int
    allowed_next: tuple[str, ...]
    #: The status an "Undo" goes back to (None when there is nothing to undo).
    undo_to: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str = ""
    late_cancel: bool = False
    late_cancel_hours: int = 24
    #: The fees that would be added now (0.00 when the clinic does not charge them).
    late_cancel_fee: Decimal = ZERO
    no_show_fee: Decimal = ZERO


@dataclass(frozen=True)
class SchedulingSettings:
    late_cancel_hours: int
    charge_fees: bool
    no_show_fee: Decimal
    late_cancel_fee: Decimal
    opens_at_minute: int
    closes_at_minute: int
    version: int = 0
    #: Today highlights a patient waiting longer than this after check-in.
    wait_warning_minutes: int = 15
    #: Today lists insurance to verify before visits within this many days.
    insurance_check_days: int = 7


# --- rules ---------------------------------------------------------------------------------


def refusal(from_status: str, to_status: str) -> str:
    """The sentence for a step the table does not allow."""
    if from_status == to_status:
        return f"This appointment is already {STATUS_LABELS[to_status].lower()}."
    return f"{_FROM_WORDS[from_status]} cannot be {_TO_WORDS[to_status]}."


def check_transition(from_status: str, to_status: str) -> None:
    """Raise ValidationError (naming both statuses) unless the table allows the step."""
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise ValidationError(refusal(from_status, to_status), field="status")


def is_late_cancel(starts_at: datetime, now: datetime, hours: int, by: str) -> bool:
    """A patient's cancellation less than ``hours`` before the start (or after it) is late."""
    return by == CancelledBy.PATIENT and starts_at - now < timedelta(hours=hours)


def minutes_late(starts_at: datetime, arrived_at: datetime | None) -> int | None:
    """Whole minutes between the start and the arrival, rounded; negative = early."""
    if arrived_at is None:
        return None
    return round((arrived_at - starts_at).total_seconds() / 60)


def allowed_next(status: str, starts_at: datetime, now: datetime, zone) -> tuple[str, ...]:
    """The steps the table and the time rules allow right now, in the order shown."""
    allowed = TRANSITIONS.get(status, frozenset())
    today = today_in(zone, now)
    visit_day = starts_at.astimezone(zone).date()
    out = []
    for to in _ORDER:
        if to not in allowed:
            continue
        if to == S.NO_SHOW and now < starts_at:
            continue
        if to == S.ARRIVED and visit_day > today:
            continue
        if status == S.NO_SHOW and visit_day != today:
            continue
        out.append(to.value)
    return tuple(out)


def _time_rules(appointment: Appointment, to_status: str, now: datetime, zone, locale: str) -> None:
    visit_day = appointment.starts_at.astimezone(zone).date()
    today = today_in(zone, now)
    if to_status == S.NO_SHOW and now < appointment.starts_at:
        raise ValidationError(
            "This visit has not started yet: a patient can be marked as a no-show "
            "only once the start time has passed.",
            field="status",
        )
    if to_status == S.ARRIVED and visit_day > today:
        raise ValidationError(
            f"This visit is on {format_weekday_date(visit_day, locale, with_year=False)}: "
            "mark the patient arrived on the day of the visit.",
            field="status",
        )
    if appointment.status == S.NO_SHOW and visit_day != today:
        raise ValidationError(
            "A no-show can be undone only on the day of the visit; book a new appointment instead.",
            field="status",
        )


def attendance_counts(session: Session, patient_id: int) -> tuple[int, int]:
    """(no-shows, late cancellations) of the patient: two distinct, counted events."""
    no_shows = session.scalar(
        select(func.count(Appointment.id)).where(
            Appointment.patient_id == patient_id, Appointment.status == S.NO_SHOW.value
        )
    )
    late = session.scalar(
        select(func.count(Appointment.id)).where(
            Appointment.patient_id == patient_id, Appointment.late_cancel.is_(True)
        )
    )
    return int(no_shows or 0), int(late or 0)


# --- helpers -------------------------------------------------------------------------------


def _load(session: Session, appointment_id: int, version: int | None) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFoundError("This appointment no longer exists.")
    check_version(session, appointment, version, "This appointment")
    return appointment


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def _provider_name(provider: Provider | None) -> str:
    return f"{provider.title} {provider.name}".strip() if provider is not None else ""


def _service_name(session: Session, service_id: int | None) -> str:
    service = session.get(Service, service_id) if service_id is not None else None
    return service.name if service is not None else "Appointment"


def _add_fee(
    session: Session, actor: Actor, appointment: Appointment, kind: ChargeKind, amount: Decimal
) -> None:
    zone = clinic_zone(session)
    locale = clinic_settings(session).locale
    local = appointment.starts_at.astimezone(zone)
    what = "No-show fee" if kind == ChargeKind.NO_SHOW_FEE else "Late cancellation fee"
    service = _service_name(session, appointment.service_id)
    session.add(
        Charge(
            patient_id=appointment.patient_id,
            kind=kind.value,
            service_date=local.date(),
            description=f"{what}: {service}, {format_date(local.date(), locale)}"[:200],
            amount=amount,
            appointment_id=appointment.id,
            provider_id=appointment.provider_id,
            created_by_id=actor.staff_id,
        )
    )


def _reverse_no_show_fee(session: Session, actor: Actor, appointment: Appointment) -> Decimal:
    """Take back the no-show fees of this appointment that are not taken back yet."""
    total = ZERO
    charges = session.scalars(
        select(Charge).where(
            Charge.appointment_id == appointment.id, Charge.kind == ChargeKind.NO_SHOW_FEE.value
        )
    ).all()
    for charge in charges:
        reversed_already = session.scalar(
            select(func.count(AccountAdjustment.id)).where(
                AccountAdjustment.charge_id == charge.id, AccountAdjustment.voided_at.is_(None)
            )
        )
        if reversed_already or charge.amount <= 0:
            continue
        session.add(
            AccountAdjustment(
                patient_id=appointment.patient_id,
                kind=AdjustmentKind.WRITE_OFF.value,
                amount=charge.amount,
                reason="No-show undone: the patient came after all",
                charge_id=charge.id,
                created_by_id=actor.staff_id,
            )
        )
        total += charge.amount
    return total


def _result(appointment: Appointment, **extra) -> StatusResult:
    return StatusResult(
        appointment_id=appointment.id,
        version=appointment.version,
        status=appointment.status,
        minutes_late=minutes_late(appointment.starts_at, appointment.arrived_at),
        **extra,
    )


# --- writes --------------------------------------------------------------------------------


def change_status(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    to_status: str,
    *,
    reason: str = "",
    now: datetime | None = None,
    double_book: bool = False,
    not_today: bool = False,
) -> StatusResult:
    """Confirm, check in, start treatment, complete, or take one step back (see TRANSITIONS).

    Checking in a visit of an earlier day is refused with NotTodayError (a question the
    desk answers) unless ``not_today``: it is then recorded as arrived at its start time —
    when the patient came is not known, and "6427 minutes late" would be false.

    A step that puts a visit back on the book (a no-show undone, or the patient came after
    all) is a booking again: refused with ConflictError when its time has been given away
    since, unless an owner or coordinator double-books (``double_book``, audited).
    Cancelling and no-shows have their own functions (reason, fees).
    """
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if to_status not in STATUS_LABELS:
        raise ValidationError(f"“{to_status}” is not an appointment status.", field="status")
    to_status = S(to_status).value
    if to_status in (S.CANCELLED, S.NO_SHOW):
        raise ValidationError(
            "Use “Cancel appointment” or “No-show” for this: they ask for a reason.",
            field="status",
        )
    now = _now(now)
    with unit_of_work(db, actor) as session:
        # Every status change writes: take the book's lock before reading, so the clash
        # check below sees every booking committed before it.
        scheduling.lock_book(session)
        appointment = _load(session, appointment_id, version)
        return apply_status(
            session, actor, appointment, to_status, reason=reason, now=now,
            double_book=double_book, not_today=not_today,
        )  # fmt: skip


def apply_status(
    session: Session,
    actor: Actor,
    appointment: Appointment,
    to_status: str,
    *,
    reason: str = "",
    now: datetime,
    double_book: bool = False,
    not_today: bool = False,
) -> StatusResult:
    """:func:`change_status` inside an open unit of work that holds the book's lock
    (check-out completes the visit and takes its payment in one transaction)."""
    from_status = appointment.status
    check_transition(from_status, to_status)
    zone = clinic_zone(session)
    locale = clinic_settings(session).locale
    _time_rules(appointment, to_status, now, zone, locale)
    visit_day = appointment.starts_at.astimezone(zone).date()
    checked_in_late = (
        to_status == S.ARRIVED
        and from_status in (S.SCHEDULED, S.CONFIRMED, S.NO_SHOW)
        and visit_day != today_in(zone, now)
    )
    if checked_in_late and not not_today:
        raise NotTodayError(visit_day, locale)
    back_on_the_book = (
        from_status not in scheduling.HOLDS_TIME and to_status in scheduling.HOLDS_TIME
    )
    clashes = []
    if back_on_the_book:
        # Only what now holds the time; the hours were checked when it was booked, and a
        # patient who came after all is not turned away because the rota changed since.
        clashes = [
            clash
            for clash in scheduling.find_clashes(
                session,
                scheduling.request_of(appointment),
                ignore_appointment_ids=[appointment.id],
            )
            if clash.kind != "hours"
        ]
        scheduling.refuse_clashes(actor, clashes, double_book)
        appointment.double_booked = bool(clashes)
    kept_arrival = appointment.arrived_at
    scheduling.record_status_change(
        session, appointment, to_status, actor, reason=reason.strip(), at=now
    )
    if checked_in_late:
        appointment.arrived_at = appointment.starts_at
    fee_reversed = ZERO
    if (from_status, to_status) in UNDO_STEPS:
        if to_status == S.SCHEDULED:
            appointment.confirmed_at = None
        if to_status in (S.SCHEDULED, S.CONFIRMED):
            appointment.arrived_at = None
        if from_status == S.IN_TREATMENT:
            appointment.arrived_at = kept_arrival  # the arrival itself was real
            appointment.seated_at = None
            appointment.ready_at = None
        if from_status == S.NO_SHOW:
            fee_reversed = _reverse_no_show_fee(session, actor, appointment)
        if from_status == S.COMPLETED:
            fee_reversed += visit_charges.completion_undone(
                session, actor, appointment, now
            ).reversed
    charged = ZERO
    if to_status == S.COMPLETED:
        session.flush()  # the appointment's id and completed_at for the item
        charged = visit_charges.visit_completed(session, actor, appointment, now).charged
    warnings: tuple[str, ...] = ()
    if to_status == S.ARRIVED and from_status != S.IN_TREATMENT:
        warnings = tuple(
            scheduling.consent_warnings(session, appointment.patient_id, appointment.service_id)
        )
    event = _JOURNEY_EVENTS.get(to_status)
    if event is not None:
        journey.advance_journey(session, appointment.patient_id, event)
    session.flush()
    if clashes:
        scheduling.audit_double_book(session, appointment, clashes)
    return _result(appointment, warnings=warnings, fee_reversed=fee_reversed, charged=charged)


def mark_ready(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    *,
    ready: bool = True,
    now: datetime | None = None,
) -> StatusResult:
    """The provider is done with a patient in treatment: ready to check out (``ready=False``
    takes it back).  The status stays "in treatment" until check-out completes the visit."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    now = _now(now)
    with unit_of_work(db, actor) as session:
        appointment = _load(session, appointment_id, version)
        if appointment.status != S.IN_TREATMENT:
            raise ValidationError(
                "Only a patient in treatment can be ready to check out: seat them first.",
                field="status",
            )
        assign_changed(appointment, {"ready_at": now if ready else None})
        session.flush()
        return _result(appointment)


def cancel_appointment(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    *,
    by: CancelledBy | str,
    reason: str,
    now: datetime | None = None,
) -> StatusResult:
    """Cancel with a reason, by the patient or the clinic.

    A patient's cancellation inside the clinic's late-cancel window is flagged late and,
    when the clinic charges fees, adds the late-cancellation fee to the patient's account.
    """
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    try:
        by = CancelledBy(by)
    except ValueError:
        raise ValidationError(
            "Say who canceled: the patient or the clinic.", field="cancelled_by"
        ) from None
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            "Say why the appointment is canceled, for example “Patient ill”.", field="reason"
        )
    if len(reason) > 200:
        raise ValidationError("The reason is too long: at most 200 characters.", field="reason")
    now = _now(now)
    with unit_of_work(db, actor) as session:
        appointment = _load(session, appointment_id, version)
        check_transition(appointment.status, S.CANCELLED)
        settings = clinic_settings(session)
        late = is_late_cancel(appointment.starts_at, now, settings.late_cancel_hours, by)
        scheduling.record_status_change(
            session, appointment, S.CANCELLED.value, actor, reason=reason, at=now
        )
        appointment.cancelled_by = by.value
        appointment.cancel_reason = reason
        appointment.late_cancel = late
        fee = ZERO
        if late and settings.charge_no_show_fee and settings.late_cancel_fee > 0:
            fee = settings.late_cancel_fee
            _add_fee(session, actor, appointment, ChargeKind.LATE_CANCEL_FEE, fee)
        session.flush()
        return _result(
            appointment,
            late_cancel=late,
            fee_added=fee,
            fee_kind=ChargeKind.LATE_CANCEL_FEE.value if fee else None,
        )


def mark_no_show(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> StatusResult:
    """The patient did not come: only once the start time has passed.

    Adds the clinic's no-show fee to the patient's account when the clinic charges fees.
    """
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    reason = " ".join((reason or "").split())
    now = _now(now)
    with unit_of_work(db, actor) as session:
        appointment = _load(session, appointment_id, version)
        check_transition(appointment.status, S.NO_SHOW)
        _time_rules(
            appointment, S.NO_SHOW, now, clinic_zone(session), clinic_settings(session).locale
        )
        settings = clinic_settings(session)
        scheduling.record_status_change(
            session, appointment, S.NO_SHOW.value, actor, reason=reason, at=now
        )
        fee = ZERO
        if settings.charge_no_show_fee and settings.no_show_fee > 0:
            fee = settings.no_show_fee
            _add_fee(session, actor, appointment, ChargeKind.NO_SHOW_FEE, fee)
        session.flush()
        return _result(
            appointment, fee_added=fee, fee_kind=ChargeKind.NO_SHOW_FEE.value if fee else None
        )


# --- reads ---------------------------------------------------------------------------------


def _history(session: Session, appointment_id: int) -> list[StatusLine]:
    rows = session.execute(
        select(AppointmentStatusChange, Staff.full_name)
        .outerjoin(Staff, Staff.id == AppointmentStatusChange.changed_by_id)
        .where(AppointmentStatusChange.appointment_id == appointment_id)
        .order_by(AppointmentStatusChange.changed_at, AppointmentStatusChange.id)
    ).all()
    return [
        StatusLine(
            from_status=change.from_status,
            to_status=change.to_status,
            changed_at=change.changed_at,
            changed_by_name=name or "CareDesk",
            reason=change.reason,
            id=change.id,
        )
        for change, name in rows
    ]


def status_history(db: Database, actor: Actor, appointment_id: int) -> list[StatusLine]:
    """Every step of the appointment's status, oldest first, with who and when."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        if session.get(Appointment, appointment_id) is None:
            raise NotFoundError("This appointment no longer exists.")
        return _history(session, appointment_id)


def _undo_target(status: str, history: list[StatusLine]) -> str | None:
    """Where "Undo" goes: the status before the last step, when the table allows going back."""
    if not history or history[-1].to_status != status:
        return None
    previous = history[-1].from_status
    if previous is None or (status, previous) not in UNDO_STEPS:
        return None
    return previous


def appointment_summary(
    db: Database, actor: Actor, appointment_id: int, *, now: datetime | None = None
) -> AppointmentSummary:
    """What the appointment details dialog shows, with the steps allowed now."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    now = _now(now)
    with reading(db, actor) as session:
        a = session.get(Appointment, appointment_id)
        if a is None:
            raise NotFoundError("This appointment no longer exists.")
        patient = session.get(Patient, a.patient_id)
        provider = session.get(Provider, a.provider_id)
        room = session.get(Room, a.room_id) if a.room_id is not None else None
        settings = clinic_settings(session)
        zone = clinic_zone(session)
        no_shows, late_cancels = attendance_counts(session, a.patient_id)
        phone = ""
        if patient is not None:
            raw = patient.mobile_phone or patient.home_phone or patient.work_phone
            phone = phones.display_phone(raw)
        nexts = allowed_next(a.status, a.starts_at, now, zone)
        undo = _undo_target(a.status, _history(session, a.id))
        charge = settings.charge_no_show_fee
        return AppointmentSummary(
            id=a.id,
            version=a.version,
            patient_id=a.patient_id,
            patient_name=f"{patient.last_name}, {patient.first_name}" if patient else "",
            patient_phone=phone,
            service_name=_service_name(session, a.service_id),
            provider_name=_provider_name(provider),
            room_name=room.name if room is not None else "",
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            status=a.status,
            notes=a.notes,
            arrived_at=a.arrived_at,
            minutes_late=minutes_late(a.starts_at, a.arrived_at),
            no_shows=no_shows,
            late_cancels=late_cancels,
            allowed_next=nexts,
            undo_to=undo if undo in nexts else None,
            cancelled_by=a.cancelled_by,
            cancel_reason=a.cancel_reason,
            late_cancel=a.late_cancel,
            late_cancel_hours=settings.late_cancel_hours,
            late_cancel_fee=settings.late_cancel_fee if charge else ZERO,
            no_show_fee=settings.no_show_fee if charge else ZERO,
        )


# --- scheduling settings -------------------------------------------------------------------


def _settings_of(row: ClinicSettings) -> SchedulingSettings:
    return SchedulingSettings(
        late_cancel_hours=row.late_cancel_hours,
        charge_fees=row.charge_no_show_fee,
        no_show_fee=row.no_show_fee,
        late_cancel_fee=row.late_cancel_fee,
        opens_at_minute=row.opens_at_minute,
        closes_at_minute=row.closes_at_minute,
        version=row.version,
        wait_warning_minutes=row.wait_warning_minutes,
        insurance_check_days=row.insurance_check_days,
    )


def get_scheduling_settings(db: Database, actor: Actor) -> SchedulingSettings:
    """The late-cancel window, the fees and the calendar's opening hours."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        return _settings_of(clinic_settings(session))


def _check_fee(amount: Decimal, field: str, what: str) -> None:
    if isinstance(amount, float) or not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(f"The {what} is not an amount.", field=field)
    if amount < 0:
        raise ValidationError(f"The {what} cannot be negative.", field=field)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(f"The {what} has more than 2 decimal places.", field=field)
    if amount > MAX_FEE:
        raise ValidationError(f"The {what} is too large.", field=field)


def validate_scheduling_settings(settings: SchedulingSettings) -> None:
    """Raise the first problem, with its field."""
    if not 0 <= settings.late_cancel_hours <= 168:
        raise ValidationError(
            "The late-cancellation window is between 0 and 168 hours (one week).",
            field="late_cancel_hours",
        )
    _check_fee(settings.no_show_fee, "no_show_fee", "no-show fee")
    _check_fee(settings.late_cancel_fee, "late_cancel_fee", "late-cancellation fee")
    if not 0 <= settings.opens_at_minute < 1440 or not 0 < settings.closes_at_minute <= 1440:
        raise ValidationError("Opening hours are times within one day.", field="opens_at_minute")
    if settings.opens_at_minute >= settings.closes_at_minute:
        raise ValidationError("The clinic must open before it closes.", field="closes_at_minute")
    if not 1 <= settings.wait_warning_minutes <= 240:
        raise ValidationError("Highlight a wait of 1 to 240 minutes.", field="wait_warning_minutes")
    if not 1 <= settings.insurance_check_days <= 60:
        raise ValidationError(
            "Check insurance 1 to 60 days before visits.", field="insurance_check_days"
        )


def update_scheduling_settings(
    db: Database, actor: Actor, settings: SchedulingSettings
) -> SchedulingSettings:
    """Save the scheduling settings (owner only); a stale copy is refused."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    validate_scheduling_settings(settings)
    with unit_of_work(db, actor) as session:
        row = clinic_settings(session)
        if row.version != settings.version:
            raise ConcurrentEditError("The clinic's settings")
        assign_changed(
            row,
            {
                "late_cancel_hours": settings.late_cancel_hours,
                "charge_no_show_fee": settings.charge_fees,
                "no_show_fee": settings.no_show_fee.quantize(Decimal("0.01")),
                "late_cancel_fee": settings.late_cancel_fee.quantize(Decimal("0.01")),
                "opens_at_minute": settings.opens_at_minute,
                "closes_at_minute": settings.closes_at_minute,
                "wait_warning_minutes": settings.wait_warning_minutes,
                "insurance_check_days": settings.insurance_check_days,
            },
        )
        session.flush()
        return _settings_of(row)
