"""``caredesk report`` as an accountant's script sees it: JSON under stable keys, money as
decimal strings; the month-end summary as a PDF, a spreadsheet or a zip of CSV files, the
format from the file's extension or --format, in English or Spanish; the owner's with the
money, a coordinator's without; every mistake a sentence and exit code 2."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.documents.pdfread import pdf_pages_text
from tests.test_cli import no_traceback, run


def run_as(user: str, args, data_dir):
    from app.demo.seed import DEMO_PASSWORD

    staff = {"CAREDESK_USER": user, "CAREDESK_PASSWORD": DEMO_PASSWORD}
    return run(args, data_dir, env_extra=staff)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-report")
    path = folder / "seeded.caredesk"
    data_dir = folder / "userdata"
    result = run(
        ["seed", "--db", str(path), "--patients", "40", "--years", "1", "--seed", "3"], data_dir
    )
    assert result.returncode == 0, result.stderr
    return path, data_dir


def test_the_owner_writes_a_months_figures_as_json(seeded, tmp_path) -> None:
    path, data_dir = seeded
    out = tmp_path / "june.json"
    result = run_as("owner", ["report", "month", "2026-06", "--out", str(out), "--db", str(path)],
                    data_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["period"] == {"first": "2026-06-01", "last": "2026-06-30"}
    money = data["money"]
    for key in ("production", "collections", "refunds", "fees"):
        Decimal(money[key])  # a decimal string, never a float
    assert set(money["ar_aging"]) == {"current", "31-60", "61-90", "90+"}
    total = sum((Decimal(a) for a in money["collections_by_method"].values()), Decimal(0))
    assert total == Decimal(money["collections"])
    schedule, coordination = data["schedule"], data["coordination"]
    assert set(schedule["visits"]) == {
        "booked", "started", "completed", "cancelled", "late_cancelled", "no_show",
    }  # fmt: skip
    Decimal(schedule["no_show_rate"])
    assert isinstance(coordination["new_patients"], int)
    assert set(coordination["case_acceptance"]) >= {"presented", "accepted", "rate"}
    assert set(coordination["referrals"]) == {"made", "completed", "overdue"}
    printed = run_as("owner", ["report", "range", "--from", "2026-06-01", "--to", "2026-06-30",
                               "--db", str(path)], data_dir)  # fmt: skip
    assert json.loads(printed.stdout) == data  # the same figures, printed


@pytest.mark.parametrize(
    ("user", "args", "words"),
    [
        ("owner", ["report", "month", "2026-13"], "has no month 13"),
        ("owner", ["report", "month", "June"], "is not a month"),
        ("owner", ["report", "month", "2999-01"], "has not begun yet"),
        ("owner", ["report", "range", "--from", "2020-01-01", "--to", "2026-06-30"],
         "at most 5 years"),
        ("owner", ["report", "month", "2026-06", "--out", "june.txt"],
         "written as PDF (.pdf), Excel (.xlsx), CSV files in a zip (.zip) or JSON (.json)"),
        ("owner", ["report", "month", "2026-06", "--out", "june.csv"],
         "one file per table, written together in a zip (--out june.zip)"),
        ("owner", ["report", "month", "2026-06", "--format", "pdf", "--out", "june.xlsx"],
         "--format pdf does not match --out june.xlsx"),
        ("owner", ["report", "month", "2026-06", "--format", "docx"],
         "--format must be pdf, xlsx, csv or json"),
        ("owner", ["report", "month", "2026-06", "--format", "xlsx"],
         "needs a file: add --out FILE.xlsx"),
        ("owner", ["report", "month", "2026-06", "--lang", "fr", "--out", "june.pdf"],
         "--lang must be en or es"),
        ("owner", ["report", "month", "2026-06", "--out", "no-such-folder/june.pdf"],
         "does not exist"),
        ("receptionist", ["report", "month", "2026-06"], "see the schedule and coordination"),
        ("receptionist", ["report", "month", "2026-06", "--out", "june.pdf"],
         "see the schedule and coordination"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_sentence(seeded, tmp_path, user, args, words) -> None:
    path, data_dir = seeded
    args = [str(tmp_path / a) if a.startswith(("june.", "no-such")) else a for a in args]
    result = run_as(user, [*args, "--db", str(path)], data_dir)
    # A usage mistake exits 2; a role that may not see reports is refused as every command
    # refuses it (1).
    assert result.returncode == (1 if user == "receptionist" else 2) and no_traceback(result)
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_existing_file_is_never_overwritten(seeded, tmp_path) -> None:
    path, data_dir = seeded
    out = tmp_path / "kept.json"
    out.write_text("the accountant's own file")
    result = run_as("owner", ["report", "month", "2026-06", "--out", str(out), "--db", str(path)],
                    data_dir)  # fmt: skip
    assert result.returncode == 2 and "already exists" in result.stderr
    assert out.read_text() == "the accountant's own file"


def test_the_summary_as_a_pdf_a_spreadsheet_and_csv_files(seeded, tmp_path) -> None:
    path, data_dir = seeded
    pdf, xlsx, archive = tmp_path / "june.pdf", tmp_path / "june.xlsx", tmp_path / "june.zip"
    for out, extra in ((pdf, ["--lang", "es"]), (xlsx, []), (archive, ["--format", "csv"])):
        result = run_as("owner", ["report", "month", "2026-06", "--out", str(out), *extra,
                                  "--db", str(path)], data_dir)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"to {out}" in result.stdout

    first = pdf_pages_text(pdf.read_bytes())[0]
    assert "Junio de 2026" in first and "Producción" in first and "Sello de auditoría" in first
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Summary", "Money", "Schedule", "Coordination", "Trends"]
    production = next(r for r in book["Money"].iter_rows() if r[1].value == "Production")
    assert isinstance(production[2].value, int | float)
    files = zipfile.ZipFile(archive)
    rows = list(csv.reader(io.StringIO(files.read("money-totals.csv").decode("utf-8-sig"))))
    assert Decimal(rows[1][1]) == Decimal(str(production[2].value)).quantize(Decimal("0.01"))


def test_a_coordinators_summary_has_no_money(seeded, tmp_path) -> None:
    path, data_dir = seeded
    out = tmp_path / "june.xlsx"
    result = run_as("coordinator", ["report", "month", "2026-06", "--out", str(out),
                                    "--db", str(path)], data_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert load_workbook(out).sheetnames == ["Summary", "Schedule", "Coordination", "Trends"]
