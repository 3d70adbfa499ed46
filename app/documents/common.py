"""The look every CareDesk PDF shares.

Each page carries the clinic's header (logo, name, address, phone, email), the
patient banner when the document is about a patient (name, date of birth and
chart number, so a loose page can always be matched), and a footer with the
clinic's privacy line, the print date and "Page N of M".  Text is set in the
bundled DejaVu Sans, embedded in the PDF, so "Zoë Nguyễn" and "Muñoz" print
as written on any printer.

Documents read plain data objects (:class:`ClinicLetterhead`,
:class:`PatientBanner` and their own dataclasses) — never a database session,
never Qt.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, partial
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    TableStyle,
)

from app.clock import utc_now
from app.documents.labels import Translate, gettext_for
from app.i18n import format_date, format_datetime
from app.paths import resource

log = logging.getLogger(__name__)

PaperSize = Literal["letter", "a4"]
PAPER_SIZES: dict[str, tuple[float, float]] = {"letter": LETTER, "a4": A4}

# --- fonts -----------------------------------------------------------------------------------

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_ITALIC = "DejaVuSans-Oblique"
FONT_BOLD_ITALIC = "DejaVuSans-BoldOblique"
FONT_MONO = "DejaVuSansMono"
FONT_MONO_BOLD = "DejaVuSansMono-Bold"

_FONT_FILES = {
    FONT: "DejaVuSans.ttf",
    FONT_BOLD: "DejaVuSans-Bold.ttf",
    FONT_ITALIC: "DejaVuSans-Oblique.ttf",
    FONT_BOLD_ITALIC: "DejaVuSans-BoldOblique.ttf",
    FONT_MONO: "DejaVuSansMono.ttf",
    FONT_MONO_BOLD: "DejaVuSansMono-Bold.ttf",
}
_font_lock = threading.Lock()


def register_fonts() -> None:
    """Register the bundled DejaVu fonts with reportlab (safe to call any number of times)."""
    with _font_lock:
        registered = set(pdfmetrics.getRegisteredFontNames())
        for name, filename in _FONT_FILES.items():
            if name not in registered:
                pdfmetrics.registerFont(TTFont(name, str(resource("fonts", filename))))
        # Families let <b> and <i> inside a Paragraph pick the right face.
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD_ITALIC
        )
        pdfmetrics.registerFontFamily(
            FONT_MONO,
            normal=FONT_MONO,
            bold=FONT_MONO_BOLD,
            italic=FONT_MONO,
            boldItalic=FONT_MONO_BOLD,
        )


# --- plain data the documents read -----------------------------------------------------------


@dataclass(frozen=True)
class ClinicLetterhead:
    """What the clinic prints at the top and bottom of every page (from Settings)."""

    name: str
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    email: str = ""
    logo_png: bytes | None = field(default=None, repr=False)
    privacy_line: str = ""
    paper_size: PaperSize = "letter"
    locale: str = "en_US"
    timezone: str = "America/New_York"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("The clinic needs a name before documents can be printed.")
        if self.paper_size not in PAPER_SIZES:
            raise ValueError(f"Paper size must be 'letter' or 'a4', not {self.paper_size!r}.")
        # Accept a list from callers; keep the dataclass hashable and immutable.
        object.__setattr__(
            self, "address_lines", tuple(line for line in self.address_lines if line.strip())
        )


@dataclass(frozen=True)
class PatientBanner:
    """Who a document is about; printed on every page."""

    name: str
    date_of_birth: date | None = None
    chart_number: str = ""


def check_logo(data: bytes) -> tuple[int, int]:
    """The logo's pixel size; ValueError with a plain message when it is not a picture.

    Settings calls this before saving a logo, so a bad file is refused once,
    not at every print.
    """
    try:
        reader = ImageReader(io.BytesIO(data))
        width, height = reader.getSize()
    except Exception:
        raise ValueError(
            "That file is not a picture CareDesk can print. Choose a PNG or JPEG image."
        ) from None
    if width <= 0 or height <= 0:
        raise ValueError("That picture is empty. Choose a PNG or JPEG image.")
    try:
        # The header alone gave the size; a file cut short fails only when its pixels are read.
        reader.getRGBData()
    except Exception:
        raise ValueError(
            "That picture is damaged (the file may not have finished copying). "
            "Choose a PNG or JPEG image."
        ) from None
    return width, height


def logo_size_on_page(width: int, height: int) -> tuple[float, float]:
    """(width, height) in points a ``width`` × ``height`` pixel logo prints at: scaled into
    the letterhead's logo box, keeping its proportions."""
    scale = min(LOGO_MAX_HEIGHT / height, LOGO_MAX_WIDTH / width)
    return width * scale, height * scale


