"""``caredesk import`` and ``caredesk export`` as a script sees them: real processes on a
seeded clinic, exit codes, the lines printed and what was stored."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.test_cli import no_traceback, run

HEADER = "Chart number,Last name,First name,Date of birth,Mobile phone,E-mail\n"


def as_user(username: str) -> dict[str, str]:
    from app.demo.seed import DEMO_PASSWORD

    return {"CAREDESK_USER": username, "CAREDESK_PASSWORD": DEMO_PASSWORD}


OWNER = as_user("owner")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli-moving")
    path = folder / "seeded.caredesk"
    data_dir = folder / "userdata"
    result = run(
        ["seed", "--db", str(path), "--patients", "30", "--years", "1", "--seed", "5"], data_dir
    )
    assert result.returncode == 0, result.stderr
    return path, data_dir


def search(seeded, text: str) -> list[dict]:
    path, data_dir = seeded
    found = run(
        ["patients", "search", text, "--json", "--db", str(path)], data_dir, env_extra=OWNER
    )
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)


def test_patients_dry_run_import_history_and_undo(seeded, tmp_path) -> None:
    path, data_dir = seeded
    file = tmp_path / "old system.csv"
    file.write_text(
        HEADER
        + "X-9001,Zyłowski,Ágata,1980-02-03,(512) 555-0101,agata@example.com\n"
        + "X-9002,Quenneville,Brontë,1975-11-30,512-555-0102,\n",
        encoding="utf-8",
    )
    db = ["--db", str(path)]

    checked = run(["import", "patients", str(file), "--dry-run", *db], data_dir, env_extra=OWNER)
    assert checked.returncode == 0, checked.stderr
    assert "old system.csv: CSV, UTF-8, comma-separated, 2 rows" in checked.stdout
    assert "Chart number → chart_number" in checked.stdout
    assert "2 patients will be created" in checked.stdout
    assert search(seeded, "Zyłowski") == []  # a dry run stores nothing

    done = run(["import", "patients", str(file), *db], data_dir, env_extra=OWNER)
    assert done.returncode == 0, done.stderr
    assert "2 patients created" in done.stdout
    [hit] = search(seeded, "Zyłowski")
    assert hit["chart_number"] == "X-9001" and hit["date_of_birth"] == "1980-02-03"
    batch = int(done.stdout.split("Import ")[1].split(":")[0])

    listed = run(["import", "history", *db], data_dir, env_extra=OWNER)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith(f"{batch}\t"))
    assert "patients" in line and "old system.csv" in line and "2 created" in line
    assert "can be undone today" in line

    undone = run(["import", "undo", str(batch), *db], data_dir, env_extra=OWNER)
    assert undone.returncode == 0, undone.stderr
    assert search(seeded, "Zyłowski") == []
    again = run(["import", "undo", str(batch), *db], data_dir, env_extra=OWNER)
    assert again.returncode == 1 and no_traceback(again)
    assert "This import was undone on" in again.stderr


def test_a_bad_row_stops_the_import_until_left_out_and_the_rejects_are_written(
    seeded, tmp_path
) -> None:
    path, data_dir = seeded
    file = tmp_path / "with a bad row.csv"
    file.write_text(
        HEADER
        + "Y-1,Okonkwo,Chidi,1990-05-06,,\n"
        + "Y-2,,,1990-05-06,,\n"
        + "Y-3,Alvarez,Inés,2999-01-01,,\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    db = ["--db", str(path)]

    refused = run(
        ["import", "patients", str(file), "--rejects", str(rejects), *db],
        data_dir,
        env_extra=OWNER,
    )
    assert refused.returncode == 1 and no_traceback(refused)
    assert "Line 3:" in refused.stderr and "Line 4:" in refused.stderr
    assert "2 rows cannot be imported" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert search(seeded, "Okonkwo") == []
    with rejects.open(encoding="utf-8-sig", newline="") as f:
        kept = list(csv.reader(f))
    assert kept[0][:3] == ["Chart number", "Last name", "First name"]
    assert [row[0] for row in kept[1:]] == ["Y-2", "Y-3"]

    partly = run(
        ["import", "patients", str(file), "--skip-bad-rows", *db], data_dir, env_extra=OWNER
    )
    assert partly.returncode == 0, partly.stderr
    assert [hit["chart_number"] for hit in search(seeded, "Okonkwo")] == ["Y-1"]


def test_files_and_arguments_that_cannot_be_used_say_so_in_one_line(seeded, tmp_path) -> None:
    path, data_dir = seeded
    db = ["--db", str(path)]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    picture = tmp_path / "photo.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    mapping = tmp_path / "mapping.json"
    mapping.write_text("{not json", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "Z-1,Lee,Ann,1990-01-02,,\n", encoding="utf-8")

    cases = [
        (["import", "patients", str(empty)], 1, "empty (0 bytes)"),
        (["import", "patients", str(picture)], 1, "not a CSV"),
        (["import", "patients", str(tmp_path / "missing.csv")], 1, "no such file"),
        (["import", "patients", str(tmp_path)], 1, "is a folder"),
        (["import", "patients", str(good), "--mapping", str(mapping)], 1, "not valid JSON"),
        (["import", "patients", str(good), "--date-order", "DD/MM"], 2, "invalid choice"),
    ]
    for args, code, words in cases:
        result = run([*args, *db], data_dir, env_extra=OWNER)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert no_traceback(result)
        if code == 1:  # (a usage error prints the command's usage before its line)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_only_the_owner_imports(seeded, tmp_path) -> None:
    path, data_dir = seeded
    file = tmp_path / "p.csv"
    file.write_text(HEADER + "R-1,Ruiz,Ana,1990-01-02,,\n", encoding="utf-8")
    refused = run(
        ["import", "patients", str(file), "--db", str(path)],
        data_dir,
        env_extra=as_user("receptionist"),
    )
    assert refused.returncode == 1 and no_traceback(refused)
    assert "does not allow you to import data" in refused.stderr


def test_appointments_are_booked_on_the_names_given_and_ambiguous_dates_need_an_order(
    seeded, tmp_path
) -> None:
    path, data_dir = seeded
    db = ["--db", str(path)]
    patients = tmp_path / "patients.csv"
    patients.write_text(HEADER + "A-1,Ibáñez,Marta,1985-07-08,,\n", encoding="utf-8")
    assert (
        run(["import", "patients", str(patients), *db], data_dir, env_extra=OWNER).returncode == 0
    )
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "Appt ID,Chart Number,Appt Date,Appt Time,Length,Provider,Operatory\n"
        "501,A-1,03/04/2027,09:00,60,DrO,Operatory 1\n",
        encoding="utf-8",
    )
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"provider": {"DrO": "Dr. Daniel Okafor"}}), encoding="utf-8")

    ambiguous = run(
        ["import", "appointments", str(visits), "--names", str(names), *db],
        data_dir,
        env_extra=OWNER,
    )
    assert ambiguous.returncode == 2 and no_traceback(ambiguous)
    assert "--date-order" in ambiguous.stderr

    unnamed = run(
        ["import", "appointments", str(visits), "--date-order", "DMY", *db],
        data_dir,
        env_extra=OWNER,
    )
    assert unnamed.returncode == 1
    assert "“DrO”" in unnamed.stderr and "--names" in unnamed.stderr

    booked = run(
        ["import", "appointments", str(visits), "--date-order", "DMY", "--names", str(names),
         *db],
        data_dir,
        env_extra=OWNER,
    )  # fmt: skip
    assert booked.returncode == 0, booked.stderr
    assert "1 appointment created" in booked.stdout

    from app.data.models.appointments import Appointment
    from app.data.models.patients import Patient
    from app.data.models.providers import Provider

    # Read back what was stored: 3 April 2027, 9:00 in the clinic's zone, on Dr. Okafor.
    with _open(seeded) as db_, db_.uow() as session:
        from sqlalchemy import select

        starts, provider = session.execute(
            select(Appointment.starts_at, Provider.name)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Provider, Provider.id == Appointment.provider_id)
            .where(Patient.chart_number == "A-1")
        ).one()
    assert provider == "Daniel Okafor"
    assert starts.isoformat() == "2027-04-03T14:00:00+00:00"  # America/Chicago, CDT


class _open:
    """The seeded clinic opened in this process with the CLI's passphrase."""

    def __init__(self, seeded) -> None:
        self.path = seeded[0]

    def __enter__(self):
        from app.data.database import connect
        from app.data.keys import DatabaseKey
        from tests.test_cli import PASSPHRASE

        self.db = connect(self.path, DatabaseKey(passphrase=PASSPHRASE))
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()


