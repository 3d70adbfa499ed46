"""The referral packet: the referral letter, then what goes with it — the consultation notes
picked from the record, printed in full, the stored scans and photos picked, each on a
page of its own, and the stored PDFs picked, each behind a page naming it — as one PDF to
fax, e-mail or print.

A stored PDF goes in as it is (pypdf copies its pages; nothing is drawn again), however
long, each of its pages stamped at the foot with the patient, the enclosure and the
packet's page number so that a loose page finds its patient.  One that cannot be opened
(protected by a password, damaged) is listed on an "Enclosed separately" page with the
reason, to be printed from the patient's documents and sent with the packet.  Everything
happens in memory: no page of the record is written to a file on the way.  Built by
``app.services.referrals.packets``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field, replace
from datetime import date

from PIL import Image as PILImage
from pypdf import PdfReader, PdfWriter, Transformation
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Image, KeepTogether, PageBreak, Paragraph, Spacer

from app.documents.common import (
    FONT,
    ClinicDocTemplate,
    PatientBanner,
    document_styles,
    register_fonts,
    text,
)
from app.documents.labels import N_, Translate, gettext_for
from app.documents.referral_letter import ReferralLetter, letter_styles, referral_letter_story
from app.i18n import format_date

__all__ = [
    "NoteEnclosure",
    "PacketEnclosure",
    "ReferralPacket",
    "build_referral_packet",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoteEnclosure:
    """A signed consultation note, as the packet prints it."""

    consulted_on: date
    provider_name: str = ""
    #: (heading, text) pairs; the headings are message ids translated when printed.
    sections: tuple[tuple[str, str], ...] = ()
    signed_by: str = ""
    signed_on: date | None = None
    addenda: tuple[str, ...] = ()


@dataclass(frozen=True)
class PacketEnclosure:
    """One record sent with the referral: a note, an image, or a stored PDF."""

    title: str
    on: date | None
    #: "note", "image" or "pdf".
    kind: str
    note: NoteEnclosure | None = None
    #: PNG or JPEG bytes of an image.
    image: bytes = b""
    #: The bytes of a stored PDF, copied into the packet page by page.
    pdf: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class ReferralPacket:
    letter: ReferralLetter
    enclosures: tuple[PacketEnclosure, ...] = ()


#: Headings of a note's parts (the service passes these msgids; printed translated).
NOTE_HEADINGS = (
    N_("Reason for the consultation"),
    N_("Treatments discussed"),
    N_("Options and costs"),
    N_("Patient's questions"),
    N_("Notes"),
)

#: Why a stored PDF could not go into the packet (msgids, printed translated).
PASSWORD_PROTECTED = N_("could not be opened: protected by a password")
DAMAGED = N_("could not be opened: the file is damaged")


# --- stored PDFs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenedPdf:
    """A stored PDF read into memory: its pages ready to copy, or why it cannot be."""

    pages: PdfWriter | None
    problem: str = ""


def _open_pdf(data: bytes) -> _OpenedPdf:
    """Every page of ``data`` copied into a writer of its own — which reads each object the
    pages use, so a damaged file fails here, before the packet is laid out around it."""
    try:
        reader = PdfReader(io.BytesIO(data))
        # A file with only an owner's password (no printing or copying "allowed") opens
        # with the empty password, as in any PDF reader; one that asks for a password does not.
        if reader.is_encrypted and not reader.decrypt(""):
            return _OpenedPdf(None, PASSWORD_PROTECTED)
        pages = PdfWriter()
        pages.append(reader, import_outline=False)
        if not pages.pages:
            return _OpenedPdf(None, DAMAGED)
    except Exception as error:  # pypdf raises many kinds on a broken file; all mean the same
        # No file name: it may name the patient.
        log.warning("a stored PDF could not be read for a referral packet: %s", type(error))
        return _OpenedPdf(None, DAMAGED)
    return _OpenedPdf(pages)


# --- the story --------------------------------------------------------------------------------


def _note_flowables(item: PacketEnclosure, locale: str, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = letter_styles()
    note = item.note
    assert note is not None
    story: list[Flowable] = []
    facts = [_("Consultation on %(date)s") % {"date": format_date(note.consulted_on, locale)}]
    if note.provider_name:
        facts.append(_("with %(name)s") % {"name": note.provider_name})
    story.append(Paragraph(text(", ".join(facts)), st["body"]))
    for heading, body in note.sections:
        if not body.strip():
            continue
        story.append(Paragraph(text(_(heading)), base.heading))
        story.append(
            Paragraph("<br/>".join(text(line) for line in body.strip().splitlines()), st["body"])
        )
    for addendum in note.addenda:
        story.append(Paragraph(text(_("Addendum")), base.heading))
        story.append(
            Paragraph("<br/>".join(text(ln) for ln in addendum.strip().splitlines()), st["body"])
        )
    if note.signed_by:
        signed = _("Signed by %(name)s") % {"name": note.signed_by}
        if note.signed_on is not None:
            signed += " · " + format_date(note.signed_on, locale)
        story.append(Spacer(1, 6))
        story.append(Paragraph(text(signed), base.small))
    return story


def _image_flowable(data: bytes, width: float, height: float) -> Flowable:
    with PILImage.open(io.BytesIO(data)) as picture:
        w, h = picture.size
    # A small scan is enlarged to the page, but no more than three times (it would blur).
    scale = min(width / w, height / h, 3.0)
    return Image(io.BytesIO(data), width=w * scale, height=h * scale)


def _title(item: PacketEnclosure, locale: str, _: Translate) -> str:
    """ "panoramic.png (Nov 19, 2026)"; a note is named in the packet's language."""
    title = item.title
    if item.kind == "note" and item.note is not None:
        title = _("Consultation note")
        if item.note.provider_name:
            title += f", {item.note.provider_name}"
    if item.on is not None:
        title += f" ({format_date(item.on, locale)})"
    return title


