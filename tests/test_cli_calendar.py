"""``caredesk calendar daysheet`` and ``export-ics``, run in-process through ``app.cli.main``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from app.cli import main
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_calendar_export import seed_day


@pytest.fixture(autouse=True)
def signed_in_as_the_owner(monkeypatch):
    """Commands that show patient data sign in as a member of staff (here: the owner)."""
    from tests.conftest import OWNER_PASSWORD

    monkeypatch.setenv("CAREDESK_USER", "owner")
    monkeypatch.setenv("CAREDESK_PASSWORD", OWNER_PASSWORD)


@pytest.fixture
def db_path(clinic, tmp_path) -> Path:
    """The clinic file the shared ``clinic`` fixture made, with Dr. Okafor's Tuesday in it."""
    seed_day(clinic.db)
    path = tmp_path / "clinic.caredesk"
    assert path.exists()
    return path


def _events(path: Path):
    return list(Calendar.from_ical(path.read_bytes()).walk("VEVENT"))


def test_daysheet_writes_a_pdf_with_the_days_patients_and_times(db_path, tmp_path, capsys):
    out = tmp_path / "okafor.pdf"
    code = main(["calendar", "daysheet", "--provider", "dr okafor", "--date", "2026-06-16",
                 "--out", str(out), "--db", str(db_path)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (page,) = pdf_pages_text(out.read_bytes())
    assert "Dr. Daniel Okafor, DDS — Tuesday, June 16, 2026" in page
    for expected in ("9:00 AM", "Ruiz, Ana", "10:00 AM", "Nguyễn, Zoë", "2:00 PM", "O'Brien"):
        assert expected in page
    assert capsys.readouterr().out.strip() == f"Wrote {out}"


def test_export_ics_without_names_has_events_but_no_patients(db_path, tmp_path, capsys):
    out = tmp_path / "okafor.ics"
    code = main(["calendar", "export-ics", "--provider", "Daniel Okafor", "--from", "2026-06-16",
                 "--to", "2026-06-17", "--out", str(out), "--db", str(db_path)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    events = _events(out)
    assert [e.decoded("dtstart") for e in events] == [
        datetime(2026, 6, 16, 13, 0, tzinfo=UTC),
        datetime(2026, 6, 16, 14, 0, tzinfo=UTC),
        datetime(2026, 6, 17, 12, 30, tzinfo=UTC),
    ]
    raw = out.read_text(encoding="utf-8")
    assert "Ruiz" not in raw and "Nguy" not in raw and "Numb" not in raw


def test_export_ics_with_names_puts_names_in_the_titles(db_path, tmp_path, capsys):
    out = tmp_path / "okafor.ics"
    code = main(["calendar", "export-ics", "--provider", "okafor", "--from", "2026-06-16",
                 "--to", "2026-06-16", "--with-names", "--out", str(out),
                 "--db", str(db_path)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert [str(e["summary"]) for e in _events(out)] == [
        "Composite filling — Ruiz, Ana",
        "Adult cleaning — Nguyễn, Zoë",
    ]


@pytest.mark.parametrize(
    "args,message",
    [
        (["daysheet", "--provider", "okafor", "--date", "16/06/2026"],
         "--date must be a date like 2026-06-16, not “16/06/2026”"),
        (["export-ics", "--provider", "okafor", "--from", "2026-06-16", "--to", "2026-06-10"],
         "The end date is before the start date"),
        (["export-ics", "--provider", "okafor", "--from", "2026-01-01", "--to", "2027-06-01"],
         "at most 366 days"),
        (["daysheet", "--provider", "Dr. Smith", "--date", "2026-06-16"],
         "No provider is called “Dr. Smith”. Active providers: Dr. Daniel Okafor; Dr. Ana Núñez."),
        (["export-ics", "--provider", "dr", "--from", "2026-06-16", "--to", "2026-06-16"],
         "matches more than one provider"),
        (["daysheet", "--provider", "okafor", "--date", "9999-12-31"],
         "--date 9999-12-31: the year must be between 1900 and 2999"),
        (["export-ics", "--provider", "okafor", "--from", "0001-01-01", "--to", "0001-01-02"],
         "the year must be between 1900 and 2999"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_on_stderr_exit_2_and_no_file(
    db_path, tmp_path, capsys, args, message
):
    out = tmp_path / "result.out"
    code = main(["calendar", *args, "--out", str(out), "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert err.startswith("caredesk: ")
    assert list(tmp_path.glob("result*")) == [] and list(tmp_path.glob(".caredesk-*")) == []


def test_an_unwritable_out_path_is_refused_before_anything_is_read(db_path, tmp_path, capsys):
    missing = tmp_path / "no-such-folder" / "day.pdf"
    code = main(["calendar", "daysheet", "--provider", "okafor", "--date", "2026-06-16",
                 "--out", str(missing), "--db", str(db_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not missing.parent.exists()
    code = main(["calendar", "daysheet", "--provider", "okafor", "--date", "2026-06-16",
                 "--out", str(tmp_path), "--db", str(db_path)])  # fmt: skip
    assert code == 2 and "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["daysheet", "export-ics"])
def test_an_existing_file_is_never_overwritten_not_even_the_clinic_itself(
    db_path, tmp_path, capsys, command
):
    days = ["--date", "2026-06-16"] if command == "daysheet" else [
        "--from", "2026-06-16", "--to", "2026-06-17"]  # fmt: skip
    for victim in (db_path, tmp_path / "earlier.pdf"):
        if not victim.exists():
            victim.write_bytes(b"what was there before")
        before = victim.read_bytes()
        code = main(["calendar", command, "--provider", "okafor", *days, "--out", str(victim),
                     "--db", str(db_path)])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and "already exists; choose another file name" in err
        assert victim.read_bytes() == before


def test_calendar_needs_an_action(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["calendar"])
    assert raised.value.code == 2
    assert "usage: caredesk calendar" in capsys.readouterr().err