# --- styles ----------------------------------------------------------------------------------

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#52606D")
RULE = colors.HexColor("#9AA5B1")
TINT = colors.HexColor("#EEF2F6")
ACCENT = colors.HexColor("#1D4E89")


@dataclass(frozen=True)
class DocumentStyles:
    body: ParagraphStyle
    small: ParagraphStyle
    fine: ParagraphStyle
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    label: ParagraphStyle
    value: ParagraphStyle
    mono: ParagraphStyle
    bullet: ParagraphStyle


@cache
def document_styles() -> DocumentStyles:
    """Paragraph styles in DejaVu Sans; every document uses these, never reportlab's Helvetica."""
    register_fonts()
    body = ParagraphStyle(
        "CareDeskBody",
        fontName=FONT,
        fontSize=9.5,
        leading=12.5,
        textColor=INK,
        alignment=TA_LEFT,
        spaceAfter=4,
    )
    return DocumentStyles(
        body=body,
        small=ParagraphStyle("CareDeskSmall", parent=body, fontSize=8.5, leading=11, spaceAfter=2),
        fine=ParagraphStyle(
            "CareDeskFine", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED, spaceAfter=0
        ),
        title=ParagraphStyle(
            "CareDeskTitle",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=18,
            leading=22,
            textColor=ACCENT,
            spaceAfter=2,
        ),
        subtitle=ParagraphStyle(
            "CareDeskSubtitle", parent=body, fontSize=10.5, leading=14, spaceAfter=8
        ),
        heading=ParagraphStyle(
            "CareDeskHeading",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=11,
            leading=14,
            textColor=ACCENT,
            spaceBefore=7,
            spaceAfter=2,
        ),
        label=ParagraphStyle(
            "CareDeskLabel", parent=body, fontSize=8.5, leading=11, textColor=MUTED, spaceAfter=0
        ),
        value=ParagraphStyle("CareDeskValue", parent=body, fontSize=9, leading=11.5, spaceAfter=0),
        mono=ParagraphStyle(
            "CareDeskMono", parent=body, fontName=FONT_MONO, fontSize=9, leading=11.5, spaceAfter=0
        ),
        bullet=ParagraphStyle(
            "CareDeskBullet",
            parent=body,
            leftIndent=12,
            bulletIndent=2,
            bulletFontName=FONT,
            spaceAfter=2,
        ),
    )


def cell_styles(prefix: str, parent: ParagraphStyle, **cell: Any) -> dict[str, ParagraphStyle]:
    """The paragraph styles of a table's cells — plain, bold, right-aligned (bold), and the
    white header row — built on ``parent`` with ``cell``'s overrides (size, leading, …).
    A document adds its own styles beside these; ``prefix`` names them in the PDF."""
    plain = ParagraphStyle(f"{prefix}Cell", parent=parent, **cell)
    head = ParagraphStyle(f"{prefix}Head", parent=plain, fontName=FONT_BOLD, textColor=colors.white)
    return {
        "cell": plain,
        "bold": ParagraphStyle(f"{prefix}Bold", parent=plain, fontName=FONT_BOLD),
        "right": ParagraphStyle(f"{prefix}Right", parent=plain, alignment=TA_RIGHT),
        "right_bold": ParagraphStyle(
            f"{prefix}RightBold", parent=plain, fontName=FONT_BOLD, alignment=TA_RIGHT
        ),
        "head": head,
        "head_right": ParagraphStyle(f"{prefix}HeadRight", parent=head, alignment=TA_RIGHT),
    }


def table_style(*commands: tuple[Any, ...]) -> TableStyle:
    """A TableStyle whose cells default to DejaVu Sans.

    reportlab's tables set Helvetica in every cell, even one holding a
    Paragraph or nothing; Helvetica cannot print "ễ" and is not embedded.
    """
    return TableStyle(
        [("FONTNAME", (0, 0), (-1, -1), FONT), ("TEXTCOLOR", (0, 0), (-1, -1), INK), *commands]
    )


