"""The clinic's letterhead logo: what Settings accepts, what it refuses and why."""

import io
from dataclasses import replace

import pytest
from PIL import Image
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.clinic import ClinicSettings
from app.services.clinic import clinics as clinic_service
from app.services.clinic.clinics import (
    LOGO_BOX_INCHES,
    LOGO_MAX_BYTES,
    check_logo_data,
    logo_print_size,
    read_logo_file,
)
from app.services.clinic.printing import clinic_letterhead
from app.services.errors import ValidationError


def picture(fmt: str, size: tuple[int, int] = (300, 100), color: str = "#1D4E89") -> bytes:
    out = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_files_are_accepted_as_they_are(tmp_path, fmt):
    data = picture(fmt)
    path = tmp_path / f"logo.{fmt.lower()}"
    path.write_bytes(data)
    assert read_logo_file(path) == data


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("notes.png", b"This is a text file someone renamed to .png\n" * 20, "not a picture"),
        ("empty.png", b"", "That file is empty. Choose a PNG or JPEG image."),
        ("logo.svg", SVG, "That is an SVG picture"),
        ("logo.gif", None, "That is a GIF picture"),
        ("logo.bmp", None, "That is a BMP picture"),
        # A PNG whose data stops halfway (a copy that did not finish).
        ("cut.png", None, "That picture is damaged"),
    ],
)  # fmt: skip
def test_files_that_are_not_a_png_or_jpeg_are_refused_with_a_reason(
    tmp_path, name, content, expected
):
    if content is None:
        content = {
            "logo.gif": lambda: picture("GIF"),
            "logo.bmp": lambda: picture("BMP"),
            "cut.png": lambda: picture("PNG", (800, 800))[:60],
        }[name]()
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        read_logo_file(path)
    assert expected in str(caught.value)
    assert caught.value.field == "logo_png"
    if expected.startswith("That is"):
        assert "Choose a PNG or JPEG image" in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValidationError, match=r"“gone\.png” could not be found") as caught:
        read_logo_file(tmp_path / "gone.png")
    assert caught.value.field == "logo_png"


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "logos.png").mkdir()
    with pytest.raises(ValidationError, match="is a folder"):
        read_logo_file(tmp_path / "logos.png")


def test_a_huge_file_is_refused_with_its_size(tmp_path):
    path = tmp_path / "poster.png"
    path.write_bytes(picture("PNG") + b"\0" * (LOGO_MAX_BYTES + 400_000))
    with pytest.raises(ValidationError) as caught:
        read_logo_file(path)
    assert "“poster.png” is 2.4 MB; a logo can be at most 2 MB" in str(caught.value)
    with pytest.raises(ValidationError, match=r"That picture is 2\.4 MB"):
        check_logo_data(path.read_bytes())


def test_print_size_fits_the_letterhead_box_keeping_proportions():
    box_w, box_h = LOGO_BOX_INCHES
    wide_w, wide_h = logo_print_size(picture("PNG", (900, 100)))
    assert wide_w == pytest.approx(box_w) and wide_h == pytest.approx(box_w / 9)
    tall_w, tall_h = logo_print_size(picture("PNG", (100, 200)))
    assert tall_h == pytest.approx(box_h) and tall_w == pytest.approx(box_h / 2)


def test_saved_logo_reaches_the_letterhead_and_the_audit(clinic, owner):
    details = clinic_service.get_details(clinic.db)
    assert details.logo_png is None
    logo = picture("PNG")
    saved = clinic_service.update_details(clinic.db, owner, replace(details, logo_png=logo))
    assert saved.logo_png == logo
    assert clinic_service.get_details(clinic.db).logo_png == logo
    with clinic.db.uow() as session:
        assert clinic_letterhead(session.get(ClinicSettings, 1)).logo_png == logo
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "clinic_settings")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry.action == "update" and entry.fields == "logo_png"
        assert entry.username == "owner"
    clinic_service.update_details(clinic.db, owner, replace(saved, logo_png=None))
    assert clinic_service.get_details(clinic.db).logo_png is None


def test_bad_logo_bytes_are_refused_at_save_and_the_old_logo_is_kept(clinic, owner):
    details = clinic_service.get_details(clinic.db)
    good = picture("JPEG")
    clinic_service.update_details(clinic.db, owner, replace(details, logo_png=good))
    with pytest.raises(ValidationError, match="GIF picture") as caught:
        clinic_service.update_details(clinic.db, owner, replace(details, logo_png=picture("GIF")))
    assert caught.value.field == "logo_png"
    assert clinic_service.get_details(clinic.db).logo_png == good


def test_details_repr_never_dumps_the_logo_bytes():
    details = clinic_service.ClinicDetails(
        name="Bayside", timezone="UTC", logo_png=picture("PNG", (2000, 2000))
    )
    assert "logo" not in repr(details) and len(repr(details)) < 400


def test_a_poster_sized_picture_is_refused_with_its_pixel_size():
    with pytest.raises(ValidationError, match="7000 × 500 pixels; a logo can be at most 6000"):
        check_logo_data(picture("PNG", (7000, 500)))
