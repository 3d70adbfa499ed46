"""The clinic's patients, appointments and opening balances as the three CSV files a new
system imports first — the same columns CareDesk's own import reads (its field labels), so a
clinic moves to another CareDesk, or to any system with a column-mapping import, from these.

The tables of the whole-clinic export hold everything, by internal ids; these hold what a
move needs, by the names people use: chart numbers, provider and room names, local dates
and times in the clinic's time zone, balances as of the export's day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment
from app.data.models.imports import ImportKind
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.services.billing.balances import balances_at
from app.services.exports.cells import safe_row
from app.services.imports.mappings import FIELDS

#: The file of each kind, in the order a new system imports them.
FILE_NAMES: dict[str, str] = {
    ImportKind.PATIENTS.value: "patients.csv",
    ImportKind.APPOINTMENTS.value: "appointments.csv",
    ImportKind.BALANCES.value: "balances.csv",
}
#: The fields written for each kind (the import's own names; their labels head the columns).
_PATIENT_FIELDS = (
    "chart_number", "last_name", "first_name", "middle_name", "preferred_name",
    "date_of_birth", "sex", "mobile_phone", "home_phone", "work_phone", "email",
    "address_line1", "address_line2", "city", "region", "postal_code", "country",
    "preferred_language", "emergency_contact_name", "emergency_contact_phone",
    "emergency_contact_relation", "medical_alerts", "allergies", "medications", "lead_source",
    "may_text", "may_email", "status", "deceased_on",
)  # fmt: skip
_APPOINTMENT_FIELDS = (
    "source_id", "patient_chart_number", "patient_name", "date", "start_time", "end_time",
    "provider", "room", "service", "status", "notes",
)  # fmt: skip
_BALANCE_FIELDS = ("patient_chart_number", "balance", "as_of")
_BATCH = 2_000


def _labels(kind: str, names: tuple[str, ...]) -> list[str]:
    label_of = {spec.name: spec.label for spec in FIELDS[kind]}
    return [label_of[name] for name in names]


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _patient_rows(session: Session) -> Iterator[list[object]]:
    query = (
        select(Patient)
        .where(Patient.merged_into_id.is_(None))
        .order_by(Patient.id)
        .execution_options(yield_per=_BATCH)
    )
    for patient in session.scalars(query):
        values = {name: getattr(patient, name, "") for name in _PATIENT_FIELDS}
        values["date_of_birth"] = patient.date_of_birth.isoformat() if patient.date_of_birth else ""
        values["deceased_on"] = patient.deceased_on.isoformat() if patient.deceased_on else ""
        values["sex"] = patient.sex or ""
        values["may_text"] = _yes_no(patient.may_text)
        values["may_email"] = _yes_no(patient.may_email)
        values["status"] = "active" if patient.is_active else "inactive"
        yield [values[name] for name in _PATIENT_FIELDS]


def _appointment_rows(session: Session, zone: ZoneInfo) -> Iterator[list[object]]:
    providers = {p.id: f"{p.title} {p.name}".strip() for p in session.scalars(select(Provider))}
    rooms = {r.id: r.name for r in session.scalars(select(Room))}
    services = {s.id: s.name for s in session.scalars(select(Service))}
    query = (
        select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.notes,
            Appointment.provider_id,
            Appointment.room_id,
            Appointment.service_id,
            Patient.chart_number,
            Patient.first_name,
            Patient.last_name,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .order_by(Appointment.starts_at, Appointment.id)
        .execution_options(yield_per=_BATCH)
    )
    for row in session.execute(query):
        starts, ends = row.starts_at.astimezone(zone), row.ends_at.astimezone(zone)
        yield [
            row.id,
            row.chart_number,
            f"{row.last_name}, {row.first_name}",
            starts.date().isoformat(),
            starts.strftime("%H:%M"),
            # A visit past midnight ends the next day: its length is what counts.
            ends.strftime("%H:%M") if ends.date() == starts.date() else "",
            providers.get(row.provider_id, ""),
            rooms.get(row.room_id, "") if row.room_id else "",
            services.get(row.service_id, "") if row.service_id else "",
            row.status,
            row.notes,
        ]


def _balance_rows(session: Session, moment: datetime, zone: ZoneInfo) -> Iterator[list[object]]:
    charts = dict(session.execute(select(Patient.id, Patient.chart_number)).all())
    as_of = moment.astimezone(zone).date().isoformat()
    for patient_id, balance in sorted(balances_at(session, moment).items()):
        if balance and patient_id in charts:
            yield [charts[patient_id], balance, as_of]  # a number: never escaped


def moving_files(
    session: Session, *, moment: datetime, zone: ZoneInfo
) -> Iterator[tuple[str, bytes]]:
    """Each file's name and bytes (UTF-8 with BOM, so Excel opens it right; every text cell
    escaped against formulas), read in ``session``; balances as of ``moment``."""
    tables = (
        (ImportKind.PATIENTS.value, _PATIENT_FIELDS, _patient_rows(session)),
        (ImportKind.APPOINTMENTS.value, _APPOINTMENT_FIELDS, _appointment_rows(session, zone)),
        (ImportKind.BALANCES.value, _BALANCE_FIELDS, _balance_rows(session, moment, zone)),
    )
    for kind, names, rows in tables:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(_labels(kind, names))
        for row in rows:
            writer.writerow(safe_row(row))
        yield FILE_NAMES[kind], b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