def _heading(number: int, count: int, item: PacketEnclosure, locale: str, _: Translate) -> str:
    return _("Enclosure %(number)s of %(count)s: %(title)s") % {
        "number": number,
        "count": count,
        "title": _title(item, locale, _),
    }


class _PageMark(Flowable):
    """Takes no room; notes the page it lands on (a stored PDF's pages go in after it)."""

    def __init__(self, marks: dict[int, int], key: int) -> None:
        super().__init__()
        self._marks = marks
        self._key = key

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self._marks[self._key] = self.canv.getPageNumber()


@dataclass
class _Layout:
    """Which enclosures go into the packet, numbered, and where each stored PDF's pages go."""

    packet: ReferralPacket
    #: enclosure index → its stored PDF, opened (readable or not).
    opened: dict[int, _OpenedPdf]
    #: enclosure index → the packet's own page (1-based) its PDF's pages follow; set as
    #: the packet's own pages are laid out.
    marks: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, packet: ReferralPacket) -> _Layout:
        enclosures = enumerate(packet.enclosures)
        return cls(packet, {index: _open_pdf(e.pdf) for index, e in enclosures if e.kind == "pdf"})

    def enclosed(self) -> list[int]:
        """The enclosures in the packet itself, in order (a PDF that opens, or not a PDF)."""
        return [
            index
            for index, item in enumerate(self.packet.enclosures)
            if item.kind != "pdf" or self.opened[index].pages is not None
        ]

    def separate(self) -> list[tuple[PacketEnclosure, str]]:
        """The stored PDFs that cannot be opened, each with why (a msgid)."""
        return [
            (self.packet.enclosures[index], pdf.problem)
            for index, pdf in self.opened.items()
            if pdf.pages is None
        ]

    def inserted(self) -> dict[int, int]:
        """enclosure index → how many pages of its stored PDF go in."""
        return {
            index: len(pdf.pages.pages)
            for index, pdf in self.opened.items()
            if pdf.pages is not None
        }

    def packet_page(self, own_page: int) -> int:
        """The packet's page number of its own page ``own_page``."""
        return own_page + sum(
            count for index, count in self.inserted().items() if self.marks[index] < own_page
        )


def _story(layout: _Layout, width: float, height: float) -> list[Flowable]:
    packet = layout.packet
    locale = packet.letter.locale
    _ = gettext_for(locale)
    base = document_styles()
    st = letter_styles()
    story = referral_letter_story(packet.letter, width)
    enclosed = layout.enclosed()
    for number, index in enumerate(enclosed, start=1):
        item = packet.enclosures[index]
        story.append(PageBreak())
        heading = Paragraph(text(_heading(number, len(enclosed), item, locale, _)), base.title)
        if item.kind == "note":
            story.append(heading)
            story += _note_flowables(item, locale, _)
        elif item.kind == "pdf":
            # A page naming the document; its own pages, as stored, go in after it.
            pages = layout.inserted()[index]
            story.append(heading)
            story.append(
                Paragraph(text(_("Pages that follow: %(pages)s") % {"pages": pages}), st["body"])
            )
            story.append(_PageMark(layout.marks, index))
        else:
            # The picture fills what is left of the page under its heading.
            story.append(
                KeepTogether(
                    [heading, Spacer(1, 6), _image_flowable(item.image, width, height - 60)]
                )
            )
    separate = layout.separate()
    if separate:
        story.append(PageBreak())
        story.append(Paragraph(text(_("Enclosed separately")), base.title))
        story.append(
            Paragraph(
                text(
                    _("These documents are sent with this packet as separate files or printouts:")
                ),
                st["body"],
            )
        )
        for item, problem in separate:
            reason = _(problem)
            line = f"{_title(item, locale, _)} — {reason}"
            story.append(Paragraph(text(line), st["bullet"], bulletText="•"))
    return story


