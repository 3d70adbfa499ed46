"""The consent form printed for a wet signature.

In the common look (letterhead, patient banner, "Page N of M"): the title, the body
with its placeholders already filled by ``app.services.patients.consents``, the risks and the
alternatives under their own headings (unless the body already shows them), then the
signature block — patient or representative signature, printed name, date,
relationship, witness signature, name and date — kept together on one page.  A long
body flows across pages.  The small print at the end names the template and version,
so a signed paper copy can be matched to its wording.

A consent signed on screen (``ConsentForm.signature`` set) prints the same wording with
the signature block filled in: the captured signature image on the signature line, the
date and time signed, the signer's printed name and relationship to the patient, and the
witness.  No session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    INK,
    MUTED,
    ClinicDocTemplate,
    ClinicLetterhead,
    PatientBanner,
    document_styles,
    table_style,
    text,
)
from app.documents.labels import Translate, gettext_for
from app.i18n import format_datetime

__all__ = ["SIGNER_RELATIONSHIPS", "ConsentForm", "ConsentSignature", "build_consent"]

#: Who may sign a consent, as stored (``stored_documents.signer_relationship``) → printed.
SIGNER_RELATIONSHIPS: dict[str, str] = {
    "self": "The patient",
    "parent_or_guardian": "Parent or legal guardian",
    "legal_representative": "Legal representative",
}

#: The signature prints at most this large on its line (about 2.6 × 0.8 inches).
_SIGNATURE_MAX_WIDTH = 2.6 * inch
_SIGNATURE_MAX_HEIGHT = 0.8 * inch


@dataclass(frozen=True)
class ConsentSignature:
    """A signature captured on screen, and who signed and witnessed it."""

    #: The signature as a PNG (ink on white or transparent), already checked by the service.
    png: bytes
    signer_name: str
    #: A key of :data:`SIGNER_RELATIONSHIPS`.
    relationship: str
    #: UTC-aware; printed in the clinic's time zone.
    signed_at: datetime
    witness_name: str


@dataclass(frozen=True)
class ConsentForm:
    """Everything a printed consent shows.

    Built by ``app.services.patients.consents.consent_data``.
    """

    letterhead: ClinicLetterhead
    patient: PatientBanner
    #: The document's locale (the wording's language in the clinic's country: ``es_US``).
    locale: str
    template_key: str
    version: int
    language: str
    #: Title and body with the placeholders filled.
    title: str
    body: str
    #: Printed under their own headings; empty when absent or already in the body.
    risks: str = ""
    alternatives: str = ""
    printed_at: datetime | None = None
    #: Set for a consent signed on screen: the signature block prints filled in.
    signature: ConsentSignature | None = None


def _paragraphs(value: str, style: ParagraphStyle) -> list[Flowable]:
    """Blank lines separate paragraphs; a single line break stays a line break."""
    blocks = [block.strip() for block in value.replace("\r\n", "\n").split("\n\n")]
    return [
        Paragraph("<br/>".join(text(line) for line in block.split("\n")), style)
        for block in blocks
        if block
    ]


def _styles() -> dict[str, ParagraphStyle]:
    base = document_styles()
    return {
        "body": ParagraphStyle(
            "ConsentBody", parent=base.body, fontSize=10, leading=13, spaceAfter=5
        ),
        "line_label": ParagraphStyle(
            "ConsentLineLabel",
            parent=base.body,
            fontSize=8,
            leading=10,
            textColor=MUTED,
            spaceAfter=0,
        ),
        "filled": ParagraphStyle(
            "ConsentFilled", parent=base.body, fontSize=10, leading=12.5, spaceAfter=0
        ),
        "affirm": ParagraphStyle(
            "ConsentAffirm",
            parent=base.body,
            fontSize=9.5,
            leading=12.5,
            spaceBefore=4,
            spaceAfter=4,
        ),
    }


def _signature_block(width: float, st: dict[str, ParagraphStyle], _: Translate) -> Table:
    """Writing lines with their labels under them: two columns, the date narrower."""
    wide, narrow = width * 0.64, width * 0.32
    gap = width - wide - narrow

    def label(message: str) -> Paragraph:
        return Paragraph(text(message), st["line_label"])

    rows = [
        ["", "", ""],
        [label(_("Signature of patient or legal representative")), "", label(_("Date signed"))],
        ["", "", ""],
        [
            label(_("Name of patient or legal representative (print)")),
            "",
            label(_("Relationship to the patient, if signing for them")),
        ],
        ["", "", ""],
        [label(_("Signature of witness")), "", label(_("Witness date"))],
        ["", "", ""],
        [label(_("Name of witness (print)")), "", ""],
    ]
    line_rows = [0, 2, 4, 6]
    commands: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
    ]
    for row in line_rows:
        commands.append(("LINEBELOW", (0, row), (0, row), 0.8, INK))
        if row != 6:  # the witness's name line has no date beside it
            commands.append(("LINEBELOW", (2, row), (2, row), 0.8, INK))
    return Table(
        rows,
        colWidths=[wide, gap, narrow],
        rowHeights=[22, None, 22, None, 22, None, 22, None],
        style=table_style(*commands),
        hAlign="LEFT",
    )


def _relationship_label(relationship: str, _: Translate) -> str:
    # The msgids are written out so pybabel extracts them.
    labels = {
        "self": _("The patient"),
        "parent_or_guardian": _("Parent or legal guardian"),
        "legal_representative": _("Legal representative"),
    }
    return labels.get(relationship, relationship)


def _signature_image(png: bytes) -> Image:
    """The signature scaled to fit its line, keeping its proportions."""
    pixel_width, pixel_height = ImageReader(io.BytesIO(png)).getSize()
    scale = min(_SIGNATURE_MAX_WIDTH / pixel_width, _SIGNATURE_MAX_HEIGHT / pixel_height)
    image = Image(io.BytesIO(png), width=pixel_width * scale, height=pixel_height * scale)
    image.hAlign = "LEFT"
    return image


def _signed_block(
    form: ConsentForm,
    signature: ConsentSignature,
    width: float,
    st: dict[str, ParagraphStyle],
    _: Translate,
) -> Table:
    """The signature block filled in: the signature on its line, then names and dates."""
    wide, narrow = width * 0.64, width * 0.32
    gap = width - wide - narrow
    # The medium date fits the narrow column in either language ("4 dic 2026, 9:56 p.m.").
    when = format_datetime(
        signature.signed_at, form.letterhead.timezone, form.locale, "medium", "short"
    )

    def label(message: str) -> Paragraph:
        return Paragraph(text(message), st["line_label"])

    def value(content: str) -> Paragraph:
        return Paragraph(text(content), st["filled"])

    rows = [
        [_signature_image(signature.png), "", value(when)],
        [
            label(_("Signature of patient or legal representative")),
            "",
            label(_("Date and time signed")),
        ],
        [
            value(signature.signer_name),
            "",
            value(_relationship_label(signature.relationship, _)),
        ],
        [
            label(_("Name of patient or legal representative (print)")),
            "",
            label(_("Relationship to the patient")),
        ],
        [value(signature.witness_name), "", value(when)],
        [label(_("Name of witness (print)")), "", label(_("Witness date"))],
    ]
    commands: list[tuple] = [
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
    ]
    for row in (0, 2, 4):
        commands.append(("LINEBELOW", (0, row), (0, row), 0.8, INK))
        commands.append(("LINEBELOW", (2, row), (2, row), 0.8, INK))
        commands.append(("TOPPADDING", (0, row), (-1, row), 10))
    return Table(
        rows,
        colWidths=[wide, gap, narrow],
        style=table_style(*commands),
        hAlign="LEFT",
    )


def _story(form: ConsentForm, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    story: list[Flowable] = [Paragraph(text(form.title), base.title), Spacer(1, 8)]
    story += _paragraphs(form.body, st["body"])
    if form.risks.strip():
        story.append(Paragraph(text(_("Risks")), base.heading))
        story += _paragraphs(form.risks, st["body"])
    if form.alternatives.strip():
        story.append(Paragraph(text(_("Alternatives")), base.heading))
        story += _paragraphs(form.alternatives, st["body"])
    affirm = _(
        "By signing, I confirm that I have read this form (or had it read to me), that I "
        "understand it, and that my questions have been answered."
    )
    story.append(Spacer(1, 8))
    signature = form.signature
    block = (
        _signature_block(width, st, _)
        if signature is None
        else _signed_block(form, signature, width, st, _)
    )
    evidence: list[Flowable] = []
    if signature is not None:
        when = format_datetime(
            signature.signed_at, form.letterhead.timezone, form.locale, "long", "short"
        )
        evidence.append(
            Paragraph(
                text(
                    _("Signed on screen at %(clinic)s on %(when)s, witnessed by %(witness)s.")
                    % {
                        "clinic": form.letterhead.name,
                        "when": when,
                        "witness": signature.witness_name,
                    }
                ),
                base.fine,
            )
        )
    story.append(
        KeepTogether(
            [
                Paragraph(text(_("Signatures")), base.heading),
                Paragraph(text(affirm), st["affirm"]),
                block,
                Spacer(1, 6),
                *evidence,
                Paragraph(
                    text(
                        _("Form %(key)s, version %(version)s (%(language)s)")
                        % {
                            "key": form.template_key,
                            "version": form.version,
                            "language": form.language,
                        }
                    ),
                    base.fine,
                ),
            ]
        )
    )
    return story


def build_consent(form: ConsentForm) -> bytes:
    """The consent PDF, in ``form.locale`` and the clinic's paper size; signed when
    ``form.signature`` is set, else with blank lines for a wet signature."""
    _ = gettext_for(form.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        form.letterhead,
        title=form.title,
        locale=form.locale,
        patient=form.patient,
        printed_at=form.printed_at,
        subject=_("Consent form") if form.signature is None else _("Signed consent form"),
    )
    doc.build(_story(form, doc.width, _))
    return buffer.getvalue()