def text(value: str) -> str:
    """Plain text made safe for a Paragraph (which reads a little XML markup)."""
    return escape(value)


# --- "Page N of M" ---------------------------------------------------------------------------

PageNumberPainter = Callable[[Canvas, int, int], None]


class _NumberedCanvas(Canvas):
    """Holds each finished page until the end, when the total page count is known."""

    def __init__(self, *args: Any, page_number_painter: PageNumberPainter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._painter = page_number_painter
        self._pending_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pending_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pending_pages)
        for state in self._pending_pages:
            self.__dict__.update(state)
            self._painter(self, self._pageNumber, total)
            super().showPage()
        super().save()


# --- the page template -----------------------------------------------------------------------

MARGIN = 0.5 * inch
#: The box the clinic's logo is scaled into on the letterhead (points), keeping its proportions.
LOGO_MAX_HEIGHT = 0.6 * inch
LOGO_MAX_WIDTH = 1.8 * inch
_NAME_SIZE = 13.0
_TITLE_SIZE = 11.0
_TITLE_LEADING = 12.5
_LINE_SIZE = 8.5
_LINE_LEADING = 10.5
_BANNER_HEIGHT = 20.0
_GAP = 8.0


def _title_lines(title: str, width: float) -> list[str]:
    """The header's document title in at most two lines of ``width`` (the second cut short)."""
    lines = simpleSplit(title, FONT_BOLD, _TITLE_SIZE, width) or [""]
    if len(lines) <= 2:
        return lines
    rest = " ".join(lines[1:])
    return [lines[0], _fit(rest, FONT_BOLD, _TITLE_SIZE, width)]


def _fit(value: str, font: str, size: float, width: float) -> str:
    """Shorten a one-line text with an ellipsis so it never runs past ``width``."""
    if pdfmetrics.stringWidth(value, font, size) <= width:
        return value
    while value and pdfmetrics.stringWidth(value + "…", font, size) > width:
        value = value[:-1]
    return value.rstrip() + "…"


