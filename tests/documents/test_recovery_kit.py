"""The recovery kit: what the owner puts in the safe must hold the key, readably and scannably."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.pagesizes import A4, LETTER

from app.data.keys import DatabaseKey, parse_recovery_input
from app.documents import recovery_kit
from app.documents.common import ClinicLetterhead
from app.documents.recovery_kit import (
    RecoveryKitData,
    build_recovery_kit,
    key_lines,
    recovery_qr_drawing,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

RAW_KEY = DatabaseKey(raw=bytes(range(0xA0, 0xC0)))
KEY_TEXT = RAW_KEY.recovery_text()  # "A0A1 A2A3 ... BEBF"


def kit_data(letterhead: ClinicLetterhead, **changes: object) -> RecoveryKitData:
    data = RecoveryKitData(
        letterhead=letterhead,
        database_id="5f0c2a9e81d34b7c9a0e6f1d2b3c4d5e",
        database_path="/home/clinic/.local/share/CareDesk/clinic.caredesk",
        recovery_text=KEY_TEXT,
        is_raw_key=True,
        created_at=datetime(2026, 11, 23, 15, 4, tzinfo=UTC),
        created_by="Zoë Nguyễn",
        locale="en_US",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def server_kit_data(letterhead: ClinicLetterhead, **changes: object) -> RecoveryKitData:
    """The kit of the clinic server's backup key, as the PC making the backups prints it."""
    data = kit_data(
        letterhead,
        kind="server_backups",
        database_id="",
        database_path="",
        server_address="clinic-server.munoz.lan:5432",
        server_database="caredesk_munoz",
        computer="FRONT-DESK-2",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def qr_widgets(drawing: object) -> list[QrCodeWidget]:
    return [item for item in drawing.contents if isinstance(item, QrCodeWidget)]  # type: ignore[attr-defined]


def test_english_kit_prints_the_key_the_clinic_and_page_numbers(letterhead):
    pages = pdf_pages_text(build_recovery_kit(kit_data(letterhead)))

    assert len(pages) == 1, "the kit is one sheet of paper"
    page = pages[0]
    for line in key_lines(KEY_TEXT, is_raw_key=True):
        assert line in page
    assert "Clínica Dental Muñoz" in page
    assert "5f0c2a9e81d34b7c9a0e6f1d2b3c4d5e" in page
    assert "Page 1 of 1" in page
    assert "Database recovery kit" in page
    assert "locked drawer" in page
    assert "Settings" in page  # how to reprint it
    # Created 15:04 UTC is 10:04 in New York (EST, November).
    assert "November 23, 2026, 10:04 AM" in page


def test_the_printed_key_types_back_into_the_same_key(letterhead):
    page = pdf_pages_text(build_recovery_kit(kit_data(letterhead)))[0]
    printed = " ".join(line for line in key_lines(KEY_TEXT, True) if line in page)

    assert parse_recovery_input(printed) == RAW_KEY


def test_raw_key_is_laid_out_in_four_rows_of_four_groups():
    lines = key_lines(KEY_TEXT, is_raw_key=True)

    assert lines == [
        "A0A1 A2A3 A4A5 A6A7",
        "A8A9 AAAB ACAD AEAF",
        "B0B1 B2B3 B4B5 B6B7",
        "B8B9 BABB BCBD BEBF",
    ]


def test_passphrase_is_printed_as_one_line_exactly():
    assert key_lines("correct  horse battery", is_raw_key=False) == ["correct  horse battery"]


def test_spanish_kit_has_spanish_instructions(letterhead):
    page = pdf_pages_text(build_recovery_kit(kit_data(letterhead, locale="es_US")))[0]

    assert "Kit de recuperación de la base de datos" in page
    assert "caja fuerte" in page
    assert "Nunca la envíe por correo" in page
    assert "Configuración" in page
    assert "Página 1 de 1" in page
    assert "23 de noviembre de 2026" in page
    assert "Keep it safe" not in page
    assert "Page 1 of 1" not in page


def test_kit_language_defaults_to_the_clinic_locale(letterhead):
    spanish_clinic = dataclasses.replace(letterhead, locale="es_ES", timezone="Europe/Madrid")
    page = pdf_pages_text(build_recovery_kit(kit_data(spanish_clinic, locale=None)))[0]

    assert "Página 1 de 1" in page
    assert "23 de noviembre de 2026, 16:04" in page


def test_accented_names_survive_into_the_pdf_text(letterhead):
    page = pdf_pages_text(build_recovery_kit(kit_data(letterhead, created_by="Zoë Nguyễn")))[0]

    assert "Zoë Nguyễn" in page
    assert "Muñoz" in page


def test_only_the_embedded_dejavu_fonts_are_used(letterhead):
    pdf = build_recovery_kit(kit_data(letterhead))

    fonts = pdf_font_names(pdf)
    assert "DejaVuSans" in fonts
    assert all(name.startswith("DejaVuSans") for name in fonts), fonts
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    for ref in page["/Resources"]["/Font"].values():
        descriptor = ref.get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, "the TrueType font program is embedded"


@pytest.mark.parametrize("make", [kit_data, server_kit_data], ids=["database", "server_backups"])
@pytest.mark.parametrize(("paper", "size"), [("letter", LETTER), ("a4", A4)])
def test_paper_size_follows_the_clinic_setting(letterhead, paper, size, make):
    chosen = dataclasses.replace(letterhead, paper_size=paper)
    for locale in ("en_US", "es_ES"):
        reader = PdfReader(io.BytesIO(build_recovery_kit(make(chosen, locale=locale))))
        box = reader.pages[0].mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(size)
        assert len(reader.pages) == 1, f"{paper} {locale} kit spilled onto a second page"


def test_qr_drawing_holds_exactly_the_given_text():
    drawing = recovery_qr_drawing(KEY_TEXT, size=100)

    widgets = qr_widgets(drawing)
    assert len(widgets) == 1
    assert widgets[0].value == KEY_TEXT
    assert (drawing.width, drawing.height) == (100, 100)


@pytest.mark.parametrize(
    ("text", "raw"), [(KEY_TEXT, True), ("correct horse battery staple", False)]
)
def test_kit_puts_the_recovery_text_in_its_qr_code(letterhead, monkeypatch, text, raw):
    drawn: list[str] = []
    real = recovery_kit.recovery_qr_drawing

    def spy(value: str, *args: object, **kwargs: object):
        drawn.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(recovery_kit, "recovery_qr_drawing", spy)
    build_recovery_kit(kit_data(letterhead, recovery_text=text, is_raw_key=raw))

    assert drawn == [text]


@pytest.mark.skipif(
    not (shutil.which("zbarimg") and shutil.which("pdftoppm")),
    reason="needs zbarimg (zbar-tools) and pdftoppm (poppler-utils) to scan the printed code",
)
@pytest.mark.parametrize("make", [kit_data, server_kit_data], ids=["database", "server_backups"])
def test_printed_qr_code_scans_back_to_the_key(letterhead, tmp_path: Path, make):
    pdf_path = tmp_path / "kit.pdf"
    pdf_path.write_bytes(build_recovery_kit(make(letterhead)))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", str(pdf_path), str(tmp_path / "page")], check=True
    )
    scanned = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "page-1.png")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    assert scanned == KEY_TEXT
    assert parse_recovery_input(scanned) == RAW_KEY


