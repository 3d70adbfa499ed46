"""``caredesk --self-test``: passes on a working install, names the step that fails, leaves
nothing behind, and never touches the real user data or key store."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from app import selftest
from app.paths import DATA_DIR_ENV

REPO = Path(__file__).resolve().parents[2]


def _run(steps=selftest.STEPS) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = selftest.run(steps, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_self_test_passes_with_one_summary_line(memory_keyring, user_data_dir, temp_folder):
    code, out, err = _run()
    assert code == selftest.EXIT_OK, err
    assert err == ""
    assert out.count("\n") == 1
    line = out.strip()
    assert line.startswith("CareDesk ") and "self-test passed" in line
    for shown in ("keyring", "SQLCipher", "patient", "pdf-en", "pdf-es", "qt (offscreen"):
        assert shown in line
    # Nothing left on disk (the test's own temporary folder is empty again), and the test's
    # own keyring and data folder are back in place.
    assert list(temp_folder.iterdir()) == []
    assert keyring.get_keyring() is memory_keyring
    assert memory_keyring.entries == {}
    assert os.environ[DATA_DIR_ENV] == str(user_data_dir)
    assert not user_data_dir.exists() or not any(user_data_dir.iterdir())


def test_a_failing_step_is_named_and_the_rest_do_not_run(memory_keyring, temp_folder):
    ran = []

    def broken(_ctx):
        raise OSError("disk on fire")

    def after(_ctx):
        ran.append("after")

    steps = (*selftest.STEPS[:5], ("pdf-en", broken), ("later", after))
    code, out, err = _run(steps)
    assert code == selftest.EXIT_FAILED
    assert out == ""
    assert err.strip() == (
        f"CareDesk {selftest.__version__} self-test FAILED at step 'pdf-en': OSError: disk on fire"
    )
    assert ran == []
    # The clinic the earlier steps opened was closed and removed with its folder.
    assert list(temp_folder.iterdir()) == []
    assert keyring.get_keyring() is memory_keyring


def test_a_check_that_finds_a_problem_says_what_it_found(memory_keyring):
    def plain_sqlite(_ctx):
        raise selftest.SelfTestError("the database library is plain SQLite, not SQLCipher")

    code, _out, err = _run((selftest.STEPS[0], ("database", plain_sqlite)))
    assert code == selftest.EXIT_FAILED
    assert err.strip().endswith(
        "at step 'database': the database library is plain SQLite, not SQLCipher"
    )


def test_steps_are_in_dependency_order():
    names = [name for name, _step in selftest.STEPS]
    assert names == [
        "keyring", "database", "server-driver", "patient", "backup", "pdf-en", "pdf-es", "qt"
    ]  # fmt: skip


def _subprocess(env_overrides: dict[str, str], tmp_path: Path):
    env = dict(os.environ)
    env.update(env_overrides)
    env["CAREDESK_DATA_DIR"] = str(tmp_path / "real-userdata")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "app", "--self-test"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done


@pytest.mark.slow
def test_command_line_self_test_passes_and_cleans_up(tmp_path):
    done = _subprocess({"QT_QPA_PLATFORM": "offscreen"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert "self-test passed" in done.stdout
    assert list((tmp_path / "tmp").iterdir()) == []
    # The "real" user-data folder of that process was never written to.
    assert not (tmp_path / "real-userdata").exists() or not any(
        (tmp_path / "real-userdata").iterdir()
    )


@pytest.mark.slow
def test_command_line_self_test_names_a_missing_qt_platform(tmp_path):
    done = _subprocess({"QT_QPA_PLATFORM": "no-such-platform"}, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "self-test FAILED at step 'qt'" in done.stderr
    assert "no Qt platform plugin 'no-such-platform'" in done.stderr
    assert "offscreen" in done.stderr  # what is there, so IT can pick one
    assert list((tmp_path / "tmp").iterdir()) == []
