"""Reports as the owner reads it: a month's money beside the month before and the same
month a year earlier, every figure the service's (docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from PySide6.QtCore import Qt

from app.data.models.payments import Charge, Payment
from app.ui import ops
from app.ui.reports_page import ReportsPage
from tests.data.factories import add_patient
from tests.ui.conftest import save_styled_shot


def test_a_months_money_beside_the_month_before_and_a_year_earlier(
    qtbot, clinic, owner_ctx, monkeypatch
):
    monkeypatch.setattr(type(owner_ctx), "today", lambda self, now=None: date(2026, 12, 7))
    monkeypatch.setattr(
        "app.services.reports.money.utc_now", lambda: datetime(2026, 12, 7, 17, tzinfo=UTC)
    )
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        for day, amount in ((date(2026, 11, 3), "500.00"), (date(2026, 10, 8), "200.00")):
            s.add(
                Charge(
                    patient_id=ana.id,
                    service_date=day,
                    description="Crown",
                    amount=Decimal(amount),
                    posted_at=datetime(day.year, day.month, day.day, 15, tzinfo=UTC),
                )
            )
        s.add(Payment(patient_id=ana.id, method="card", amount=Decimal("150.00"),
                      received_at=datetime(2026, 11, 5, 15, tzinfo=UTC)))  # fmt: skip
    page = ReportsPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1166, 700)
    page.show()
    qtbot.waitUntil(lambda: bool(page.figures), timeout=10_000)
    assert page.month_combo.currentText() == "November 2026"  # the month just ended
    heads = [page.model.headerData(c, Qt.Orientation.Horizontal) for c in range(1, 4)]
    assert heads == ["November 2026", "October 2026", "November 2025"]
    lines = {page.model.row_at(r).label: page.model.row_at(r) for r in range(page.model.rowCount())}
    cell = page.model.columns

    def shown(label: str) -> list[str]:
        row = lines[label]
        return [cell[c].text(row) for c in range(1, 4)]

    assert shown("Treatment charged") == ["$500.00", "$200.00", "$0.00"]
    assert shown("Collected (less refunds)") == ["$150.00", "$0.00", "$0.00"]
    assert shown("At the end") == ["$550.00", "$200.00", "$0.00"]
    save_styled_shot(qtbot, page, "reports.png")
    page.month_combo.setCurrentIndex(page.month_combo.findText("October 2026"))
    qtbot.waitUntil(lambda: page.figures[0].period.first == date(2026, 10, 1), timeout=10_000)
    ops.wait_for_done()
