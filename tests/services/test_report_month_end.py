"""The month-end report as JSON (``caredesk report``, the accountant's spreadsheets): its
keys are a contract — every key path is listed here, so renaming or dropping one fails a
test — money is written as decimal strings, and an empty clinic's report is all zeros."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.payments import AccountAdjustment, Charge, Payment
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.referrals import Referral
from app.services.reports import period as periods
from app.services.reports.month_end import report_json
from tests.data.factories import add_appointment, add_patient, add_provider

pytestmark = pytest.mark.both_backends

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
#: Dicts whose keys are data (payment methods, adjustment kinds, names), not the contract.
DATA_KEYED = {
    "money.collections_by_method",
    "money.adjustments",
    "coordination.new_patients_by_lead_source",
    "coordination.case_acceptance_by_coordinator",
    "coordination.case_acceptance_by_provider",
}


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def key_paths(value, path: str = "") -> set[str]:
    """Every key path of ``value``: "money.ar.end", a list's items under "[]", a data-keyed
    dict's under "*"."""
    if isinstance(value, dict):
        # A list's item is not a key of its own: its keys are.
        paths = {path} if path and not path.endswith("[]") else set()
        for key, item in value.items():
            name = "*" if path in DATA_KEYED else key
            paths |= key_paths(item, f"{path}.{name}" if path else name)
        return paths
    if isinstance(value, list):
        paths = {path}
        for item in value:
            paths |= key_paths(item, f"{path}[]")
        return paths
    return {path}


@pytest.fixture
def a_month(clinic, owner):
    """One of everything in November, so every list and data-keyed dict has an item."""
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", lead_source="Google")
        okafor = add_provider(s, name="Daniel Okafor")
        nov3 = at(date(2026, 11, 3))
        add_appointment(s, ana, okafor, starts_at=nov3, ends_at=nov3 + timedelta(hours=1),
                        status="completed", created_at=at(date(2026, 10, 20)))  # fmt: skip
        s.add(Charge(patient_id=ana.id, kind="treatment", service_date=date(2026, 11, 3),
                     description="Crown", amount=D("500.00"), posted_at=nov3,
                     provider_id=okafor.id))  # fmt: skip
        s.add(Payment(patient_id=ana.id, method="card", amount=D("200.00"), received_at=nov3))
        s.add(AccountAdjustment(patient_id=ana.id, kind="discount", amount=D("20.00"),
                                reason="Loyalty", posted_at=nov3))  # fmt: skip
        plan = TreatmentPlan(patient_id=ana.id, provider_id=okafor.id, title="Plan",
                             status="accepted", presented_by_id=owner.staff_id,
                             presented_at=at(date(2026, 11, 4)),
                             decided_at=at(date(2026, 11, 5)))  # fmt: skip
        s.add(plan)
        s.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Phase", status="accepted")
        s.add(phase)
        s.flush()
        s.add(TreatmentItem(phase_id=phase.id, description="Crown", fee=D("500.00"),
                            status="accepted"))  # fmt: skip
        s.add(Referral(patient_id=ana.id, direction="outgoing", status="seen",
                       referred_on=date(2026, 11, 3), sent_at=nov3, visit_on=date(2026, 11, 10),
                       seen_on=date(2026, 11, 10)))  # fmt: skip


EVERY_KEY_PATH = {
    "period",
    "period.first",
    "period.last",
    "money",
    "money.production",
    "money.production_by_provider",
    "money.production_by_provider[].provider",
    "money.production_by_provider[].amount",
    "money.production_by_category",
    "money.production_by_category[].category",
    "money.production_by_category[].amount",
    "money.fees",
    "money.collections",
    "money.collections_by_method",
    "money.collections_by_method.*",
    "money.collections_by_payer",
    "money.collections_by_payer.patient",
    "money.collections_by_payer.insurance",
    "money.refunds",
    "money.adjustments",
    "money.adjustments.*",
    "money.voids",
    "money.voids.count",
    "money.voids.amount",
    "money.ar",
    "money.ar.start",
    "money.ar.end",
    "money.ar.change",
    "money.ar.credits",
    "money.ar_aging",
    *(f"money.ar_aging.{bucket}" for bucket in ("current", "31-60", "61-90", "90+")),
    "money.ar_aging_by_payer",
    *(
        f"money.ar_aging_by_payer.{payer}{bucket}"
        for payer in ("patient", "insurance")
        for bucket in ("", ".current", ".31-60", ".61-90", ".90+")
    ),
    "money.payment_plans",
    *(
        f"money.payment_plans.{key}"
        for key in ("new", "financed", "outstanding", "overdue", "overdue_count", "late_fees")
    ),
    "schedule",
    "schedule.visits",
    *(
        f"schedule.visits.{key}"
        for key in ("booked", "started", "completed", "cancelled", "late_cancelled", "no_show")
    ),
    "schedule.no_show_rate",
    "schedule.late_cancel_rate",
    "schedule.utilisation",
    *(
        f"schedule.utilisation[].{key}"
        for key in ("provider", "booked_minutes", "working_minutes", "utilisation")
    ),
    "schedule.average_days_booked_ahead",
    "schedule.waitlist_unfilled_minutes",
    "schedule.waitlist_days",
    "coordination",
    "coordination.new_patients",
    "coordination.new_patients_by_lead_source",
    "coordination.new_patients_by_lead_source.*",
    "coordination.journey",
    *(
        f"coordination.journey[].{key}"
        for key in ("stage", "next_stage", "entered", "converted", "rate")
    ),
    *(
        f"coordination.{section}{key}"
        for section in (
            "case_acceptance",
            "case_acceptance_by_coordinator.*",
            "case_acceptance_by_provider.*",
        )
        for key in (
            "",
            ".presented",
            ".presented_value",
            ".accepted",
            ".accepted_value",
            ".rate",
        )
    ),
    "coordination.case_acceptance_by_coordinator",
    "coordination.case_acceptance_by_provider",
    "coordination.accepted_not_scheduled",
    "coordination.accepted_not_scheduled.value",
    "coordination.accepted_not_scheduled.phases",
    "coordination.referrals",
    "coordination.referrals.made",
    "coordination.referrals.completed",
    "coordination.referrals.overdue",
    "coordination.referral_completion_rate",
    "coordination.median_days_to_specialist_visit",
    "coordination.recalls",
    "coordination.recalls.due",
    "coordination.recalls.booked",
    "coordination.recall_rate",
}


