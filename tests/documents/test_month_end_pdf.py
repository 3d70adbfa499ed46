"""The month-end summary PDF read back: page 1 carries the headline figures (this month, last
month, an arrow worded for what the change means), three charts — "No data" when there is
none — and the audit seal; then every section's tables, three periods side by side; in
English and Spanish, with or without money."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.documents.labels import gettext_for
from app.documents.month_end import build_month_end_pdf
from app.documents.month_end_tables import figure_tables, headlines
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

HASH = "9f2c" + "ab" * 30
MADE = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # 10:30 AM in New York


def money(production, collections, ar_end, *, providers=(("Dr. Daniel Okafor", None),)):
    production = Decimal(production)
    return {
        "production": f"{production:.2f}",
        "production_by_provider": [
            {"provider": name, "amount": f"{Decimal(share or production):.2f}"}
            for name, share in providers
        ],
        "production_by_category": [{"category": "Restorative", "amount": f"{production:.2f}"}],
        "fees": "25.00",
        "collections": collections,
        "collections_by_method": {"card": collections},
        "collections_by_payer": {"patient": collections, "insurance": "0.00"},
        "refunds": "0.00",
        "adjustments": {"write_off": "40.00"},
        "voids": {"count": 1, "amount": "50.00"},
        "ar": {"start": "1000.00", "end": ar_end, "change": "0.00", "credits": "0.00"},
        "ar_aging": {"current": ar_end, "31-60": "0.00", "61-90": "0.00", "90+": "0.00"},
    }


def schedule(completed, no_shows, rate):
    return {
        "visits": {
            "booked": 30,
            "started": completed + no_shows,
            "completed": completed,
            "cancelled": 2,
            "late_cancelled": 1,
            "no_show": no_shows,
        },
        "no_show_rate": rate,
        "late_cancel_rate": "0.031",
        "utilisation": [
            {
                "provider": "Dr. Daniel Okafor",
                "booked_minutes": 5400,
                "working_minutes": 7200,
                "utilisation": "0.750",
            }
        ],
        "average_days_booked_ahead": "12.5",
        "waitlist_unfilled_minutes": 90,
        "waitlist_days": 2,
    }


def coordination(new_patients, rate):
    acceptance = {
        "presented": 10,
        "presented_value": "20000.00",
        "accepted": 6,
        "accepted_value": "12000.00",
        "rate": rate,
    }
    return {
        "new_patients": new_patients,
        "new_patients_by_lead_source": {"Google search": new_patients},
        "journey": [
            {
                "stage": "inquiry",
                "next_stage": "consultation",
                "entered": 8,
                "converted": 4,
                "rate": "0.5000",
            },
        ],
        "case_acceptance": acceptance,
        "case_acceptance_by_coordinator": {"Camila Reyes": acceptance},
        "case_acceptance_by_provider": {"Dr. Daniel Okafor": acceptance},
        "accepted_not_scheduled": {"value": "3000.00", "phases": 2},
        "referrals": {"made": 0, "completed": 0},
        "referral_completion_rate": None,
        "median_days_to_specialist_visit": None,
        "recalls": {"due": 10, "booked": 7},
        "recall_rate": "0.7000",
    }


def report(first, last, *, production, collections, ar_end, completed, no_shows, rate, new):
    return {
        "period": {"first": first, "last": last},
        "money": money(production, collections, ar_end),
        "schedule": schedule(completed, no_shows, rate),
        "coordination": coordination(new, "0.6000"),
    }


@pytest.fixture
def summary() -> dict:
    months = [f"2025-{m:02d}" for m in range(12, 13)] + [f"2026-{m:02d}" for m in range(1, 12)]
    return {
        "clinic": {
            "name": "Clínica Dental Muñoz",
            "address_lines": ["1450 Calle Ocho, Suite 210", "Miami, FL 33135"],
            "phone": "(305) 555-0142",
            "email": "",
            "logo_png": None,
            "privacy_line": "",
            "paper_size": "letter",
            "locale": "en_US",
            "timezone": "America/New_York",
            "currency": "USD",
        },
        "generated_at": MADE,
        # November: production up, the receivable down, no-shows down (all good news);
        # new patients down (bad news).
        "report": report("2026-11-01", "2026-11-30", production="12345.60",
                         collections="11000.00", ar_end="900.00", completed=95, no_shows=5,
                         rate="0.050", new=12),
        "month_before": report("2026-10-01", "2026-10-31", production="10000.00",
                               collections="9000.00", ar_end="1000.00", completed=90,
                               no_shows=8, rate="0.082", new=15),
        "year_before": report("2025-11-01", "2025-11-30", production="8000.00",
                              collections="7000.00", ar_end="800.00", completed=80,
                              no_shows=4, rate="0.048", new=9),
        "trends": {
            "months": months,
            "production": [f"{9000 + 300 * i}.00" for i in range(12)],
            "collections": [f"{8500 + 250 * i}.00" for i in range(12)],
            "receivable": ["1000.00"] * 12,
            "visits_completed": [80 + i for i in range(12)],
            "no_show_rate": ["0.060"] * 11 + ["0.050"],
            "new_patients": [10 + i % 4 for i in range(12)],
            "case_acceptance_rate": [None] * 6 + ["0.5000"] * 6,
        },
        "seal": {
            "trail": "0" * 64,
            "clinic": "Clínica Dental Muñoz",
            "last_id": 4210,
            "last_hash": HASH,
            "rows": 4210,
            "sealed_at": "2026-12-02T15:30:00+00:00",
            "reason": "month-end report",
        },
    }  # fmt: skip


def test_page_one_has_the_headline_figures_arrows_charts_and_seal(summary):
    pdf = build_month_end_pdf(summary, locale="en_US")
    pages = pdf_pages_text(pdf)
    first = pages[0]

    assert "November 2026" in first and "compared with October 2026 and November 2025" in first
    assert "$12,345.60" in first and "Last month: $10,000.00" in first
    # Production rose by $2,345.60 (23.5%): good news, said in words as well as colour.
    assert "▲ $2,345.60 (23.5%) · better" in first
    # The receivable fell and so did no-shows: down is better for both.
    assert "▼ $100.00 (10%) · better" in first
    assert "▼ 3.2 pts · better" in first  # 8.2% → 5%
    assert "▼ 3 (20%) · worse" in first  # new patients 15 → 12
    assert "Production and collections, 12 months" in first
    assert "No-show rate, 12 months" in first and "New patients, 12 months" in first
    assert "No data" not in first
    assert "Audit trail row 4,210 of 4,210" in first and HASH in first
    assert "This month is not closed" in first
    assert "Printed Dec 2, 2026, 10:30" in first  # as the summary was made, clinic time
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= pdf_font_names(pdf)
    assert "Helvetica" not in pdf_font_names(pdf)


def test_every_section_follows_with_three_periods_side_by_side(summary):
    pages = pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))
    rest = " ".join(pages[1:])

    for title in (
        "Money in the period", "Production by provider", "Collections by method",
        "Receivable by age (at the end)", "Visits", "Utilization by provider",
        "New patients", "Journey conversion", "Acceptance by coordinator", "Referrals",
        "Recalls", "The last 12 months",
    ):  # fmt: skip
        assert title in rest, title
    assert "November 2026 October 2026 November 2025" in rest  # each table's columns
    assert "Production $12,345.60 $10,000.00 $8,000.00" in rest
    assert "No-show rate 5% 8.2% 4.8%" in rest
    assert "Camila Reyes" in rest and "Acceptance rate 60% 60% 60%" in rest
    assert "No referrals yet." in rest and "Completion rate" not in rest  # not "0%"
    assert HASH in pages[-1] and "caredesk audit verify" in pages[-1]


def test_the_referrals_table_follows_a_cohort_sent_and_what_is_overdue(summary):
    november = summary["report"]["coordination"]
    november["referrals"] = {"made": 6, "completed": 2, "overdue": 4}
    november["referral_completion_rate"] = "0.3333"
    november["median_days_to_specialist_visit"] = "13.0"
    # October as an earlier version kept it: no overdue count.
    summary["month_before"]["coordination"]["referrals"] = {"made": 3, "completed": 1}
    summary["month_before"]["coordination"]["referral_completion_rate"] = "0.3333"
    rest = " ".join(pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))[1:])
    assert "No referrals yet." not in rest
    assert "Referrals sent 6 3 0" in rest
    assert "Completed with the report 2 1 0" in rest
    assert "Completion rate 33.3% 33.3% —" in rest
    assert "Median days to the specialist's visit 13.0 — —" in rest
    assert "Overdue at the end 4 — —" in rest


def test_referrals_sent_earlier_and_overdue_now_are_shown(summary):
    """None sent in any period, but some sent before are overdue: not "No referrals yet"."""
    summary["report"]["coordination"]["referrals"] = {"made": 0, "completed": 0, "overdue": 2}
    rest = " ".join(pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))[1:])
    assert "No referrals yet." not in rest and "Overdue at the end 2 — —" in rest


def test_the_spanish_summary_speaks_spanish_with_the_clinics_money(summary):
    summary["clinic"].update(locale="es_ES", currency="EUR")
    pages = pdf_pages_text(build_month_end_pdf(summary))  # the clinic's locale
    first = pages[0]

    assert "Noviembre de 2026" in first and "comparado con octubre de 2026" in first
    assert "Producción" in first and "12.345,60 €" in first
    assert "Mes anterior: 10.000,00 €" in first and "mejor" in first and "peor" in first
    assert "Sello de auditoría" in first and "Registro de auditoría: fila 4.210 de 4.210" in first
    assert "Página 1 de" in first
    rest = " ".join(pages[1:])
    assert "Producción por profesional" in rest and "Tasa de inasistencia" in rest
    for english in ("Production", "Collections", "Last month", "better", "worse", "No data"):
        assert english not in " ".join(pages), english


def test_every_printed_label_is_translated(summary):
    """No table or headline label of the summary prints in English on a Spanish one."""
    english = gettext_for("en_US")
    spanish = gettext_for("es_ES")
    names = {"Dr. Daniel Okafor", "Camila Reyes", "Google search", "Restorative"}
    for label in [h.label for h in headlines(summary, english)] + [
        line.label for t in figure_tables(summary, english) for line in t.lines
    ] + [t.title for t in figure_tables(summary, english)]:  # fmt: skip
        if label not in names and "→" not in label:
            assert spanish(label) != label, label


def test_a_coordinators_summary_prints_without_money(summary):
    for key in ("report", "month_before", "year_before"):
        del summary[key]["money"]
    for key in ("production", "collections", "receivable"):
        del summary["trends"][key]
    pages = pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))
    text = " ".join(pages)

    for money_word in ("Production", "Collections", "Receivable", "Money in the period"):
        assert money_word not in text, money_word
    assert "Visits completed, 12 months" in pages[0]  # the first chart is the schedule's
    assert "Recall rate" in pages[0] and "Accepted, not scheduled" in pages[0]
    assert "No data" not in pages[0]


def test_charts_without_data_say_so(summary):
    without = copy.deepcopy(summary)
    without["trends"] = None
    assert pdf_pages_text(build_month_end_pdf(without, locale="en_US"))[0].count("No data") == 3
    zeros = copy.deepcopy(summary)
    zeros["trends"] = {
        key: (values if key == "months" else [0 if isinstance(v, int) else "0.00" for v in values])
        for key, values in summary["trends"].items()
    }
    assert pdf_pages_text(build_month_end_pdf(zeros, locale="en_US"))[0].count("No data") == 3


def test_a_comparison_no_report_could_cover_is_marked_not_available(summary):
    summary["year_before"] = None
    rest = " ".join(pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))[1:])

    assert "A year earlier (not available)" in rest
    assert "Production $12,345.60 $10,000.00 —" in rest


def test_a_closed_month_prints_who_closed_it_and_the_seal_at_the_close(summary):
    summary["report"]["closed"] = {
        "closed_at": "2026-12-01T14:00:00+00:00",
        "closed_by": "Olivia Owner",
        "seal": {"trail": "0" * 64, "last_id": 4100, "last_hash": "c0ffee" * 10 + "abcd",
                 "rows": 4100, "sealed_at": "2026-12-01T14:00:00+00:00"},
    }  # fmt: skip
    first = pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))[0]

    assert "Closed on Dec 1, 2026, 9:00" in first and "by Olivia Owner" in first
    assert "Sealed at the close" in first and "c0ffee" in first and "row 4,100" in first
    assert "not closed" not in first


def test_a_range_is_titled_by_its_dates(summary):
    summary["report"]["period"] = {"first": "2026-06-03", "last": "2026-07-02"}
    summary["month_before"]["period"] = {"first": "2026-05-04", "last": "2026-06-02"}
    summary["year_before"]["period"] = {"first": "2025-06-03", "last": "2025-07-02"}
    pdf = build_month_end_pdf(summary, locale="en_US")
    first = pdf_pages_text(pdf)[0]

    assert "June 3, 2026 to July 2, 2026" in first
    assert "Period before: $10,000.00" in first and "not closed" not in first
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Report"


def test_payment_plans_and_aging_by_payer_print_when_the_report_has_them(summary):
    for key in ("report", "month_before", "year_before"):
        summary[key]["money"]["payment_plans"] = {
            "new": 3, "financed": "4500.00", "outstanding": "9000.00", "overdue": "250.00",
            "overdue_count": 2, "late_fees": "50.00",
        }  # fmt: skip
        summary[key]["money"]["ar_aging_by_payer"] = {
            "patient": {"current": "600.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"},
            "insurance": {"current": "300.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"},
        }
    rest = " ".join(pdf_pages_text(build_month_end_pdf(summary, locale="en_US"))[1:])

    assert "Payment plans" in rest and "New payment plans 3 3 3" in rest
    assert "Overdue on plans $250.00" in rest and "Late fees $50.00" in rest
    assert "Receivable by age and payer" in rest
    assert "Patients Current (0–30 days) $600.00" in rest
    assert "Insurance Current (0–30 days) $300.00" in rest
