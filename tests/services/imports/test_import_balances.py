"""Importing opening balances: one dated adjustment per patient, money read in the clinic's
locale, and what the month-end makes of them (adjustments and the receivable — never the
month's production or fees)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.imports import ImportKind
from app.data.models.payments import AccountAdjustment
from app.services.billing import month_close
from app.services.billing.balances import patient_balances
from app.services.imports import batches
from app.services.reports import period as periods
from app.services.reports.money import money_figures
from tests.data.factories import add_patient
from tests.services.imports.builders import import_request

#: The clinic's wall clock for these tests: March 10, 2026, 10:00 in New York.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
AS_OF = date(2026, 1, 31)


@pytest.fixture
def charts(clinic, frozen_clock) -> dict[str, int]:
    frozen_clock(NOW)
    with clinic.db.uow() as session:
        ids = {f"10{n:02d}": add_patient(session, chart_number=f"10{n:02d}").id for n in range(10)}
        session.add(
            AccountAdjustment(
                patient_id=ids["1006"],
                kind="opening_balance",
                amount=Decimal("40.00"),
                reason="Opening balance by hand",
                posted_at=datetime(2026, 1, 2, tzinfo=UTC),
            )
        )
        return ids


def _request(rows, as_of: date = AS_OF):
    return import_request(ImportKind.BALANCES, rows, as_of=as_of)


ROWS = [
    {"patient_chart_number": "1001", "balance": "$1,234.50"},  # 2
    {"patient_chart_number": "1002", "balance": "(12.00)"},  # 3
    {"patient_chart_number": "1003", "balance": "0.00"},  # 4
    {"patient_chart_number": "9999", "balance": "5"},  # 5
    {"patient_chart_number": "1004", "balance": "12.345"},  # 6
    {"patient_chart_number": "1005", "balance": "12.00 CR", "as_of": "2099-01-01"},  # 7
    {"patient_chart_number": "1006", "balance": "5"},  # 8
    {"patient_chart_number": "1007", "balance": "5"},  # 9
    {"patient_chart_number": "1007", "balance": "6"},  # 10
    {"patient_chart_number": "1008", "balance": "-7.5", "note": "Old plan"},  # 11
    {"patient_chart_number": "1009", "balance": "", "as_of": "2026-02-15"},  # 12
]


def test_the_dry_run_says_what_each_row_would_do_and_why(clinic, owner, charts):
    preview = batches.dry_run(clinic.db, owner, _request(ROWS))

    assert preview.summary() == (
        "3 opening balances will be created, 0 updated, 2 skipped; 6 rows cannot be imported."
    )
    assert {r.line: r.reason for r in preview.skipped_rows} == {
        4: "The balance is zero: nothing to carry over.",
        8: "Chart number 1006 already has an opening balance or credit.",
    }
    assert {r.line: r.reason for r in preview.rejects} == {
        5: "No patient with chart number 9999: import the patients first (or check the chart "
        "number).",
        6: "“12.345” has more than 2 decimal places. Type it like 1,234.56.",
        7: "The balance is dated Jan 1, 2099, which has not come yet.",
        9: "Chart number 1007 is also on line 10: one opening balance per patient.",
        10: "Chart number 1007 is also on line 9: one opening balance per patient.",
        12: "The balance is empty.",
    }


def test_each_balance_is_one_adjustment_dated_as_of_and_moves_the_balance(clinic, owner, charts):
    outcome = batches.run_import(clinic.db, owner, _request(ROWS), skip_rejects=True)

    assert (outcome.created, outcome.skipped, outcome.rejected) == (3, 2, 6)
    assert outcome.changes.payments
    with clinic.db.uow() as session:
        made = session.execute(
            select(
                AccountAdjustment.patient_id,
                AccountAdjustment.kind,
                AccountAdjustment.amount,
                AccountAdjustment.posted_at,
                AccountAdjustment.reason,
                AccountAdjustment.created_by_id,
            )
            .where(AccountAdjustment.reason.like("Opening balance from%"))
            .order_by(AccountAdjustment.patient_id)
        ).all()
        owed = patient_balances(session, [charts["1001"], charts["1002"], charts["1008"]])
    start_of_as_of = datetime(2026, 1, 31, 5, 0, tzinfo=UTC)  # midnight in New York
    reason = "Opening balance from Open Dental (balances.csv)"
    assert made == [
        (
            charts["1001"],
            "opening_balance",
            Decimal("1234.50"),
            start_of_as_of,
            reason,
            owner.staff_id,
        ),
        (
            charts["1002"],
            "opening_credit",
            Decimal("12.00"),
            start_of_as_of,
            reason,
            owner.staff_id,
        ),
        (
            charts["1008"],
            "opening_credit",
            Decimal("7.50"),
            start_of_as_of,
            f"{reason}: Old plan",
            owner.staff_id,
        ),
    ]
    assert owed == {
        charts["1001"]: Decimal("1234.50"),
        charts["1002"]: Decimal("-12.00"),
        charts["1008"]: Decimal("-7.50"),
    }


def test_a_clinic_writing_decimals_with_a_comma(clinic, owner, charts):
    with clinic.db.uow() as session:
        from app.data.models.clinic import ClinicSettings

        session.get(ClinicSettings, 1).locale = "es_ES"
    rows = [
        {"patient_chart_number": "1001", "balance": "1.234,50"},
        {"patient_chart_number": "1002", "balance": "1,234.50"},
    ]

    preview = batches.dry_run(clinic.db, owner, _request(rows))

    assert preview.created == 1
    assert [r.line for r in preview.rejects] == [3]


def test_a_balance_dated_in_a_closed_month_is_refused(clinic, owner, charts):
    month_close.close_month(clinic.db, owner, periods.month(date(2026, 1, 1)), now=NOW)
    rows = [{"patient_chart_number": "1001", "balance": "10"}]

    january = batches.dry_run(clinic.db, owner, _request(rows))
    february = batches.dry_run(clinic.db, owner, _request(rows, as_of=date(2026, 2, 1)))

    assert [r.reason for r in january.rejects] == [
        "The balance is dated Jan 31, 2026, in a month that is closed (through Jan 31, 2026): "
        "date it later."
    ]
    assert february.created == 1


def test_the_month_end_counts_them_as_adjustments_not_production_or_fees(clinic, owner, charts):
    batches.run_import(clinic.db, owner, _request(ROWS), skip_rejects=True)

    january = money_figures(clinic.db, owner, periods.month(AS_OF), now=NOW)
    february = money_figures(clinic.db, owner, periods.month(date(2026, 2, 1)), now=NOW)

    assert (january.production, january.fees, january.collections) == (0, 0, 0)
    assert dict(january.adjustments_by_kind) == {
        "opening_balance": Decimal("1274.50"),  # with the one made by hand on January 2
        "opening_credit": Decimal("19.50"),
    }
    assert january.receivable_end == Decimal("1255.00")
    assert january.credits == Decimal("19.50")
    assert february.receivable_start == Decimal("1255.00")
    assert dict(february.adjustments_by_kind) == {}


def test_a_credit_corrected_in_the_rejects_file_imports_as_a_credit(clinic, owner, charts):
    rows = [{"patient_chart_number": "9999", "balance": "-12.00", "note": "=1+1"}]
    request = _request(rows)
    rejects = batches.dry_run(clinic.db, owner, request).rejects

    table = list(csv.reader(io.StringIO(batches.rejects_csv(request, rejects).decode("utf-8-sig"))))
    assert table[1][:3] == ["9999", "'-12.00", "'=1+1"]
    corrected = dict(zip(table[0][:3], table[1][:3], strict=True))
    corrected["patient_chart_number"] = "1002"
    outcome = batches.run_import(clinic.db, owner, _request([corrected]))

    assert outcome.created == 1
    with clinic.db.uow() as session:
        kind, amount, reason = session.execute(
            select(
                AccountAdjustment.kind, AccountAdjustment.amount, AccountAdjustment.reason
            ).where(AccountAdjustment.patient_id == charts["1002"])
        ).one()
    assert (kind, amount) == ("opening_credit", Decimal("12.00"))
    assert reason.endswith(": =1+1")
