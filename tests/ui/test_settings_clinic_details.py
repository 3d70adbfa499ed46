"""Settings → Clinic details: the letterhead logo (choose, preview, remove, bad files) and
the paper size, saved with the other details."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from app.services.clinic.audit_log import AuditFilter, list_entries
from app.services.clinic.clinics import LOGO_MAX_BYTES, get_details
from app.ui import ops
from app.ui.settings.clinic_details import ClinicDetailsTab


def picture(fmt: str, size: tuple[int, int] = (600, 200), color: str = "#1D4E89") -> bytes:
    out = io.BytesIO()
    Image.new("P" if fmt == "GIF" else "RGB", size, color).save(out, fmt)
    return out.getvalue()


class Chooser:
    """Answers the file dialog as a user would: with the next path, or cancels (None)."""

    def __init__(self) -> None:
        self.answers: list[Path | None] = []
        self.asked = 0

    def __call__(self, parent) -> Path | None:
        self.asked += 1
        return self.answers.pop(0)


@pytest.fixture
def chooser() -> Chooser:
    return Chooser()


@pytest.fixture
def tab(qtbot, owner_ctx, chooser) -> ClinicDetailsTab:
    widget = ClinicDetailsTab(owner_ctx, choose_logo=chooser)
    qtbot.addWidget(widget)
    widget.resize(900, 900)
    widget.show()
    return widget


def _settle(qtbot) -> None:
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def choose(qtbot, tab: ClinicDetailsTab, chooser: Chooser, path: Path | None) -> None:
    chooser.answers.append(path)
    qtbot.mouseClick(tab.logo_picker.choose_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)


def save(qtbot, tab: ClinicDetailsTab) -> None:
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)


def test_without_a_logo_the_preview_says_so(tab):
    assert tab.logo_picker.logo() is None
    assert "No logo" in tab.logo_picker.preview.text()
    assert not tab.logo_picker.remove_button.isEnabled()
    assert not tab.save_button.isEnabled()


def test_chosen_logo_is_previewed_at_print_size_and_saved(qtbot, tab, chooser, tmp_path, clinic):
    path = tmp_path / "harbour.png"
    data = picture("PNG", (600, 200))  # 3:1, so it fills the 1.8 × 0.6 in box
    path.write_bytes(data)
    choose(qtbot, tab, chooser, path)
    assert tab.logo_field.error() == ""
    pixmap = tab.logo_picker.preview.pixmap()
    dpi = tab.logo_picker.logicalDpiX()
    shown = pixmap.deviceIndependentSize()
    assert shown.width() == pytest.approx(1.8 * dpi, abs=1)
    assert shown.height() == pytest.approx(0.6 * dpi, abs=1)
    assert tab.logo_picker.remove_button.isEnabled()
    assert tab.is_dirty() and tab.save_button.isEnabled()

    save(qtbot, tab)
    assert tab.status_label.text() == "✓ Saved."
    assert get_details(clinic.db).logo_png == data
    assert tab.ctx.details.logo_png == data
    assert not tab.save_button.isEnabled()
    entries = list_entries(clinic.db, tab.ctx.actor, AuditFilter(), limit=20)
    assert any(e.entity == "clinic_settings" and "logo_png" in e.fields for e in entries)


def test_remove_logo_and_undo(qtbot, tab, chooser, tmp_path, clinic):
    path = tmp_path / "logo.jpg"
    path.write_bytes(picture("JPEG"))
    choose(qtbot, tab, chooser, path)
    save(qtbot, tab)
    qtbot.mouseClick(tab.logo_picker.remove_button, Qt.MouseButton.LeftButton)
    assert tab.logo_picker.logo() is None and "No logo" in tab.logo_picker.preview.text()
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)  # Undo changes
    assert tab.logo_picker.logo() == path.read_bytes()
    qtbot.mouseClick(tab.logo_picker.remove_button, Qt.MouseButton.LeftButton)
    save(qtbot, tab)
    assert get_details(clinic.db).logo_png is None


def test_cancelling_the_file_dialog_changes_nothing(qtbot, tab, chooser):
    choose(qtbot, tab, chooser, None)
    assert chooser.asked == 1
    assert tab.logo_picker.logo() is None and not tab.save_button.isEnabled()


def _bad_file(tmp_path: Path, case: str) -> Path:
    if case == "missing":
        return tmp_path / "moved-away.png"
    path = tmp_path / {
        "text": "notes.png", "empty": "empty.png", "huge": "poster.png",
        "svg": "logo.svg", "gif": "logo.gif",
    }[case]  # fmt: skip
    content = {
        "text": b"Remember to order gloves.\n" * 40,
        "empty": b"",
        "huge": picture("PNG") + b"\0" * (LOGO_MAX_BYTES + 1_000_000),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "gif": picture("GIF"),
    }[case]
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing", "“moved-away.png” could not be found"),
        ("text", "That file is not a picture CareDesk can print. Choose a PNG or JPEG image."),
        ("empty", "That file is empty. Choose a PNG or JPEG image."),
        ("huge", "“poster.png” is 3.0 MB; a logo can be at most 2 MB"),
        ("svg", "That is an SVG picture, which CareDesk cannot print as the logo. Choose a PNG"),
        ("gif", "That is a GIF picture, which CareDesk cannot print as the logo. Choose a PNG"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_beside_the_field_and_the_old_logo_stays(
    qtbot, tab, chooser, tmp_path, clinic, case, message
):
    good = tmp_path / "good.png"
    good.write_bytes(picture("PNG"))
    choose(qtbot, tab, chooser, good)
    save(qtbot, tab)

    choose(qtbot, tab, chooser, _bad_file(tmp_path, case))
    assert message in tab.logo_field.error()
    assert tab.logo_field.error_label.isVisible()
    assert tab.logo_picker.logo() == good.read_bytes()
    assert not tab.logo_picker.preview.pixmap().isNull()
    assert not tab.save_button.isEnabled()  # nothing changed, nothing to save
    assert tab.logo_picker.choose_button.isEnabled()
    assert get_details(clinic.db).logo_png == good.read_bytes()

    # Choosing a good file next clears the message.
    choose(qtbot, tab, chooser, good)
    assert tab.logo_field.error() == "" and not tab.logo_field.error_label.isVisible()


def test_paper_size_offers_letter_and_a4_and_is_saved(qtbot, tab, clinic):
    combo = tab.form.paper_size_combo
    assert combo.isVisible()
    assert [combo.itemData(i) for i in range(combo.count())] == ["letter", "a4"]
    combo.setCurrentIndex(combo.findData("a4"))
    save(qtbot, tab)
    assert get_details(clinic.db).paper_size == "a4"


def test_logo_buttons_follow_the_idle_lock_in_tab_order(tab):
    def tab_stops(start, count):
        stops, widget = [], start
        while len(stops) < count:
            widget = widget.nextInFocusChain()
            inner = widget.parent() is start  # the spin box's own line edit
            if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.isVisible() and not inner:
                stops.append(widget)
        return stops

    picker = tab.logo_picker
    assert tab_stops(tab.form.idle_lock_spin, 2) == [picker.choose_button, picker.remove_button]
