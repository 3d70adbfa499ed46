"""``caredesk contacts import|list`` as a script sees them: real processes, output, exit
codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import no_traceback, run
from tests.test_cli_patients import run_as_staff


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-contacts")
    path = folder / "seeded.caredesk"
    data_dir = folder / "userdata"
    result = run(
        ["seed", "--db", str(path), "--patients", "5", "--years", "1", "--seed", "7"], data_dir
    )
    assert result.returncode == 0, result.stderr
    return path, data_dir


def contacts(seeded, *extra: str):
    path, data_dir = seeded
    return run_as_staff(["contacts", "list", "--db", str(path), *extra], data_dir)


def test_list_prints_one_tab_separated_line_per_contact_of_the_kind(seeded) -> None:
    result = contacts(seeded, "--kind", "payer")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines and {line[1] for line in lines} == {"payer"}
    assert all(len(line) == 5 and line[0].isdigit() for line in lines)
    found = contacts(seeded, "--search", lines[0][2].split(" — ")[0])
    assert lines[0][0] in [line.split("\t")[0] for line in found.stdout.splitlines()]
    nothing = contacts(seeded, "--search", "zzzqqq")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "No contact matches."


def test_import_dry_run_then_import_then_the_same_file_again(seeded, tmp_path) -> None:
    path, data_dir = seeded
    csv_file = tmp_path / "payers.csv"
    csv_file.write_bytes(
        "Organization,Phone,Payer ID\nBlue Lone Star Dental,512 555 0901,BL123\n".encode("cp1252")
    )
    args = ["contacts", "import", str(csv_file), "--kind", "payer", "--db", str(path)]
    dry = run_as_staff([*args, "--dry-run"], data_dir)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "1 contact would be added (read as UTF-8)."
    assert "Blue Lone Star" not in contacts(seeded).stdout
    real = run_as_staff(args, data_dir)
    assert real.stdout.strip() == "1 contact added (read as UTF-8)."
    assert "Blue Lone Star Dental" in contacts(seeded, "--kind", "payer").stdout
    again = run_as_staff(args, data_dir)
    assert again.returncode == 0
    assert again.stdout.splitlines() == [
        "Line 2: already in Contacts as Blue Lone Star Dental (Insurance payer): same name, "
        "same phone or fax number; skipped.",
        "0 contacts added; 1 already in Contacts, skipped (read as UTF-8).",
    ]


def test_bad_rows_are_named_with_their_lines_and_nothing_is_added(seeded, tmp_path) -> None:
    path, data_dir = seeded
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("Kind,Name,Phone\nlab,Good Lab,\nwizard,Merlin,\nlab,Bad Phone Lab,12\n")
    result = run_as_staff(["contacts", "import", str(csv_file), "--db", str(path)], data_dir)
    assert result.returncode == 1 and no_traceback(result)
    assert result.stderr.splitlines()[0].startswith("Line 3: “wizard” is not a kind of contact")
    assert result.stderr.splitlines()[1].startswith("Line 4: The phone is not a phone number")
    assert result.stderr.splitlines()[-1] == (
        "caredesk: Nothing was imported: 2 rows cannot be read as contacts. Correct the file "
        "and import it again."
    )
    assert "Good Lab" not in contacts(seeded).stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "The file is empty (0 bytes)"),
        (b"\x00\x01\x02binary", "not a CSV text file"),
        (b"Patient,DOB\nAna,1980-01-01\n", "The first line names no column CareDesk knows"),
    ],
    ids=["missing", "empty", "binary", "no-header"],
)
def test_a_file_that_cannot_be_imported_is_one_clear_line(seeded, tmp_path, content, message):
    path, data_dir = seeded
    csv_file = tmp_path / "contacts.csv"
    if content is not None:
        csv_file.write_bytes(content)
    result = run_as_staff(
        ["contacts", "import", str(csv_file), "--kind", "lab", "--db", str(path)], data_dir
    )
    assert result.returncode == 1 and no_traceback(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr and result.stderr.startswith("caredesk: ")
