"""``caredesk tasks follow-ups`` as a scheduled task runs it: a real process, its one line,
its exit code; a second run makes nothing new."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.demo.seed import SEED_TODAY
from tests.test_cli import no_traceback, run
from tests.test_cli_patients import run_as_staff


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-tasks")
    path = folder / "seeded.caredesk"
    data_dir = folder / "userdata"
    result = run(
        ["seed", "--db", str(path), "--patients", "40", "--years", "1", "--seed", "7"], data_dir
    )
    assert result.returncode == 0, result.stderr
    return path, data_dir


def follow_ups(seeded, *extra: str):
    path, data_dir = seeded
    return run_as_staff(["tasks", "follow-ups", "--db", str(path), *extra], data_dir)


SUMMARY = re.compile(r"Automatic follow-ups: (\d+) made, (\d+) closed\.")


def test_a_second_run_makes_nothing_new(seeded) -> None:
    # `caredesk seed` makes the clinic as it stands on the seed's own day.
    on_the_seed_day = ("--today", SEED_TODAY.isoformat())
    first = follow_ups(seeded, *on_the_seed_day)
    assert first.returncode == 0, first.stderr
    made = SUMMARY.fullmatch(first.stdout.strip())
    assert made, first.stdout
    assert int(made.group(1)) > 0  # the demo clinic has calls, plans and insurance due
    again = follow_ups(seeded, *on_the_seed_day)
    assert again.returncode == 0, again.stderr
    assert SUMMARY.fullmatch(again.stdout.strip()).group(1) == "0"


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "06/12/2026"])
def test_a_day_that_is_not_a_date_is_refused_in_a_sentence(seeded, bad) -> None:
    result = follow_ups(seeded, "--today", bad)
    assert result.returncode != 0
    assert "--today" in result.stderr
    no_traceback(result)
