"""The month-end's patients-and-coordination figures, each defined once (the definitions are
in docs/reports.md): new patients (and by lead source), journey conversion, treatment
acceptance (overall, by coordinator, by provider), accepted-not-scheduled value, referral
completion and recall effectiveness.

CareDesk keeps no history of journey stages (a patient holds only the stage it is in now),
so a stage is entered when the event that moves the journey into it first happened — the
events of :data:`app.services.patients.journey.JOURNEY_EVENTS`, each dated in its own table.

Every figure is read in one transaction, so they agree with one another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, func, or_, select, type_coerce, union, union_all
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.imports import ImportedRow, ImportedRowAction
from app.data.models.notes import ConsultationNote
from app.data.models.patients import JourneyStage, Patient
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider, Service
from app.data.models.referrals import (
    FINISHED_STATUSES,
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralEventKind,
    ReferralStatus,
)
from app.data.models.staff import Staff
from app.data.types import Money
from app.money import ZERO
from app.services.billing.plans_overview import not_scheduled, phase_values
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone, day_bounds
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.referrals.stages import overdue_reason
from app.services.reports.period import Period, checked
from app.services.scheduling.confirmations import provider_display

NOT_RECORDED = "Not recorded"
NO_PROVIDER = "No provider"
NO_COORDINATOR = "Not recorded"
#: The stages whose conversion is measured, in order: each converts into any later one.
FUNNEL = (
    JourneyStage.INQUIRY.value,
    JourneyStage.CONSULTATION.value,
    JourneyStage.BOOKED.value,
    JourneyStage.IN_TREATMENT.value,
)
#: Plan statuses that mean the patient said yes (to all or some of it).
ACCEPTED_STATUSES = (
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
    PlanStatus.COMPLETED.value,
)


@dataclass(frozen=True)
class StageConversion:
    stage: str
    next_stage: str
    #: Patients who entered ``stage`` in the period …
    entered: int
    #: … and of them, those who reached ``next_stage`` or a later one by the period's end.
    converted: int

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.converted, self.entered)


@dataclass(frozen=True)
class Acceptance:
    """Treatment cases presented in the period and, of them, accepted by its end."""

    presented: int
    presented_value: Decimal
    accepted: int
    accepted_value: Decimal

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.accepted, self.presented)

    @property
    def value_rate(self) -> Decimal | None:
        return _rate(self.accepted_value, self.presented_value)


@dataclass(frozen=True)
class CoordinationFigures:
    period: Period
    new_patients: int
    new_patients_by_lead_source: tuple[tuple[str, int], ...]
    journey: tuple[StageConversion, ...]
    acceptance: Acceptance
    acceptance_by_coordinator: tuple[tuple[str, Acceptance], ...]
    acceptance_by_provider: tuple[tuple[str, Acceptance], ...]
    #: Accepted phases with no live visit booked (the Plans page's rule), accepted by the
    #: period's end; read as the phases and visits stand when the report runs.
    accepted_not_scheduled_value: Decimal
    accepted_not_scheduled_phases: int
    #: Outgoing referrals sent in the period (the cohort), and those of them whose
    #: specialist's report was received by its end (closed with report).
    referrals_sent: int
    referrals_completed: int
    #: Median days from sending to the specialist's visit, over the cohort's referrals seen
    #: by the period's end, to one place (None: none seen yet).
    median_days_to_specialist_visit: Decimal | None
    #: Outgoing referrals open at the period's end and overdue then (:func:`referral_overdue`).
    referrals_overdue: int
    #: Recalls that fell due in the period, and those of them booked by its end.
    recalls_due: int
    recalls_booked: int

    @property
    def referral_completion_rate(self) -> Decimal | None:
        """None: no referrals sent (in the period)."""
        return _rate(self.referrals_completed, self.referrals_sent)

    @property
    def recall_rate(self) -> Decimal | None:
        return _rate(self.recalls_booked, self.recalls_due)


def _rate(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` to four places, None when there is no whole (no division by zero)."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def _in(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= _utc(moment) < end


def _utc(moment: datetime) -> datetime:
    # An aggregate's moment read back without its column's type would be naive UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_CHUNK = 500  # ids per IN (...) list
_NOT_COMPLETED = tuple(s.value for s in AppointmentStatus if s is not AppointmentStatus.COMPLETED)


def _chunks(ids: list[int]):
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


# --- new patients -----------------------------------------------------------------------------


def _new_patients(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """From the period's completed visits (the (status, starts_at) index) to their patients,
    keeping those with no completed visit before it (the (patient_id, starts_at) index): the
    first completed visit is in the period exactly then."""
    completed = AppointmentStatus.COMPLETED.value
    seen = (
        select(Appointment.patient_id)
        .where(
            Appointment.status == completed,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .distinct()
        .subquery("seen")
    )
    earlier = aliased(Appointment, name="earlier")
    seen_before = (
        select(earlier.id)
        .where(
            earlier.patient_id == seen.c.patient_id,
            earlier.starts_at < start,
            # "Completed", said as every other status (the same rows: the status_known
            # check): SQLite, which keeps no statistics here, would otherwise walk the
            # (status, starts_at) index through years of completed visits for each patient
            # instead of that patient's own few by (patient_id, starts_at).
            earlier.status.not_in(_NOT_COMPLETED),
        )
        .exists()
    )
    by_source: dict[str, int] = defaultdict(int)
    for source, count in session.execute(
        select(Patient.lead_source, func.count())
        .select_from(seen)
        .join(Patient, Patient.id == seen.c.patient_id)
        .where(Patient.merged_into_id.is_(None), ~seen_before)
        .group_by(Patient.lead_source)
    ):
        by_source[(source or "").strip() or NOT_RECORDED] += count
    return dict(by_source)


# --- journey ----------------------------------------------------------------------------------


def _stage_moments(session: Session, start: datetime, end: datetime) -> dict[str, dict]:
    """The first moment of each stage's event, of the patients who may have entered a stage
    in the period: only a patient with one of its events in the period can have (a first
    moment in the period is an event in it).  They are found by range on each event's date,
    then only their history is read (first note by the (patient_id, created_at) index, their
    visits by patient)."""
    candidates = union(
        select(Patient.id.label("patient_id")).where(
            Patient.created_at >= start, Patient.created_at < end
        ),
        select(ConsultationNote.patient_id).where(
            ConsultationNote.created_at >= start, ConsultationNote.created_at < end
        ),
        select(Appointment.patient_id).where(
            Appointment.created_at >= start, Appointment.created_at < end
        ),
    ).subquery("candidates")
    first_note = (
        select(func.min(ConsultationNote.created_at))
        .where(ConsultationNote.patient_id == Patient.id)
        .scalar_subquery()
    )
    entries: dict[str, dict[int, datetime]] = {stage: {} for stage in FUNNEL}
    ids: list[int] = []
    # A patient brought in from the clinic's previous system is no lead of the month it was
    # imported in (its row's created_at): its journey happened before CareDesk knew it.
    imported = (
        select(ImportedRow.id)
        .where(
            ImportedRow.table_name == Patient.__tablename__,
            ImportedRow.row_id == Patient.id,
            ImportedRow.action == ImportedRowAction.CREATED.value,
        )
        .exists()
    )
    # Merged records are left out here, not in SQL: asked there, SQLite would walk every
    # live patient by merged_into_id instead of these few by their ids.
    for pid, merged_into_id, created_at, noted_at, was_imported in session.execute(
        select(Patient.id, Patient.merged_into_id, Patient.created_at, first_note, imported)
        .select_from(candidates)
        .join(Patient, Patient.id == candidates.c.patient_id)
    ):
        if merged_into_id is not None or was_imported:
            continue
        ids.append(pid)
        for stage, moment in (
            (JourneyStage.INQUIRY.value, created_at),
            (JourneyStage.CONSULTATION.value, noted_at),
        ):
            if moment is not None:
                entries[stage][pid] = _utc(moment)
    for chunk in _chunks(ids):
        for pid, booked_at, seated_at in session.execute(
            select(
                Appointment.patient_id,
                func.min(Appointment.created_at),
                func.min(Appointment.seated_at),
            )
            .where(Appointment.patient_id.in_(chunk))
            .group_by(Appointment.patient_id)
        ):
            for stage, moment in (
                (JourneyStage.BOOKED.value, booked_at),
                (JourneyStage.IN_TREATMENT.value, seated_at),
            ):
                if moment is not None:
                    entries[stage][pid] = _utc(moment)
    return entries


def _journey(session: Session, start: datetime, end: datetime) -> tuple[StageConversion, ...]:
    """Each stage entered at the first moment of its event (none kept for staff moves)."""
    entries = _stage_moments(session, start, end)
    patients = entries[JourneyStage.INQUIRY.value]
    conversions = []
    for index, stage in enumerate(FUNNEL[:-1]):
        later = FUNNEL[index + 1 :]
        entered = converted = 0
        for pid in patients:
            moment = entries[stage].get(pid)
            if not _in(moment, start, end):
                continue
            # A later stage reached first means the patient skipped this one.
            if any(entries[s].get(pid, moment) < moment for s in later):
                continue
            entered += 1
            if any(entries[s].get(pid, end) < end for s in later):
                converted += 1
        conversions.append(StageConversion(stage, FUNNEL[index + 1], entered, converted))
    return tuple(conversions)


# --- treatment acceptance ---------------------------------------------------------------------


def case_acceptance(session: Session, start: datetime, end: datetime):
    """The cases presented between ``start`` and ``end``: overall, by coordinator and by
    provider (docs/reports.md, *treatment acceptance*; the trends use it too)."""
    declined = TreatmentItem.status == ItemStatus.DECLINED.value
    line = TreatmentItem.fee * TreatmentItem.quantity - TreatmentItem.discount
    plans: dict[int, dict] = {}
    for row in session.execute(
        select(
            TreatmentPlan.id,
            TreatmentPlan.option_group,
            TreatmentPlan.status,
            TreatmentPlan.decided_at,
            func.coalesce(TreatmentPlan.presented_by_id, TreatmentPlan.created_by_id).label(
                "coordinator_id"
            ),
            TreatmentPlan.provider_id,
            type_coerce(func.coalesce(func.sum(line), 0), Money()).label("value"),
            type_coerce(
                func.coalesce(func.sum(case((~declined, line), else_=0)), 0), Money()
            ).label("kept"),
        )
        .join(TreatmentPhase, TreatmentPhase.plan_id == TreatmentPlan.id)
        .join(TreatmentItem, TreatmentItem.phase_id == TreatmentPhase.id)
        .where(TreatmentPlan.presented_at >= start, TreatmentPlan.presented_at < end)
        .group_by(TreatmentPlan.id)
    ):
        # Statuses only move on from a decision, so a yes now was a yes at its decided_at.
        accepted = (
            row.status in ACCEPTED_STATUSES
            and row.decided_at is not None
            and _utc(row.decided_at) < end
        )
        plans[row.id] = {
            "case": row.option_group or f"plan {row.id}",
            "accepted": accepted,
            "value": row.value,
            "kept": row.kept if accepted else ZERO,
            "coordinator_id": row.coordinator_id,
            "provider_id": row.provider_id,
            "id": row.id,
        }
    cases: dict[str, list[dict]] = defaultdict(list)
    for plan in plans.values():
        cases[plan["case"]].append(plan)
    staff = dict(session.execute(select(Staff.id, Staff.full_name)).all())
    providers = {p.id: provider_display(p) for p in session.scalars(select(Provider))}
    overall: list[dict] = []
    by_coordinator: dict[str, list[dict]] = defaultdict(list)
    by_provider: dict[str, list[dict]] = defaultdict(list)
    for options in cases.values():
        # A case's options are one presentation: worth its largest option, credited to the
        # option chosen (else the largest), accepted when one of them was.
        chosen = [o for o in options if o["accepted"]]
        largest = max(options, key=lambda o: (o["value"], -o["id"]))
        face = chosen[0] if chosen else largest
        one = {
            "value": largest["value"],
            "accepted": bool(chosen),
            "kept": sum((o["kept"] for o in chosen), ZERO),
        }
        overall.append(one)
        by_coordinator[staff.get(face["coordinator_id"]) or NO_COORDINATOR].append(one)
        by_provider[providers.get(face["provider_id"]) or NO_PROVIDER].append(one)
    return (
        _tally(overall),
        _named_tallies(by_coordinator),
        _named_tallies(by_provider),
    )


def _tally(cases: list[dict]) -> Acceptance:
    return Acceptance(
        presented=len(cases),
        presented_value=sum((c["value"] for c in cases), ZERO),
        accepted=sum(1 for c in cases if c["accepted"]),
        accepted_value=sum((c["kept"] for c in cases), ZERO),
    )


def _named_tallies(groups: dict[str, list[dict]]) -> tuple[tuple[str, Acceptance], ...]:
    tallies = {name: _tally(cases) for name, cases in groups.items()}
    return tuple(sorted(tallies.items(), key=lambda p: (-p[1].presented_value, p[0])))


def _not_scheduled(session: Session, end: datetime) -> tuple[Decimal, int]:
    values = phase_values()
    accepted_at = func.coalesce(TreatmentPhase.decided_at, TreatmentPlan.decided_at)
    total, count = session.execute(
        select(
            type_coerce(func.coalesce(func.sum(values.c.total), 0), Money()),
            func.count(TreatmentPhase.id),
        )
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
        .outerjoin(values, values.c.phase_id == TreatmentPhase.id)
        .where(*not_scheduled(), or_(accepted_at.is_(None), accepted_at < end))
    ).one()
    return total, count


# --- referrals and recalls --------------------------------------------------------------------


#: Outgoing statuses that mean the patient has seen the specialist.
_SEEN_STATUSES = (
    ReferralStatus.SEEN.value,
    ReferralStatus.REPORT_RECEIVED.value,
    ReferralStatus.CLOSED.value,
)


@dataclass(frozen=True)
class _ReferralDays:
    referral_booking_days: int
    referral_report_days: int


@dataclass(frozen=True)
class _AsOfDay:
    """An outgoing referral as it stood on one day (the facts ``stages.overdue_reason``
    reads): a step dated after that day not taken yet."""

    status: str
    referred_on: date
    sent_on: date | None
    visit_due_on: date | None
    visit_on: date | None
    seen_on: date | None
    direction: str = ReferralDirection.OUTGOING.value


def referral_overdue(
    on: date,
    *,
    sent_on: date,
    booked_on: date | None,
    visit_on: date | None,
    seen_on: date | None,
    report_received_on: date | None,
    visit_due_on: date | None,
    booking_days: int,
    report_days: int,
) -> bool:
    """Whether an outgoing referral open on the clinic day ``on`` was overdue then: its
    status that day (a step dated after it not taken yet; a booking counts from the day it
    was recorded, ``booked_on``) under the Referrals page's rule,
    :func:`app.services.referrals.stages.overdue_reason`."""
    booked = booked_on is not None and booked_on <= on
    seen = seen_on is not None and seen_on <= on
    if report_received_on is not None and report_received_on <= on:
        status = ReferralStatus.REPORT_RECEIVED.value
    elif seen:
        status = ReferralStatus.SEEN.value
    elif booked:
        status = ReferralStatus.BOOKED.value
    else:
        status = ReferralStatus.SENT.value
    then = _AsOfDay(
        status=status,
        referred_on=sent_on,
        sent_on=sent_on,
        visit_due_on=visit_due_on,
        visit_on=visit_on if booked or seen else None,
        seen_on=seen_on if seen else None,
    )
    return bool(overdue_reason(then, on, _ReferralDays(booking_days, report_days)))


@dataclass(frozen=True)
class _ReferralFigures:
    sent: int
    completed: int
    median_days: Decimal | None
    overdue: int


def _median(values: list[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        median = Decimal(ordered[middle])
    else:
        median = (Decimal(ordered[middle - 1]) + Decimal(ordered[middle])) / 2
    return median.quantize(Decimal("0.1"))


def _visit_day(status: str, visit_on: date | None, seen_on: date | None) -> date | None:
    """The day the patient saw the specialist: the seen date, else the booked visit's date
    once the referral says they were seen."""
    if seen_on is not None:
        return seen_on
    return visit_on if status in _SEEN_STATUSES else None


def _referrals(
    session: Session, period: Period, start: datetime, end: datetime
) -> _ReferralFigures:
    """The outgoing referrals sent in the period (by ``sent_at``'s clinic-local day): how
    many, how many had their report by the period's end, the median days to the
    specialist's visit; and the open referrals overdue at the period's end."""
    zone = clinic_zone(session)
    settings = clinic_settings(session)
    outgoing = Referral.direction == ReferralDirection.OUTGOING.value
    sent = completed = 0
    days: list[int] = []
    for sent_at, status, visit_on, seen_on, report_on in session.execute(
        select(
            Referral.sent_at,
            Referral.status,
            Referral.visit_on,
            Referral.seen_on,
            Referral.report_received_on,
        ).where(outgoing, Referral.sent_at >= start, Referral.sent_at < end)
    ):
        sent += 1
        if report_on is not None and report_on <= period.last:
            completed += 1
        visit = _visit_day(status, visit_on, seen_on)
        if visit is not None and visit <= period.last:
            days.append((visit - _utc(sent_at).astimezone(zone).date()).days)
    # Open at the period's end: sent by then, not closed, declined or cancelled by then (a
    # finished referral without its day, from before those days were kept, is finished).
    open_then = session.execute(
        select(
            Referral.id,
            Referral.sent_at,
            Referral.status,
            Referral.visit_on,
            Referral.seen_on,
            Referral.report_received_on,
            Referral.visit_due_on,
        ).where(
            outgoing,
            Referral.sent_at < end,
            or_(
                Referral.closed_on > period.last,
                Referral.closed_on.is_(None) & Referral.status.not_in(FINISHED_STATUSES),
            ),
        )
    ).all()
    booked_at: dict[int, datetime] = {}
    for chunk in _chunks([row.id for row in open_then]):
        for referral_id, moment in session.execute(
            select(ReferralEvent.referral_id, func.min(ReferralEvent.at))
            .where(
                ReferralEvent.referral_id.in_(chunk),
                ReferralEvent.kind == ReferralEventKind.STATUS.value,
                ReferralEvent.to_status == ReferralStatus.BOOKED.value,
            )
            .group_by(ReferralEvent.referral_id)
        ):
            booked_at[referral_id] = _utc(moment)
    overdue = 0
    for row in open_then:
        sent_on = _utc(row.sent_at).astimezone(zone).date()
        booked_on = None
        if row.id in booked_at:
            booked_on = booked_at[row.id].astimezone(zone).date()
        elif row.visit_on is not None:
            booked_on = sent_on  # booked before its steps were kept: when is not known
        overdue += referral_overdue(
            period.last,
            sent_on=sent_on,
            booked_on=booked_on,
            visit_on=row.visit_on,
            seen_on=_visit_day(row.status, row.visit_on, row.seen_on),
            report_received_on=row.report_received_on,
            visit_due_on=row.visit_due_on,
            booking_days=settings.referral_booking_days,
            report_days=settings.referral_report_days,
        )
    return _ReferralFigures(sent, completed, _median(days), overdue)


def _recalls(session: Session, period: Period, end: datetime) -> tuple[int, int]:
    """The recall list's rule (app.services.scheduling.recalls): due ``recall_interval_days``
    after the local date of a completed visit of a recall service — unless a later such
    visit came before that day.  Booked: a visit made before the period's end, starting
    after the recalled one, not cancelled before the end.

    Read from the period's own rows: a recall due in the period comes from a visit seen
    ``interval`` days before one of its days (the (status, starts_at) index, once per
    interval); only those patients' later visits are then read.  Of two visits at one
    moment, the later row is the later visit."""
    zone = clinic_zone(session)
    intervals = session.scalars(
        select(Service.recall_interval_days)
        .where(Service.recall_interval_days.is_not(None))
        .distinct()
    ).all()
    if not intervals:
        return 0, 0
    recalled = [
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.starts_at,
            Service.recall_interval_days,
        )
        .join(Service, Service.id == Appointment.service_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status == AppointmentStatus.COMPLETED.value,
            # Seen on the local day ``days`` before the period's first … last day.
            Appointment.starts_at >= day_bounds(period.first - timedelta(days=days), zone)[0],
            Appointment.starts_at < day_bounds(period.last - timedelta(days=days), zone)[1],
            Service.recall_interval_days == days,
            Patient.merged_into_id.is_(None),
        )
        for days in intervals
    ]
    candidates: list[tuple[int, int, datetime, date]] = []
    for visit_id, pid, starts_at, days in session.execute(union_all(*recalled)):
        starts_at = _utc(starts_at)
        due_on = starts_at.astimezone(zone).date() + timedelta(days=days)
        if period.first <= due_on <= period.last:
            candidates.append((pid, visit_id, starts_at, due_on))
    if not candidates:
        return 0, 0
    # Seen again before it fell due (a later completed recall-service visit on a local day
    # before the due one: so before the period's end): that visit's recall counts.
    since = min(starts_at for _, _, starts_at, _ in candidates)
    later: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    pids = sorted({pid for pid, *_ in candidates})
    for chunk in _chunks(pids):
        for pid, visit_id, starts_at in session.execute(
            select(Appointment.patient_id, Appointment.id, Appointment.starts_at)
            .join(Service, Service.id == Appointment.service_id)
            .where(
                Appointment.patient_id.in_(chunk),
                Appointment.starts_at >= since,
                Appointment.starts_at < end,
                Appointment.status.not_in(_NOT_COMPLETED),  # by patient: see _new_patients
                Service.recall_interval_days.is_not(None),
            )
        ):
            later[pid].append((_utc(starts_at), visit_id))
    due: list[tuple[int, datetime]] = []
    for pid, visit_id, starts_at, due_on in candidates:
        if any(
            (seen, other) > (starts_at, visit_id) and seen.astimezone(zone).date() < due_on
            for seen, other in later[pid]
        ):
            continue
        due.append((pid, starts_at))
    # Booked: the patient's latest visit made before the end and not cancelled by then
    # starts after the recalled one.
    latest: dict[int, datetime] = {}
    pids = sorted({pid for pid, _ in due})
    for chunk in _chunks(pids):
        for pid, starts_at in session.execute(
            select(Appointment.patient_id, func.max(Appointment.starts_at))
            .where(
                Appointment.patient_id.in_(chunk),
                Appointment.created_at < end,
                or_(
                    Appointment.status != AppointmentStatus.CANCELLED.value,
                    Appointment.cancelled_at >= end,
                ),
            )
            .group_by(Appointment.patient_id)
        ):
            if starts_at is not None:
                latest[pid] = _utc(starts_at)
    booked = sum(1 for pid, seen in due if pid in latest and latest[pid] > seen)
    return len(due), booked


# --- the section ------------------------------------------------------------------------------


def coordination_figures(
    db: Database, actor: Actor, period: Period, *, now: datetime | None = None
) -> CoordinationFigures:
    """The patients-and-coordination section of the month-end for ``period`` (owner and
    coordinator: Permission.VIEW_PRACTICE_REPORTS)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    with reading(db, actor) as session:
        checked(period, clinic_today(session, now or utc_now()))
        start, end = period.bounds(clinic_zone(session))
        by_source = _new_patients(session, start, end)
        acceptance, by_coordinator, by_provider = case_acceptance(session, start, end)
        unscheduled_value, unscheduled_phases = _not_scheduled(session, end)
        referrals = _referrals(session, period, start, end)
        recalls_due, recalls_booked = _recalls(session, period, end)
        return CoordinationFigures(
            period=period,
            new_patients=sum(by_source.values()),
            new_patients_by_lead_source=tuple(
                sorted(by_source.items(), key=lambda p: (-p[1], p[0]))
            ),
            journey=_journey(session, start, end),
            acceptance=acceptance,
            acceptance_by_coordinator=by_coordinator,
            acceptance_by_provider=by_provider,
            accepted_not_scheduled_value=unscheduled_value,
            accepted_not_scheduled_phases=unscheduled_phases,
            referrals_sent=referrals.sent,
            referrals_completed=referrals.completed,
            median_days_to_specialist_visit=referrals.median_days,
            referrals_overdue=referrals.overdue,
            recalls_due=recalls_due,
            recalls_booked=recalls_booked,
        )


__all__ = [
    "Acceptance",
    "CoordinationFigures",
    "StageConversion",
    "coordination_figures",
    "referral_overdue",
]
