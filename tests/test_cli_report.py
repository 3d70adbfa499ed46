"""``caredesk report`` as an accountant's script sees it: JSON under stable keys, money as
decimal strings, the owner only, every mistake a sentence and exit code 2."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

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
        ("owner", ["report", "month", "2026-06", "--out", "june.pdf"], "written as JSON"),
        ("receptionist", ["report", "month", "2026-06"], "see the schedule and coordination"),
    ],
)  # fmt: skip
def test_a_mistake_is_one_sentence(seeded, tmp_path, user, args, words) -> None:
    path, data_dir = seeded
    result = run_as(user, [*args, "--db", str(path)], data_dir)
    assert result.returncode != 0 and no_traceback(result)
    assert words in result.stderr


def test_an_existing_file_is_never_overwritten(seeded, tmp_path) -> None:
    path, data_dir = seeded
    out = tmp_path / "kept.json"
    out.write_text("the accountant's own file")
    result = run_as("owner", ["report", "month", "2026-06", "--out", str(out), "--db", str(path)],
                    data_dir)  # fmt: skip
    assert result.returncode == 2 and "already exists" in result.stderr
    assert out.read_text() == "the accountant's own file"