class ClinicDocTemplate(BaseDocTemplate):
    """A platypus document with the CareDesk header, patient banner and footer on each page.

    Build it like any ``BaseDocTemplate`` (``doc.build(flowables)``), or use
    :func:`render_document`, which returns the PDF bytes.
    """

    def __init__(
        self,
        output: Any,
        letterhead: ClinicLetterhead,
        *,
        title: str,
        locale: str | None = None,
        patient: PatientBanner | None = None,
        printed_at: datetime | None = None,
        subject: str = "",
    ) -> None:
        register_fonts()
        self.letterhead = letterhead
        self.document_title = title
        self.locale = locale or letterhead.locale
        self.patient = patient
        self.printed_at = printed_at or utc_now()
        self.translate: Translate = gettext_for(self.locale)
        self._logo = self._load_logo(letterhead.logo_png)
        page_width, page_height = PAPER_SIZES[letterhead.paper_size]
        content_width = page_width - 2 * MARGIN

        self._header_height = self._measure_header()
        self._banner_height = _BANNER_HEIGHT + 6 if patient else 0.0
        self._privacy = self._privacy_paragraph()
        self._privacy_width = content_width * 0.66
        privacy_height = self._privacy.wrap(self._privacy_width, page_height)[1]
        self._footer_height = max(privacy_height, 2 * _LINE_LEADING) + 8

        super().__init__(
            output,
            pagesize=(page_width, page_height),
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + self._header_height + _GAP + self._banner_height,
            bottomMargin=MARGIN + self._footer_height + _GAP,
            title=title,
            author=letterhead.name,
            subject=subject,
            creator="CareDesk",
            # Without this every page would reference Helvetica, a font that cannot print "ễ".
            initialFontName=FONT,
            lang=self.locale.replace("_", "-"),
        )
        body = Frame(
            self.leftMargin,
            self.bottomMargin,
            self.width,
            self.height,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate(id="page", frames=[body], onPage=self._draw_page)])

    # -- building --

    def build(self, flowables: list[Flowable], **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.setdefault(
            "canvasmaker", partial(_NumberedCanvas, page_number_painter=self._draw_page_number)
        )
        super().build(flowables, **kwargs)

    # -- measuring --

    @staticmethod
    def _load_logo(data: bytes | None) -> tuple[ImageReader, float, float] | None:
        if not data:
            return None
        try:
            width, height = check_logo(data)
        except ValueError:
            # Settings refuses bad logos; one that slipped through must not stop printing.
            log.warning("clinic logo is not a readable image; printing without it")
            return None
        return ImageReader(io.BytesIO(data)), *logo_size_on_page(width, height)

    def _contact_line(self) -> str:
        _ = self.translate
        parts = []
        if self.letterhead.phone:
            parts.append(_("Phone") + " " + self.letterhead.phone)
        if self.letterhead.email:
            parts.append(self.letterhead.email)
        return "   ·   ".join(parts)

    def _text_lines(self) -> list[str]:
        lines = list(self.letterhead.address_lines)
        contact = self._contact_line()
        if contact:
            lines.append(contact)
        return lines

    def _text_left(self) -> float:
        """Where the clinic's name and address start: after the logo, if there is one."""
        return MARGIN + (self._logo[1] + 12 if self._logo else 0.0)

    def _header_title_lines(self, available: float) -> list[str]:
        """The document title's lines in the header, beside ``available`` points of text."""
        name_natural = pdfmetrics.stringWidth(self.letterhead.name, FONT_BOLD, _NAME_SIZE)
        # The clinic's name comes first; the title wraps in what is left (at least 30%).
        title_column = max(available * 0.30, available - name_natural - 18)
        return _title_lines(self.document_title, title_column)

    def _measure_header(self) -> float:
        text_height = _NAME_SIZE + 4 + _LINE_LEADING * len(self._text_lines())
        logo_height = self._logo[2] if self._logo else 0.0
        available = PAPER_SIZES[self.letterhead.paper_size][0] - MARGIN - self._text_left()
        title_rows = len(self._header_title_lines(available))
        title_height = _NAME_SIZE + (title_rows - 1) * _TITLE_LEADING + 4
        return max(text_height, logo_height, title_height)

    def _privacy_paragraph(self) -> Paragraph:
        _ = self.translate
        line = self.letterhead.privacy_line or _(
            "Confidential patient information, handled under the clinic's privacy policy."
        )
        return Paragraph(text(line), document_styles().fine)

    # -- drawing --

    def _draw_page(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        self._draw_header(canvas)
        if self.patient:
            self._draw_banner(canvas)
        self._draw_footer(canvas)
        canvas.restoreState()

    def _draw_header(self, canvas: Canvas) -> None:
        page_width, page_height = self.pagesize
        top = page_height - MARGIN
        right = page_width - MARGIN
        if self._logo:
            image, width, height = self._logo
            canvas.drawImage(
                image, MARGIN, top - height, width, height, mask="auto", preserveAspectRatio=True
            )
        left = self._text_left()

        # The document's title sits at the right of the clinic's name.  A long title (Spanish
        # ones are) beside a wide logo wraps onto a second line rather than being cut short;
        # the name keeps what the title leaves, and lines beside the title stop short of it.
        available = right - left
        title_lines = self._header_title_lines(available)
        title_width = max(
            pdfmetrics.stringWidth(line, FONT_BOLD, _TITLE_SIZE) for line in title_lines
        )
        canvas.setFillColor(ACCENT)
        canvas.setFont(FONT_BOLD, _TITLE_SIZE)
        for row, line in enumerate(title_lines):
            canvas.drawRightString(right, top - _NAME_SIZE - row * _TITLE_LEADING, line)
        beside_title = available - title_width - 18
        title_bottom = top - _NAME_SIZE - (len(title_lines) - 1) * _TITLE_LEADING - 3

        canvas.setFillColor(INK)
        canvas.setFont(FONT_BOLD, _NAME_SIZE)
        canvas.drawString(
            left,
            top - _NAME_SIZE,
            _fit(self.letterhead.name, FONT_BOLD, _NAME_SIZE, beside_title),
        )
        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, _LINE_SIZE)
        y = top - _NAME_SIZE - 4
        for line in self._text_lines():
            y -= _LINE_LEADING
            width = beside_title if y + _LINE_SIZE > title_bottom else available
            canvas.drawString(left, y, _fit(line, FONT, _LINE_SIZE, width))

        rule_y = top - self._header_height - _GAP / 2
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.75)
        canvas.line(MARGIN, rule_y, right, rule_y)

    def _draw_banner(self, canvas: Canvas) -> None:
        assert self.patient is not None
        _ = self.translate
        page_width, page_height = self.pagesize
        top = page_height - MARGIN - self._header_height - _GAP
        bottom = top - _BANNER_HEIGHT
        width = page_width - 2 * MARGIN
        canvas.setFillColor(TINT)
        canvas.setStrokeColor(TINT)
        canvas.roundRect(MARGIN, bottom, width, _BANNER_HEIGHT, 3, stroke=0, fill=1)

        fields = [(_("Patient"), self.patient.name)]
        if self.patient.date_of_birth:
            dob = format_date(self.patient.date_of_birth, self.locale, "medium")
            fields.append((_("Date of birth"), dob))
        if self.patient.chart_number:
            fields.append((_("Chart no."), self.patient.chart_number))

        # Date of birth and chart number keep their full width at the right; the name
        # takes what is left (shortened with an ellipsis only when it must be).
        baseline = bottom + (_BANNER_HEIGHT - 9) / 2 + 1.5
        x_right = MARGIN + width - 8
        for label, value in reversed(fields[1:]):
            x_right -= self._draw_banner_field(canvas, label, value, x_right, baseline, None)
            x_right -= 18
        label, value = fields[0]
        self._draw_banner_field(canvas, label, value, None, baseline, x_right - MARGIN - 8)

    @staticmethod
    def _draw_banner_field(
        canvas: Canvas,
        label: str,
        value: str,
        right: float | None,
        baseline: float,
        max_width: float | None,
    ) -> float:
        """Draw ``label: value`` ending at ``right`` (or at the left margin); return its width."""
        label_text = label + ": "
        label_width = pdfmetrics.stringWidth(label_text, FONT, 8.5)
        if max_width is not None:
            value = _fit(value, FONT_BOLD, 9, max_width - label_width)
        total = label_width + pdfmetrics.stringWidth(value, FONT_BOLD, 9)
        x = MARGIN + 8 if right is None else right - total
        canvas.setFont(FONT, 8.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(x, baseline, label_text)
        canvas.setFont(FONT_BOLD, 9)
        canvas.setFillColor(INK)
        canvas.drawString(x + label_width, baseline, value)
        return total

    def _draw_footer(self, canvas: Canvas) -> None:
        _ = self.translate
        page_width, _height = self.pagesize
        right = page_width - MARGIN
        top = MARGIN + self._footer_height
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.75)
        canvas.line(MARGIN, top, right, top)
        privacy_height = self._privacy.wrap(self._privacy_width, self._footer_height)[1]
        self._privacy.drawOn(canvas, MARGIN, top - 5 - privacy_height)

        printed = format_datetime(self.printed_at, self.letterhead.timezone, self.locale)
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawRightString(
            right, top - 5 - 2 * _LINE_LEADING + 2, _("Printed %(when)s") % {"when": printed}
        )

    def _draw_page_number(self, canvas: Canvas, page: int, pages: int) -> None:
        _ = self.translate
        page_width, _height = self.pagesize
        canvas.saveState()
        canvas.setFont(FONT_BOLD, 8.5)
        canvas.setFillColor(INK)
        canvas.drawRightString(
            page_width - MARGIN,
            MARGIN + self._footer_height - 5 - _LINE_LEADING + 2,
            _("Page %(page)s of %(pages)s") % {"page": page, "pages": pages},
        )
        canvas.restoreState()


def render_document(
    letterhead: ClinicLetterhead,
    flowables: Sequence[Flowable],
    *,
    title: str,
    locale: str | None = None,
    patient: PatientBanner | None = None,
    printed_at: datetime | None = None,
    subject: str = "",
) -> bytes:
    """Lay out ``flowables`` with the common look and return the finished PDF."""
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        letterhead,
        title=title,
        locale=locale,
        patient=patient,
        printed_at=printed_at,
        subject=subject,
    )
    doc.build(list(flowables))
    return buffer.getvalue()
