"""Opening balances from a file: what each patient owed (or had in credit) in the clinic's
previous system, carried over as one dated adjustment per patient.

- The patient is found by chart number (none → refused: import the patients first).
- ``balance`` is money as the clinic writes it (:func:`.values.parse_money`): positive, the
  patient owes — an ``opening_balance`` adjustment, which adds to what they owe; negative,
  "(12.00)" or "12.00 CR", a credit — an ``opening_credit`` adjustment, which reduces it.
  Zero is skipped (nothing to carry over).  Amounts are stored positive, the kind says which
  way they move the balance, like every adjustment.
- The adjustment is dated ``as_of`` (the row's, else the request's, else today), at the start
  of that day in the clinic's zone, so what happens later that day comes after it.  A day in
  the future, or in a month the owner has closed, refuses the row.
- A patient who already has an opening balance or credit (not voided) is skipped; a patient
  on two lines of the file refuses both (one opening balance per patient: the file decides).
- The reason kept with it: "Opening balance from <source> (<file name>)", and the row's note.

The month-end report counts these as adjustments of the month they are dated in — never as
production or fees, which are charges — and every balance and the receivable include them.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.imports import ImportedRowAction
from app.data.models.patients import Patient
from app.data.models.payments import AccountAdjustment, AdjustmentKind
from app.i18n import format_date
from app.money import MAX_AMOUNT
from app.services.clinic import closed_months
from app.services.clinic.clock import clinic_settings, clinic_zone, day_bounds
from app.services.imports import values as read
from app.services.imports.common import (
    CHUNK,
    ImportRequest,
    Plan,
    RowLog,
    Ticker,
    insert_returning_ids,
    reject_of,
    unescaped,
)
from app.services.patients.search import clean_typed_text

FIELDS = ("patient_chart_number", "balance", "as_of", "note")
OPENING_KINDS = (AdjustmentKind.OPENING_BALANCE.value, AdjustmentKind.OPENING_CREDIT.value)
_REASON_MAX = AccountAdjustment.__table__.c.reason.type.length


def _patients(session: Session, charts: list[str]) -> dict[str, tuple[int, int | None]]:
    found = {}
    for start in range(0, len(charts), 500):
        chunk = charts[start : start + 500]
        for pid, chart, merged_into in session.execute(
            select(Patient.id, Patient.chart_number, Patient.merged_into_id).where(
                Patient.chart_number.in_(chunk)
            )
        ):
            found[chart] = (pid, merged_into)
    return found


def _with_opening(session: Session) -> set[int]:
    """Patients who already have an opening balance or credit that is not voided."""
    return set(
        session.scalars(
            select(AccountAdjustment.patient_id).where(
                AccountAdjustment.kind.in_(OPENING_KINDS), AccountAdjustment.voided_at.is_(None)
            )
        )
    )


def plan(session: Session, request: ImportRequest, ticker: Ticker) -> Plan:
    """What each row of a balances file would do (nothing is written)."""
    result = Plan(request.kind, len(request.rows))
    rows = [unescaped(row) for row in request.rows]
    settings = clinic_settings(session)
    locale, zone = settings.locale, clinic_zone(session)
    now = utc_now()
    today = now.astimezone(zone).date()
    through = closed_months.closed_through(session)
    charts = {
        row.line: clean_typed_text(row.values.get("patient_chart_number", ""), multiline=False)
        for row in rows
    }
    patients = _patients(session, sorted({c for c in charts.values() if c}))
    lines_of: dict[str, list[int]] = defaultdict(list)
    for line, chart in charts.items():
        if chart:
            lines_of[chart].append(line)
    already = _with_opening(session)
    source = f"Opening balance from {request.source} ({request.file_name})"
    for row in rows:
        ticker.step()
        chart = charts[row.line]
        try:
            if not chart:
                raise ValueError("The patient's chart number is empty.")
            if len(lines_of[chart]) > 1:
                others = ", ".join(str(n) for n in lines_of[chart] if n != row.line)
                raise ValueError(
                    f"Chart number {chart} is also on line {others}: one opening balance per "
                    "patient."
                )
            if chart not in patients:
                raise ValueError(
                    f"No patient with chart number {chart}: import the patients first (or check "
                    "the chart number)."
                )
            patient_id, merged_into = patients[chart]
            if merged_into is not None:
                raise ValueError(
                    f"Chart number {chart} was merged into another record: give the balance "
                    "to that one."
                )
            text = row.values.get("balance", "").strip()
            if not text:
                raise ValueError("The balance is empty.")
            amount = read.parse_money(text, locale)
            if abs(amount) > MAX_AMOUNT:
                raise ValueError(f"The balance “{text}” is larger than CareDesk keeps.")
            day_text = row.values.get("as_of", "").strip()
            if day_text:
                day = read.parse_date(day_text, request.date_order, today=today)
            else:
                day = request.as_of or today
            if day > today:
                raise ValueError(
                    f"The balance is dated {format_date(day, locale)}, which has not come yet."
                )
            if through is not None and day <= through:
                raise ValueError(
                    f"The balance is dated {format_date(day, locale)}, in a month that is "
                    f"closed (through {format_date(through, locale)}): date it later."
                )
        except read.AmbiguousDate as exc:
            result.date_order_needed = True
            result.rejects.append(reject_of(row, f"As of: {exc}"))
            continue
        except ValueError as exc:
            result.rejects.append(reject_of(row, str(exc)))
            continue
        if amount == 0:
            result.skipped.append(reject_of(row, "The balance is zero: nothing to carry over."))
            continue
        if patient_id in already:
            result.skipped.append(
                reject_of(row, f"Chart number {chart} already has an opening balance or credit.")
            )
            continue
        note = clean_typed_text(row.values.get("note", ""), multiline=False)
        reason = f"{source}: {note}" if note else source
        result.creates.append(
            (
                row.line,
                {
                    "patient_id": patient_id,
                    "kind": OPENING_KINDS[0] if amount > 0 else OPENING_KINDS[1],
                    "amount": abs(amount).quantize(Decimal("0.01")),
                    "reason": reason[:_REASON_MAX],
                    "posted_at": day_bounds(day, zone)[0],
                    "charge_id": None,
                    "insurance_policy_id": None,
                    "voided_at": None,
                    "voided_by_id": None,
                    "void_reason": "",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
        )
    return result


def write(
    session: Session, actor, _request: ImportRequest, result: Plan, ticker: Ticker, log: RowLog
) -> None:
    """Insert the adjustments in chunks; their import_rows."""
    table = AccountAdjustment.__table__
    staff_id = actor.staff_id if actor is not None else None
    for start in range(0, len(result.creates), CHUNK):
        chunk = result.creates[start : start + CHUNK]
        ids = insert_returning_ids(
            session,
            table,
            [{**columns, "created_by_id": staff_id} for _line, columns in chunk],
            ("patient_id",),
        )
        log.add([
            {"table_name": "account_adjustments", "row_id": aid,
             "action": ImportedRowAction.CREATED.value, "line": line, "before": ""}
            for aid, (line, _columns) in zip(ids, chunk, strict=True)
        ])  # fmt: skip
        ticker.step(len(chunk))
