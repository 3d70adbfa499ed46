"""Copies for the viewer: private while CareDesk runs, gone after a crash on the next start."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject

from app.ui.widgets.private_copies import PrivateCopies, remove_leftover_copies

REPO = Path(__file__).resolve().parents[3]


def crashed_copy(root: Path) -> Path:
    """A copy written by another CareDesk process that then died without cleaning up."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from PySide6.QtCore import QObject
        from app.ui.widgets.private_copies import PrivateCopies
        owner = QObject()
        path = PrivateCopies(owner, root=Path({str(root)!r})).write("7-x-ray.png", b"PHI")
        print(path, flush=True)
        os._exit(0)  # a crash: nothing runs after this, the owner is never destroyed
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip())


def test_a_copy_is_private_and_its_folder_is_marked_in_use(tmp_path):
    owner = QObject()
    path = PrivateCopies(owner, root=tmp_path).write("1-scan.pdf", b"%PDF-1.7 scan")
    assert path.read_bytes() == b"%PDF-1.7 scan"
    assert path.parent.parent == tmp_path and path.parent.name.startswith("caredesk-")
    assert path.stat().st_mode & 0o077 == 0 and path.parent.stat().st_mode & 0o077 == 0
    assert remove_leftover_copies(tmp_path) == 0  # this CareDesk is running: kept
    assert path.exists()
    del owner  # the record window closing
    assert not path.parent.exists()


def test_copies_left_by_a_crashed_caredesk_are_deleted_on_the_next_start(tmp_path):
    left = crashed_copy(tmp_path)
    assert left.read_bytes() == b"PHI"  # what a crash leaves behind
    running = PrivateCopies(owner := QObject(), root=tmp_path).write("2-id.png", b"mine")

    assert remove_leftover_copies(tmp_path) == 1

    assert not left.parent.exists()
    assert running.read_bytes() == b"mine"
    del owner


def test_an_unmarked_folder_goes_once_it_is_a_minute_old(tmp_path):
    old = tmp_path / "caredesk-Ab12Cd"
    new = tmp_path / "caredesk-Ef34Gh"
    for folder in (old, new):
        folder.mkdir(mode=0o700)
        (folder / "3-letter.pdf").write_bytes(b"PHI")
    now = time.time()
    os.utime(old, (now - 3600, now - 3600))
    os.utime(new, (now, now))

    assert remove_leftover_copies(tmp_path) == 1
    assert not old.exists() and new.exists()  # new: a CareDesk may be about to lock it


def test_nothing_else_in_the_temporary_folder_is_touched(tmp_path):
    an_hour_ago = time.time() - 3600
    keep = [
        tmp_path / "caredesk-backups",  # not six letters
        tmp_path / "caredesk-Ab12C",
        tmp_path / "my-caredesk-Ab12Cd",
        tmp_path / "caredesk-Ab12Cd.d",
    ]
    for folder in keep:
        folder.mkdir()
        os.utime(folder, (an_hour_ago, an_hour_ago))
    a_file = tmp_path / "caredesk-Zz99Yy"  # a file, not a folder
    a_file.write_bytes(b"not ours")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    (tmp_path / "caredesk-Ln00Kk").symlink_to(target, target_is_directory=True)

    assert remove_leftover_copies(tmp_path) == 0
    assert all(folder.exists() for folder in keep) and a_file.exists()
    assert (target / "keep.txt").exists()


def test_a_temporary_folder_that_cannot_be_read_is_no_reason_to_stop(tmp_path):
    assert remove_leftover_copies(tmp_path / "missing") == 0


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root")
def test_another_users_leftovers_are_not_ours_to_judge(tmp_path):
    theirs = tmp_path / "caredesk-Ab12Cd"
    theirs.mkdir()
    os.chown(theirs, 12345, 12345)
    an_hour_ago = time.time() - 3600
    os.utime(theirs, (an_hour_ago, an_hour_ago))
    assert remove_leftover_copies(tmp_path) == 0 and theirs.exists()


def test_caredesk_clears_leftovers_as_it_starts(qtbot, tmp_path, monkeypatch):
    from app.ui.application import AppController

    left = crashed_copy(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    controller = AppController(tmp_path / "none-yet.caredesk")
    controller.start()
    qtbot.addWidget(controller.wizard)
    qtbot.waitUntil(lambda: not left.parent.exists())
