"""The search results model: pages load lazily through ops, stale pages are dropped."""

from __future__ import annotations

import threading
from datetime import date

from PySide6.QtCore import Qt

from app.services.patients import search as patient_search
from app.services.patients.search import PatientHit, index_patient
from app.ui import ops
from app.ui.patients.search_model import PatientSearchModel, birth_date_text
from app.ui.widgets.row_table import list_table
from tests.data.factories import add_patient


def _hit(n: int, last: str = "Example") -> PatientHit:
    return PatientHit(
        id=n,
        chart_number=f"P{n:06d}",
        last_name=f"{last}{n:03d}",
        first_name="Ana",
        preferred_name="",
        date_of_birth=date(1980, 5, 17),
        phone_e164="+12075550101",
        email="",
        journey_stage="in_treatment",
        is_active=n != 2,
    )


def _fake_fetch(total: int, calls: list[tuple[str, int, int]]):
    hits = [_hit(n) for n in range(1, total + 1)]

    def fetch(query: str, offset: int, limit: int) -> list[PatientHit]:
        calls.append((query, offset, limit))
        return hits[offset : offset + limit]

    return fetch


def test_pages_load_as_more_rows_are_asked_for(qtbot, qtmodeltester) -> None:
    calls: list[tuple[str, int, int]] = []
    model = PatientSearchModel(_fake_fetch(120, calls), page_size=50)
    model.set_query("ana")
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    assert model.canFetchMore() and not model.exhausted
    model.fetchMore()
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    model.fetchMore()
    qtbot.waitUntil(lambda: model.rowCount() == 120)
    assert not model.canFetchMore() and model.exhausted
    assert calls == [("ana", 0, 50), ("ana", 50, 50), ("ana", 100, 50)]
    qtmodeltester.check(model)
    assert model.index(0, 0).data() == "Example001, Ana"
    assert model.index(0, 5).data() == "In treatment"
    assert model.headerData(4, Qt.Orientation.Horizontal) == "Chart #"


def test_a_page_for_an_older_query_never_lands(qtbot) -> None:
    release = threading.Event()

    def fetch(query: str, offset: int, limit: int) -> list[PatientHit]:
        if query == "an":
            release.wait(10)  # the first query is slow: its answer comes last
            return [_hit(1, "Anders")]
        return [_hit(7, "Nguyen")]

    model = PatientSearchModel(fetch)
    model.set_query("an")
    model.set_query("ng")
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    with qtbot.waitSignal(ops.finished_signal(), timeout=5000):
        release.set()
    assert [h.last_name for h in model.hits] == ["Nguyen007"]
    assert not model.loading


def test_clearing_the_query_empties_the_list_without_a_search(qtbot) -> None:
    calls: list[tuple[str, int, int]] = []
    model = PatientSearchModel(_fake_fetch(3, calls))
    model.set_query("ana")
    qtbot.waitUntil(lambda: model.rowCount() == 3)
    model.set_query("   ")
    assert model.rowCount() == 0 and not model.canFetchMore()
    assert len(calls) == 1


def test_birth_dates_show_a_four_digit_year_and_the_age() -> None:
    text = birth_date_text(date(1980, 5, 17), "en_US", "America/New_York")
    assert text.startswith("5/17/1980 (") and text.endswith(")")
    assert birth_date_text(date(1980, 5, 17), "es_ES", "Europe/Madrid").startswith("17/5/1980")
    assert birth_date_text(None, "en_US", "America/New_York") == ""


def test_scrolling_the_real_search_fetches_the_next_page(qtbot, clinic, owner_ctx) -> None:
    with clinic.db.uow() as session:
        for n in range(130):
            index_patient(session, add_patient(session, first_name="Ana", last_name=f"Lee{n:03d}"))
    db, actor = clinic.db, owner_ctx.actor
    model = PatientSearchModel(
        lambda q, offset, limit: patient_search.search_patients(
            db, actor, q, limit=limit, offset=offset
        )
    )
    table = list_table(model)
    qtbot.addWidget(table)
    table.resize(600, 300)
    table.show()
    model.set_query("lee")
    qtbot.waitUntil(lambda: model.rowCount() == 50)
    table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() == 130)
    assert model.exhausted
    assert model.index(129, 0).data() == "Lee129, Ana"
