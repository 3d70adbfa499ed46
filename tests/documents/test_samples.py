"""``python -m app.document_samples OUTDIR``: page 1 of every document, in both languages."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from app import document_samples
from app.document_samples import SamplesError, expected_files, render

needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed"
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_expected_file_set_names_every_document_in_both_languages():
    names = expected_files()
    assert len(names) == len(set(names)) == 2 * len(document_samples.DOCUMENTS)
    for document in ("intake-blank", "intake", "consent-general-treatment",
                     "consent-injectables", "plan-options", "plan-accepted", "agreement",
                     "receipt", "referral", "day-sheet"):  # fmt: skip
        assert f"doc-{document}-en.png" in names and f"doc-{document}-es.png" in names


@needs_pdftoppm
def test_samples_render_page_one_of_every_document(tmp_path):
    outdir, work = tmp_path / "out", tmp_path / "work"
    work.mkdir()
    written = render(outdir, work=work, report=lambda _path: None)
    assert sorted(p.name for p in outdir.iterdir()) == sorted(expected_files())
    assert [p.name for p in written] == expected_files()
    for path in written:
        width, height = png_size(path)
        # Letter at 70 dpi: 8.5 × 11 in → 595 × 770 pixels; one page only.
        assert (width, height) == (595, 770), path.name
        assert path.stat().st_size > 15_000, f"{path.name} looks empty"
    # The throw-away clinic (and its encrypted database) is gone.
    assert list(work.iterdir()) == []


def test_a_missing_pdftoppm_is_said_plainly_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(SamplesError, match=r"pdftoppm was not found.*poppler-utils"):
        render(tmp_path / "out", work=tmp_path)
    assert not (tmp_path / "out").exists()
    assert document_samples.main([str(tmp_path / "out")]) == 1
