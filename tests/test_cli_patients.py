"""``caredesk patients search`` as a script sees it: real processes, output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import no_traceback, run


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
    result = run(["patients", "search", "P000001", "--json", "--db", str(path)], data_dir)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout.strip().splitlines()[-1])
    return row


def test_json_lists_the_patient_found_by_chart_number_and_by_last_name(seeded) -> None:
    path, data_dir = seeded
    row = _first_patient(seeded)
    assert row["id"] == 1 and row["chart_number"] == "P000001"
    assert set(row) == {"id", "chart_number", "name", "date_of_birth", "phone"}
    last_name = row["name"].split(",")[0].split()[0]
    result = run(
        ["patients", "search", last_name, "--json", "--limit", "500", "--db", str(path)], data_dir
    )
    assert result.returncode == 0, result.stderr
    assert 1 in [r["id"] for r in json.loads(result.stdout)]


def test_plain_output_has_one_tab_separated_line_per_patient(seeded) -> None:
    path, data_dir = seeded
    row = _first_patient(seeded)
    result = run(["patients", "search", "P000001", "--db", str(path)], data_dir)
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
    result = run(["patients", "search", "a", "--json", "--limit", "2", "--db", str(path)], data_dir)
    assert len(json.loads(result.stdout)) <= 2
    result = run(["patients", "search", "zzzzqqq", "--db", str(path)], data_dir)
    assert result.returncode == 0 and result.stdout.strip() == "No patient matches."


def test_bad_limit_is_a_usage_error(seeded) -> None:
    path, data_dir = seeded
    result = run(["patients", "search", "x", "--limit", "0", "--db", str(path)], data_dir)
    assert result.returncode == 2 and no_traceback(result)