def test_a_patients_record_and_the_whole_clinic_are_exported(seeded, tmp_path) -> None:
    path, data_dir = seeded
    db = ["--db", str(path)]
    [hit] = search(seeded, "P000001")
    out = tmp_path / "record.zip"
    made = run(
        ["export", "patient", str(hit["id"]), "--out", str(out), "--to", "The patient",
         "--why", "Patient's request", *db],
        data_dir,
        env_extra=as_user("receptionist"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "without consultation notes" in made.stdout
    with zipfile.ZipFile(out) as z:
        listed = z.namelist()
    assert "summary.pdf" in listed and "fhir/bundle.json" in listed

    taken = run(
        ["export", "patient", str(hit["id"]), "--out", str(out), "--to", "x", "--why", "y",
         *db],
        data_dir,
        env_extra=OWNER,
    )  # fmt: skip
    assert taken.returncode == 1 and "already exists" in taken.stderr

    folder = tmp_path / "clinic export"
    whole = run(["export", "clinic", "--out", str(folder), *db], data_dir, env_extra=OWNER)
    assert whole.returncode == 0, whole.stderr
    assert (folder / "tables" / "patients.csv").exists()
    text = (folder / "tables" / "patients.csv").read_text(encoding="utf-8-sig")
    from sqlalchemy import func, select

    from app.data.models.patients import Patient

    with _open(seeded) as db_, db_.uow() as session:
        patients = session.scalar(select(func.count()).select_from(Patient))
    assert len(list(csv.reader(io.StringIO(text)))) == 1 + patients

    no_password = run(
        ["export", "clinic", "--out", str(tmp_path / "c.zip"), "--encrypt", *db],
        data_dir,
        env_extra=OWNER,
    )
    assert no_password.returncode == 2 and "CAREDESK_EXPORT_PASSWORD" in no_password.stderr
    short = run(
        ["export", "clinic", "--out", str(tmp_path / "c.zip"), "--encrypt", *db],
        data_dir,
        env_extra={**OWNER, "CAREDESK_EXPORT_PASSWORD": "short"},
    )
    assert short.returncode == 2 and "12 characters" in short.stderr
    assert not (tmp_path / "c.zip").exists()
