"""The referral packet: the referral letter, then what goes with it — the consultation notes
picked from the record, printed in full, and the stored scans and photos picked, each on a
page of its own — as one PDF to fax, e-mail or print.

Stored PDFs cannot be laid into a reportlab document page by page (that needs a PDF reader
such as pypdf at run time, which CareDesk does not ship): each is listed on an
"Enclosed separately" page, by name, date and page count, to be printed from the patient's
documents and sent with the packet.  Built by ``app.services.referrals.packets``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date

from PIL import Image as PILImage
from reportlab.platypus import Flowable, Image, KeepTogether, PageBreak, Paragraph, Spacer

from app.documents.common import ClinicDocTemplate, document_styles, text
from app.documents.labels import N_, Translate, gettext_for
from app.documents.referral_letter import ReferralLetter, letter_styles, referral_letter_story
from app.i18n import format_date

__all__ = [
    "NoteEnclosure",
    "PacketEnclosure",
    "ReferralPacket",
    "build_referral_packet",
]


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
    """One record sent with the referral: a note, an image, or a stored PDF (listed)."""

    title: str
    on: date | None
    #: "note", "image" or "pdf".
    kind: str
    note: NoteEnclosure | None = None
    #: PNG or JPEG bytes of an image.
    image: bytes = b""


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


def _story(packet: ReferralPacket, width: float, height: float) -> list[Flowable]:
    locale = packet.letter.locale
    _ = gettext_for(locale)
    base = document_styles()
    st = letter_styles()
    story = referral_letter_story(packet.letter, width)
    printed = [e for e in packet.enclosures if e.kind in ("note", "image")]
    separate = [e for e in packet.enclosures if e.kind == "pdf"]
    count = len(printed)
    for number, item in enumerate(printed, start=1):
        story.append(PageBreak())
        heading = Paragraph(text(_heading(number, count, item, locale, _)), base.title)
        if item.kind == "note":
            story.append(heading)
            story += _note_flowables(item, locale, _)
        else:
            # The picture fills what is left of the page under its heading.
            story.append(
                KeepTogether(
                    [heading, Spacer(1, 6), _image_flowable(item.image, width, height - 60)]
                )
            )
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
        for item in separate:
            story.append(Paragraph(text(_title(item, locale, _)), st["bullet"], bulletText="•"))
    return story


def packet_records(packet: ReferralPacket, locale: str) -> tuple[str, ...]:
    """The letter's "Enclosed records" lines for the packet's enclosures (then the
    letter's own list of other records)."""
    _ = gettext_for(locale)
    lines = tuple(_title(item, locale, _) for item in packet.enclosures)
    return lines + packet.letter.attached_records


def build_referral_packet(packet: ReferralPacket) -> bytes:
    """The packet PDF: the letter (listing every enclosure), then each note and image on
    its own page(s), then the list of stored PDFs sent separately."""
    letter = replace(packet.letter, attached_records=packet_records(packet, packet.letter.locale))
    packet = replace(packet, letter=letter)
    _ = gettext_for(letter.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        letter.letterhead,
        title=_("Referral letter"),
        locale=letter.locale,
        patient=letter.patient,
        printed_at=letter.printed_at,
        subject=_("Referral of %(name)s") % {"name": letter.patient.name},
    )
    doc.build(_story(packet, doc.width, doc.height))
    return buffer.getvalue()
