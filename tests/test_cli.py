"""The ``caredesk`` command as a script sees it: real processes, exit codes and messages."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__

REPO = Path(__file__).resolve().parent.parent
PASSPHRASE = "cli-test-passphrase-1"
SUB_COMMANDS = ([], ["seed"], ["db"], ["db", "upgrade"], ["db", "check"],
                ["db", "move-to-server"], ["audit"], ["audit", "verify"], ["audit", "seal"],
                ["patients"], ["patients", "search"], ["calendar"], ["calendar", "daysheet"],
                ["calendar", "export-ics"], ["server"], ["server", "setup"],
                ["server", "upgrade"], ["server", "join"], ["contacts"], ["contacts", "import"],
                ["contacts", "list"], ["tasks"], ["tasks", "follow-ups"], ["messages"],
                ["messages", "run"], ["messages", "list"], ["messages", "configure"],
                ["backup"], ["backup", "now"], ["backup", "list"], ["backup", "verify"],
                ["backup", "restore"], ["import"], ["import", "patients"],
                ["import", "appointments"], ["import", "balances"], ["import", "contacts"],
                ["import", "history"], ["import", "undo"], ["export"], ["export", "patient"],
                ["export", "clinic"])  # fmt: skip


def run(
    args: list[str],
    data_dir: Path,
    *,
    passphrase: str | None = PASSPHRASE,
    timeout=120,
    env_extra: dict[str, str] | None = None,
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREDESK_")}
    env["CAREDESK_DATA_DIR"] = str(data_dir)
    # Never the developer's real keyring: the CLI falls back to CAREDESK_PASSPHRASE.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["QT_QPA_PLATFORM"] = "offscreen"
    if passphrase is not None:
        env["CAREDESK_PASSPHRASE"] = passphrase
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def no_traceback(result) -> bool:
    return "Traceback" not in result.stdout + result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A small clinic made by ``caredesk seed`` itself."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "seeded.caredesk"
    result = run(
        ["seed", "--db", str(path), "--patients", "30", "--years", "1", "--seed", "5"],
        folder / "userdata",
    )
    assert result.returncode == 0, result.stderr
    assert "Seeded 30 patients" in result.stdout
    return path


def test_version(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"CareDesk {__version__}"


@pytest.mark.parametrize("command", SUB_COMMANDS, ids=lambda c: " ".join(c) or "caredesk")
def test_every_command_has_help(tmp_path, command):
    result = run([*command, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: caredesk")
    assert no_traceback(result)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--patients", "0"], "must be 1 or more"),
        (["--patients", "abc"], "is not a whole number"),
        (["--years", "-1"], "must be 1 or more"),
        (["--seed", "x"], "is not a whole number"),
    ],
)
def test_seed_with_bad_numbers_says_which_and_exits_2(tmp_path, args, message):
    target = tmp_path / "new.caredesk"
    result = run(["seed", "--db", str(target), *args], tmp_path / "userdata")
    assert result.returncode == 2
    assert message in result.stderr
    assert no_traceback(result)
    assert not target.exists()


def test_seed_without_a_database_path_exits_2(tmp_path):
    result = run(["seed", "--patients", "10"], tmp_path)
    assert result.returncode == 2
    assert "--db" in result.stderr and "required" in result.stderr


def test_seed_without_keyring_or_passphrase_explains_what_to_do(tmp_path):
    target = tmp_path / "new.caredesk"
    result = run(["seed", "--db", str(target), "--patients", "5"], tmp_path, passphrase=None)
    assert result.returncode == 1
    assert "passphrase" in result.stderr
    assert no_traceback(result)
    assert not target.exists()


@pytest.mark.slow
def test_seed_never_overwrites_a_file(seeded, tmp_path):
    before = digest(seeded)
    result = run(["seed", "--db", str(seeded), "--patients", "5"], tmp_path)
    assert result.returncode == 1
    assert "already exists" in result.stderr and "not overwrite" in result.stderr
    assert no_traceback(result)
    assert digest(seeded) == before


@pytest.mark.slow
def test_db_check_passes_on_a_seeded_clinic(seeded, tmp_path):
    result = run(["db", "check", "--db", str(seeded)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.slow
def test_db_check_names_an_installment_paid_differently_from_its_allocations(
    seeded, tmp_path, monkeypatch
):
    from app.data.database import connect
    from app.services.clinic.clinics import find_key

    copy = tmp_path / "edited.caredesk"
    shutil.copy(seeded, copy)
    monkeypatch.setenv("CAREDESK_PASSPHRASE", PASSPHRASE)
    db = connect(copy, find_key(copy)[0])
    with db.engine.begin() as conn:  # an edit behind CareDesk's back
        installment_id = conn.exec_driver_sql(
            "SELECT id FROM installments WHERE paid_amount > 0 LIMIT 1"
        ).scalar()
        conn.exec_driver_sql(
            f"UPDATE installments SET paid_amount = paid_amount - 1 WHERE id = {installment_id}"
        )
    db.close()
    result = run(["db", "check", "--db", str(copy)], tmp_path)
    assert no_traceback(result)
    assert result.returncode == 1
    assert f"installment {installment_id}: what it was paid differs" in result.stdout


@pytest.mark.slow
def test_db_check_reports_a_damaged_page(seeded, tmp_path):
    damaged = tmp_path / "damaged.caredesk"
    shutil.copy(seeded, damaged)
    data = bytearray(damaged.read_bytes())
    middle = (len(data) // 4096 // 2) * 4096 + 100
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    damaged.write_bytes(bytes(data))
    result = run(["db", "check", "--db", str(damaged)], tmp_path)
    assert no_traceback(result)
    assert result.returncode == 1
    assert "problem" in result.stderr


@pytest.mark.slow
def test_db_upgrade_says_up_to_date(seeded, tmp_path):
    before = digest(seeded)
    result = run(["db", "upgrade", "--db", str(seeded)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert digest(seeded) == before


@pytest.mark.slow
def test_audit_verify_intact_then_tampered(seeded, tmp_path):
    result = run(["audit", "verify", "--db", str(seeded)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout

    from app.data.database import connect
    from app.data.keys import DatabaseKey

    tampered = tmp_path / "tampered.caredesk"
    shutil.copy(seeded, tampered)
    db = connect(tampered, DatabaseKey(passphrase=PASSPHRASE))
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2")
    finally:
        db.close()
    result = run(["audit", "verify", "--db", str(tampered)], tmp_path)
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout and "row 2" in result.stdout
    assert no_traceback(result)


@pytest.mark.slow
def test_a_seal_kept_elsewhere_names_rows_cut_from_the_end(seeded, tmp_path):
    from app.data.database import connect
    from app.data.keys import DatabaseKey

    clinic = tmp_path / "clinic.caredesk"
    shutil.copy(seeded, clinic)
    seal = tmp_path / "seal.json"
    result = run(["audit", "seal", "--out", str(seal), "--db", str(clinic)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Sealed at row ") and seal.exists()
    again = run(["audit", "seal", "--out", str(seal), "--db", str(clinic)], tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    nowhere = run(["audit", "verify", "--seal", str(tmp_path / "no.json"), "--db", str(clinic)],
                  tmp_path)  # fmt: skip
    assert nowhere.returncode == 2 and "no such file" in nowhere.stderr

    db = connect(clinic, DatabaseKey(passphrase=PASSPHRASE))
    try:
        with db.engine.begin() as conn:  # the key holder cuts the last rows, seals file too
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
            conn.exec_driver_sql(
                "DELETE FROM audit_log WHERE id > (SELECT max(id) - 2 FROM audit_log)"
            )
    finally:
        db.close()
    Path(f"{clinic}.seals").unlink()
    alone = run(["audit", "verify", "--db", str(clinic)], tmp_path)
    assert alone.returncode == 0 and "no seals yet" in alone.stdout  # the chain checks out
    sealed = run(["audit", "verify", "--seal", str(seal), "--db", str(clinic)], tmp_path)
    assert sealed.returncode == 1 and no_traceback(sealed)
    assert "TAMPERED: rows" in sealed.stdout and "gone from the end" in sealed.stdout


@pytest.mark.slow
def test_checking_a_copy_neither_changes_the_clinic_opened_next_nor_upgrades_it(seeded, tmp_path):
    from app.data import migrate
    from app.data.database import connect
    from app.data.keys import DatabaseKey

    data = tmp_path / "userdata"
    data.mkdir()
    (data / "last-clinic.txt").write_text(str(seeded))
    old = tmp_path / "before-upgrade.caredesk"  # a backup made before an upgrade
    shutil.copy(seeded, old)
    db = connect(old, DatabaseKey(passphrase=PASSPHRASE))
    try:
        migrate.downgrade(db, "0003")
    finally:
        db.close()
    before = digest(old)
    for command in (["db", "check"], ["audit", "verify"]):
        result = run([*command, "--db", str(old)], data)
        assert result.returncode == 0, result.stderr
    assert (
        "schema 0003, upgraded when opened" in run(["db", "check", "--db", str(old)], data).stdout
    )
    assert digest(old) == before  # checked as it is: not upgraded
    assert (data / "last-clinic.txt").read_text() == str(seeded)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["print", "receipt", "--patient", str(2**63), "--payment", "1", "--out", "x.pdf"],
         "larger than any id"),
        (["print", "intake", "--patient", str(2**31), "--out", "x.pdf"], "larger than any id"),
        (["seed", "--db", "/no-such-folder/x.caredesk", "--patients", "5"],
         "the folder /no-such-folder does not exist"),
    ],
)  # fmt: skip
def test_out_of_range_input_is_one_line_not_a_traceback(tmp_path, args, words):
    result = run(args, tmp_path)
    assert result.returncode == 2 and no_traceback(result)
    assert words in result.stderr


@pytest.mark.slow
def test_a_1500_word_search_is_answered(seeded, tmp_path):
    query = " ".join(["word"] * 1500)
    from app.demo.seed import DEMO_PASSWORD

    staff = {"CAREDESK_USER": "owner", "CAREDESK_PASSWORD": DEMO_PASSWORD}
    result = run(["patients", "search", query, "--db", str(seeded)], tmp_path, env_extra=staff)
    assert result.returncode == 0, result.stderr
    assert no_traceback(result)


def test_what_caredesk_writes_is_for_this_user_only(tmp_path):
    data = tmp_path / "userdata"
    clinic = tmp_path / "private" / "clinic.caredesk"
    clinic.parent.mkdir()
    result = run(["seed", "--db", str(clinic), "--patients", "5", "--years", "1", "--quiet"], data)
    assert result.returncode == 0, result.stderr
    assert clinic.stat().st_mode & 0o777 == 0o600
    run(["audit", "seal", "--out", str(tmp_path / "seal.json"), "--db", str(clinic)], data)
    assert (tmp_path / "seal.json").stat().st_mode & 0o777 == 0o600
    assert Path(f"{clinic}.seals").stat().st_mode & 0o777 == 0o600


def test_a_data_folder_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run([], tmp_path, env_extra={"CAREDESK_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 1 and no_traceback(result)
    assert "CareDesk cannot create its data folder" in result.stderr


def test_an_unreadable_per_machine_setting_is_one_line(tmp_path):
    result = run(["db", "check", "--db", "x.caredesk"], tmp_path,
                 env_extra={"CAREDESK_SYSTEM_WIDE": "maybe"})  # fmt: skip
    assert result.returncode == 2 and no_traceback(result)
    assert "CAREDESK_SYSTEM_WIDE must be 1 or 0, not “maybe”" in result.stderr


def test_the_self_test_without_a_screen_still_says_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}  # fmt: skip
    env["CAREDESK_DATA_DIR"] = str(tmp_path / "userdata")
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CareDesk") and "qt (offscreen" in done.stdout


@pytest.mark.parametrize("command", [["db", "check"], ["db", "upgrade"], ["audit", "verify"]])
def test_a_missing_clinic_file_is_named(tmp_path, command):
    missing = tmp_path / "nowhere.caredesk"
    result = run([*command, "--db", str(missing)], tmp_path)
    assert result.returncode == 1
    assert "There is no clinic database at" in result.stderr
    assert no_traceback(result)


def test_files_that_are_not_clinics_get_a_sentence(tmp_path):
    plain = tmp_path / "plain.sqlite"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    noise = tmp_path / "noise.caredesk"
    noise.write_bytes(os.urandom(16384))
    before = digest(noise)
    for path, expected in ((plain, "unencrypted SQLite"), (noise, "could not be unlocked")):
        result = run(["db", "check", "--db", str(path)], tmp_path)
        assert result.returncode == 1, path
        assert expected in result.stderr
        assert no_traceback(result)
    assert digest(noise) == before


def test_keyring_detection_never_picks_the_memory_keyring(tmp_path):
    """Defining ``MemoryKeyring`` registers it with keyring; were it chosen on a PC without a
    key store, a new clinic's key would be filed in memory and lost at exit (as happened to
    ``caredesk seed`` before).  Checked in a fresh process, as keyring detects only once."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    # An empty keyring configuration folder: whatever this machine has, detection runs.
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    probe = (
        "import app.data.keys, app.demo.seed, keyring; print(type(keyring.get_keyring()).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and result.stdout.strip() != "MemoryKeyring"