def test_passphrase_kit_says_passphrase_and_keeps_it_exact(letterhead):
    data = kit_data(letterhead, recovery_text="Sol y sombra 2026", is_raw_key=False)
    page = pdf_pages_text(build_recovery_kit(data))[0]

    assert "PASSPHRASE" in page
    assert "Sol y sombra 2026" in page
    assert "capitals, spaces and punctuation count" in page


def test_kit_data_never_shows_the_key_in_its_repr(letterhead):
    data = kit_data(letterhead)

    assert "A0A1" not in repr(data)
    assert data.database_id in repr(data)


def test_kit_data_refuses_a_naive_creation_time(letterhead):
    with pytest.raises(ValueError, match="timezone-aware"):
        kit_data(letterhead, created_at=datetime(2026, 11, 23, 15, 4))


def test_kit_data_refuses_an_empty_key(letterhead):
    with pytest.raises(ValueError, match="recovery key"):
        kit_data(letterhead, recovery_text="")


# --- the kit of the clinic server's backup key ------------------------------------------------


def test_backup_key_kit_names_the_server_and_says_to_keep_it_with_the_off_site_backups(letterhead):
    pages = pdf_pages_text(build_recovery_kit(server_kit_data(letterhead)))

    assert len(pages) == 1
    page = " ".join(pages[0].split())  # words as read, whatever the line breaks
    assert "Backup key recovery kit" in page and "Database recovery kit" not in page
    for line in key_lines(KEY_TEXT, is_raw_key=True):
        assert line in page
    # The server it belongs to, and the PC holding the key — not a database file.
    assert "clinic-server.munoz.lan:5432/caredesk_munoz" in page
    assert "FRONT-DESK-2" in page
    assert "Database file" not in page and "Database ID" not in page
    # What it is for, where it is kept, and how it is used.
    assert "clinic server are encrypted with this key" in page
    assert "nobody can restore them" in page
    assert "off-site backups" in page
    assert "caredesk backup verify FILE" in page and "caredesk backup restore FILE" in page
    assert "CAREDESK_RECOVERY_KEY" in page
    assert "Settings → Backups → Restore…" in page
    assert "November 23, 2026, 10:04 AM" in page


def test_spanish_backup_key_kit_is_in_spanish(letterhead):
    page = pdf_pages_text(build_recovery_kit(server_kit_data(letterhead, locale="es_US")))[0]
    page = " ".join(page.split())

    assert "Kit de recuperación de las copias de seguridad" in page
    assert "Servidor de la clínica" in page and "Clave guardada en" in page
    assert "Sin ella nadie puede restaurarlas" in page
    assert "copias externas" in page
    assert "CAREDESK_RECOVERY_KEY" in page
    assert "Página 1 de 1" in page
    assert "off-site" not in page and "Keep it safe" not in page


def test_the_backup_key_kit_pdf_says_what_it_is_in_its_properties(letterhead):
    reader = PdfReader(io.BytesIO(build_recovery_kit(server_kit_data(letterhead))))

    assert reader.metadata.subject == "Backup key recovery kit"


def test_backup_key_kit_data_never_shows_the_key_in_its_repr(letterhead):
    data = server_kit_data(letterhead)

    assert "A0A1" not in repr(data)
    assert "clinic-server.munoz.lan" in repr(data)


@pytest.mark.parametrize(
    ("make", "changes", "words"),
    [
        (kit_data, {"database_path": ""}, "names its file"),
        (server_kit_data, {"server_address": ""}, "names the clinic server"),
        (server_kit_data, {"server_database": ""}, "names the clinic server"),
        (kit_data, {"kind": "usb"}, "unknown kind"),
    ],
)
def test_kit_data_refuses_a_kit_that_does_not_say_what_it_opens(letterhead, make, changes, words):
    with pytest.raises(ValueError, match=words):
        make(letterhead, **changes)