def test_every_key_path_of_the_report_is_the_contract(clinic, owner, a_month):
    report = report_json(clinic.db, owner, NOVEMBER, now=NOW)
    assert key_paths(report) == EVERY_KEY_PATH
    # Lists and data-keyed dicts had something in them: their items' keys were checked.
    assert report["money"]["production_by_provider"] and report["schedule"]["utilisation"]
    assert report["money"]["adjustments"] and report["coordination"]["case_acceptance_by_provider"]
    # Days as a decimal string, as the other days are (Nov 3 → Nov 10).
    assert report["coordination"]["median_days_to_specialist_visit"] == "7.0"


def test_money_is_written_as_decimal_strings(clinic, owner, a_month):
    report = report_json(clinic.db, owner, NOVEMBER, now=NOW)
    counts = {"money.voids.count", "money.payment_plans.new", "money.payment_plans.overdue_count"}
    names = {"money.production_by_provider[].provider", "money.production_by_category[].category"}
    money = re.compile(r"-?\d+\.\d{2}")
    leaves = [p for p in key_paths(report["money"], "money") if p not in DATA_KEYED]
    for path in leaves:
        value = _at(report, path)
        if isinstance(value, dict | list) or path in names:
            continue
        if path in counts:
            assert isinstance(value, int), path
        else:
            assert isinstance(value, str) and money.fullmatch(value), (path, value)
    assert report["money"]["collections_by_method"] == {"card": "200.00"}
    assert report["money"]["ar"]["end"] == "280.00"  # 500 − 200 − 20
    # And the whole report is plain JSON — no Decimal or date slips through — with no float
    # anywhere (a rate or an amount as a float would round in a spreadsheet).
    assert json.loads(json.dumps(report)) == report
    assert all(
        value is None or type(value) in (str, int)
        for value in (_at(report, path) for path in key_paths(report))
        if not isinstance(value, dict | list)
    )


def _at(report: dict, path: str):
    value = report
    for key in path.split("."):
        if key.endswith("[]"):
            value = value[key[:-2]][0]
        elif key == "*":
            value = next(iter(value.values()))
        else:
            value = value[key]
    return value


def test_an_empty_clinics_report_is_all_zeros(clinic, owner):
    report = report_json(clinic.db, owner, NOVEMBER, now=NOW)
    buckets = {"current": "0.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"}
    nothing = {"presented": 0, "presented_value": "0.00", "accepted": 0,
               "accepted_value": "0.00", "rate": None}  # fmt: skip
    assert report == {
        "period": {"first": "2026-11-01", "last": "2026-11-30"},
        "money": {
            "production": "0.00",
            "production_by_provider": [],
            "production_by_category": [],
            "fees": "0.00",
            "collections": "0.00",
            "collections_by_method": {},
            "collections_by_payer": {"patient": "0.00", "insurance": "0.00"},
            "refunds": "0.00",
            "adjustments": {},
            "voids": {"count": 0, "amount": "0.00"},
            "ar": {"start": "0.00", "end": "0.00", "change": "0.00", "credits": "0.00"},
            "ar_aging": buckets,
            "ar_aging_by_payer": {"patient": buckets, "insurance": buckets},
            "payment_plans": {
                "new": 0,
                "financed": "0.00",
                "outstanding": "0.00",
                "overdue": "0.00",
                "overdue_count": 0,
                "late_fees": "0.00",
            },
        },
        "schedule": {
            "visits": {
                "booked": 0,
                "started": 0,
                "completed": 0,
                "cancelled": 0,
                "late_cancelled": 0,
                "no_show": 0,
            },
            "no_show_rate": "0.000",
            "late_cancel_rate": "0.000",
            "utilisation": [],  # no provider has working hours or visits
            "average_days_booked_ahead": "0.0",
            "waitlist_unfilled_minutes": 0,
            "waitlist_days": 0,
        },
        "coordination": {
            "new_patients": 0,
            "new_patients_by_lead_source": {},
            "journey": [
                {"stage": stage, "next_stage": after, "entered": 0, "converted": 0, "rate": None}
                for stage, after in (
                    ("inquiry", "consultation"),
                    ("consultation", "booked"),
                    ("booked", "in_treatment"),
                )
            ],
            "case_acceptance": nothing,
            "case_acceptance_by_coordinator": {},
            "case_acceptance_by_provider": {},
            "accepted_not_scheduled": {"value": "0.00", "phases": 0},
            "referrals": {"made": 0, "completed": 0, "overdue": 0},
            "referral_completion_rate": None,
            "median_days_to_specialist_visit": None,
            "recalls": {"due": 0, "booked": 0},
            "recall_rate": None,
        },
    }
