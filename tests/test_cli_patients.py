"""``caredesk patients search`` as a script sees it: real processes, output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import no_traceback, run


def run_as_staff(args, data_dir, **kwargs):
    """A command that shows patient data, signed in as the seeded clinic's receptionist
    (``caredesk seed`` makes the demo clinic's accounts)."""
    from app.demo.seed import DEMO_PASSWORD

    staff = {"CAREDESK_USER": "receptionist", "CAREDESK_PASSWORD": DEMO_PASSWORD}
    return run(args, data_dir, env_extra=staff, **kwargs)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-patients")
    path = folder / "seeded.caredesk"
    data_dir = folder / "userdata"
    result = run(
        ["seed", "--db", str(path), "--patients", "30", "--years", "1", "--seed", "5"], data_dir
    )
    assert result.returncode == 0, result.stderr
    return path, data_dir


def _first_patient(seeded) -> dict:
    path, data_dir = seeded
    result = run_as_staff(["patients", "search", "P000001", "--json", "--db", str(path)], data_dir)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout.strip().splitlines()[-1])
    return row


def test_json_lists_the_patient_found_by_chart_number_and_by_last_name(seeded) -> None:
    path, data_dir = seeded
    row = _first_patient(seeded)
    assert row["id"] == 1 and row["chart_number"] == "P000001"
    assert set(row) == {"id", "chart_number", "name", "date_of_birth", "phone"}
    last_name = row["name"].split(",")[0].split()[0]
    result = run_as_staff(
        ["patients", "search", last_name, "--json", "--limit", "500", "--db", str(path)], data_dir
    )
    assert result.returncode == 0, result.stderr
    assert 1 in [r["id"] for r in json.loads(result.stdout)]


def test_plain_output_has_one_tab_separated_line_per_patient(seeded) -> None:
    path, data_dir = seeded
    row = _first_patient(seeded)
    result = run_as_staff(["patients", "search", "P000001", "--db", str(path)], data_dir)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "\t".join(
            [
                "1",
                "P000001",
                row["name"],
                row["date_of_birth"] or "-",
                row["phone"] or "-",
            ]
        )
    ]


def test_limit_caps_the_results_and_nothing_found_is_said(seeded) -> None:
    path, data_dir = seeded
    result = run_as_staff(
        ["patients", "search", "a", "--json", "--limit", "2", "--db", str(path)], data_dir
    )
    assert len(json.loads(result.stdout)) <= 2
    result = run_as_staff(["patients", "search", "zzzzqqq", "--db", str(path)], data_dir)
    assert result.returncode == 0 and result.stdout.strip() == "No patient matches."


def test_bad_limit_is_a_usage_error(seeded) -> None:
    path, data_dir = seeded
    result = run_as_staff(["patients", "search", "x", "--limit", "0", "--db", str(path)], data_dir)
    assert result.returncode == 2 and no_traceback(result)


def test_patient_data_needs_a_staff_sign_in(seeded) -> None:
    """Whoever holds the key may check the file; only staff, signed in, see patients."""
    path, data_dir = seeded
    anyone = run(["patients", "search", "a", "--db", str(path)], data_dir)
    assert anyone.returncode == 2 and no_traceback(anyone)
    assert "sign in as a member of staff with --user NAME" in anyone.stderr
    from app.demo.seed import DEMO_PASSWORD

    wrong = run(["patients", "search", "a", "--user", "receptionist", "--db", str(path)],
                data_dir, env_extra={"CAREDESK_PASSWORD": DEMO_PASSWORD + "x"})  # fmt: skip
    assert wrong.returncode == 1 and no_traceback(wrong) and anyone.stdout == ""
    checked = run(["db", "check", "--db", str(path)], data_dir)  # maintenance: the key only
    assert checked.returncode == 0, checked.stderr