def packet_records(packet: ReferralPacket, locale: str) -> tuple[str, ...]:
    """The letter's "Enclosed records" lines for the packet's enclosures (then the
    letter's own list of other records)."""
    _ = gettext_for(locale)
    lines = tuple(_title(item, locale, _) for item in packet.enclosures)
    return lines + packet.letter.attached_records


class _PacketDocTemplate(ClinicDocTemplate):
    """The clinic's page, numbered as pages of the whole packet (stored PDFs included)."""

    def __init__(self, *args, layout: _Layout, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layout = layout

    def _draw_page_number(self, canvas: Canvas, page: int, pages: int) -> None:
        # Called once every page is laid out, when each PDF's place is known.
        extra = sum(self.layout.inserted().values())
        super()._draw_page_number(canvas, self.layout.packet_page(page), pages + extra)


# --- the stamp on a stored PDF's pages --------------------------------------------------------

_STAMP_SIZE = 7.0
_STAMP_INK = Color(0.2, 0.2, 0.2)


def _stamp_line(
    patient: PatientBanner | None, heading: str, page: int, pages: int, _: Translate
) -> str:
    parts = []
    if patient is not None:
        label = _("Patient")
        parts.append(f"{label}: {patient.name}")
        if patient.chart_number:
            label = _("Chart no.")
            parts.append(f"{label} {patient.chart_number}")
    parts.append(heading)
    parts.append(_("Page %(page)s of %(pages)s") % {"page": page, "pages": pages})
    return " · ".join(parts)


def _stamps(lines: list[tuple[str, float, float]]) -> PdfReader:
    """One page per (text, width, height): the text at the foot of a page that size."""
    register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, initialFontName=FONT)
    for line, width, height in lines:
        canvas.setPageSize((width, height))
        size = _STAMP_SIZE
        room = width - 24
        # A narrow page gets smaller type, then (no smaller than 4.5 pt) a shortened line.
        while size > 4.5 and pdfmetrics.stringWidth(line, FONT, size) > room:
            size -= 0.5
        while len(line) > 1 and pdfmetrics.stringWidth(line, FONT, size) > room:
            line = line[:-2] + "…"
        canvas.setFont(FONT, size)
        canvas.setFillColor(_STAMP_INK)
        canvas.drawCentredString(width / 2, 9, line)
        canvas.showPage()
    canvas.save()
    return PdfReader(io.BytesIO(buffer.getvalue()))


def _insert_pdfs(own: bytes, layout: _Layout) -> bytes:
    """The packet's own pages with each stored PDF's pages after the page naming it, each
    stamped at its foot (the stored page itself is copied, not drawn again)."""
    inserted = layout.inserted()
    if not inserted:
        return own
    packet = layout.packet
    locale = packet.letter.locale
    _ = gettext_for(locale)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(own)))
    total = len(writer.pages) + sum(inserted.values())
    enclosed = layout.enclosed()
    added = []
    offset = 0
    for index in sorted(inserted, key=lambda key: layout.marks[key]):
        source = layout.opened[index].pages
        assert source is not None
        at = layout.marks[index] + offset  # 0-based: right after the page naming it
        number = enclosed.index(index) + 1
        heading = _heading(number, len(enclosed), packet.enclosures[index], locale, _)
        for n, page in enumerate(source.pages):
            copied = writer.insert_page(page, at + n)
            # A turned page is stamped the way it is read: its turn goes into the content.
            if copied.rotation:
                copied.transfer_rotation_to_content()
            line = _stamp_line(packet.letter.patient, heading, at + n + 1, total, _)
            added.append((copied, line))
        offset += len(source.pages)
    boxes = [(line, float(page.cropbox.width), float(page.cropbox.height)) for page, line in added]
    for (copied, _line), stamp in zip(added, _stamps(boxes).pages, strict=True):
        box = copied.cropbox
        copied.merge_transformed_page(
            stamp, Transformation().translate(float(box.left), float(box.bottom))
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_referral_packet(packet: ReferralPacket) -> bytes:
    """The packet PDF: the letter (listing every enclosure), then each note and image on
    its own page(s) and each stored PDF's own pages behind a page naming it, then the
    stored PDFs that cannot be opened, listed with why, to be sent separately."""
    letter = replace(packet.letter, attached_records=packet_records(packet, packet.letter.locale))
    layout = _Layout.of(replace(packet, letter=letter))
    _ = gettext_for(letter.locale)
    buffer = io.BytesIO()
    doc = _PacketDocTemplate(
        buffer,
        letter.letterhead,
        title=_("Referral letter"),
        locale=letter.locale,
        patient=letter.patient,
        printed_at=letter.printed_at,
        subject=_("Referral of %(name)s") % {"name": letter.patient.name},
        layout=layout,
    )
    doc.build(_story(layout, doc.width, doc.height))
    return _insert_pdfs(buffer.getvalue(), layout)
