"""The referral letter: our provider asks a specialist from the contacts directory to see a
patient, says why, and lists the records sent with it.

A letter on the clinic's letterhead (the common look, with the patient banner on every
page): the date, the specialist's name and address, a "Re:" line naming the patient, an
URGENT mark when the referral is urgent, the reason in the provider's words, how to reach
the patient, the enclosed records, and the referring provider's name under "Sincerely".
Built by ``app.services.patients.referral_letters``; no session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    FONT,
    FONT_BOLD,
    ClinicDocTemplate,
    ClinicLetterhead,
    PatientBanner,
    document_styles,
    table_style,
    text,
)
from app.documents.labels import Translate, gettext_for
from app.i18n import format_date

__all__ = ["Recipient", "ReferralLetter", "build_referral_letter", "letter_title"]

URGENT_RED = colors.HexColor("#B42318")


@dataclass(frozen=True)
class Recipient:
    """The specialist (a ``Contact``): a person, an organisation, or both."""

    name: str = ""
    organisation: str = ""
    specialty: str = ""
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    fax: str = ""
    email: str = ""


@dataclass(frozen=True)
class ReferralLetter:
    """Everything the letter prints; built by ``app.services.patients.referral_letters``."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    locale: str
    referral_id: int
    referred_on: date
    recipient: Recipient
    reason: str
    #: One record per entry (x-rays, notes …), as the referral lists them.
    attached_records: tuple[str, ...] = ()
    urgent: bool = False
    #: "Dr. Daniel Okafor" — empty when the referral names no provider.
    provider_name: str = ""
    provider_credentials: str = ""
    provider_licence: str = ""
    #: How the specialist's office reaches the patient.
    patient_phone: str = ""
    patient_email: str = ""
    printed_at: datetime | None = None


def _styles() -> dict[str, ParagraphStyle]:
    base = document_styles()
    body = ParagraphStyle("LetterBody", parent=base.body, fontSize=10, leading=14, spaceAfter=6)
    return {
        "body": body,
        "address": ParagraphStyle("LetterAddress", parent=body, spaceAfter=0),
        "re": ParagraphStyle("LetterRe", parent=body, fontName=FONT_BOLD, spaceBefore=6),
        "urgent": ParagraphStyle(
            "LetterUrgent", parent=body, fontName=FONT_BOLD, fontSize=12, textColor=URGENT_RED
        ),
        "bullet": ParagraphStyle(
            "LetterBullet",
            parent=body,
            leftIndent=14,
            bulletIndent=3,
            bulletFontName=FONT,
            spaceAfter=2,
        ),
        "sign": ParagraphStyle("LetterSign", parent=body, spaceAfter=0),
    }


def _lines(value: str) -> str:
    """Text typed with line breaks, kept as separate lines in the letter."""
    return "<br/>".join(text(line) for line in value.strip().splitlines())


def _recipient_block(letter: ReferralLetter, st, _: Translate) -> Paragraph:
    r = letter.recipient
    lines = [f"<b>{text(r.name)}</b>"] if r.name else []
    if r.specialty:
        lines.append(text(r.specialty))
    if r.organisation:
        lines.append(text(r.organisation) if r.name else f"<b>{text(r.organisation)}</b>")
    lines += [text(line) for line in r.address_lines]
    reach = []
    if r.phone:
        reach.append(_("Phone") + " " + r.phone)
    if r.fax:
        reach.append(_("Fax") + " " + r.fax)
    if reach:
        lines.append(text("   ·   ".join(reach)))
    if r.email:
        lines.append(text(r.email))
    return Paragraph("<br/>".join(lines), st["address"])


def _salutation(letter: ReferralLetter, _: Translate) -> str:
    if letter.recipient.name:
        return _("Dear %(name)s,") % {"name": letter.recipient.name}
    return _("Dear colleague,")


def _patient_line(letter: ReferralLetter, _: Translate) -> str:
    p = letter.patient
    parts = [p.name]
    if p.date_of_birth is not None:
        parts.append(
            _("date of birth %(date)s")
            % {"date": format_date(p.date_of_birth, letter.locale, "long")}
        )
    if p.chart_number:
        parts.append(_("our chart no. %(chart)s") % {"chart": p.chart_number})
    return ", ".join(parts)


def _story(letter: ReferralLetter, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    story: list[Flowable] = [
        Paragraph(text(format_date(letter.referred_on, letter.locale, "long")), st["body"]),
        Spacer(1, 4),
        _recipient_block(letter, st, _),
        Spacer(1, 10),
    ]
    if letter.urgent:
        band = Table(
            [
                [
                    Paragraph(
                        text(_("URGENT: please see this patient as soon as possible.")),
                        st["urgent"],
                    )
                ]
            ],
            colWidths=[width],
            style=table_style(
                ("BOX", (0, 0), (-1, -1), 1.5, URGENT_RED),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ),
        )
        story += [band, Spacer(1, 4)]
    story.append(
        Paragraph(
            text(_("Re: referral of %(patient)s") % {"patient": _patient_line(letter, _)}),
            st["re"],
        )
    )
    story.append(Paragraph(text(_salutation(letter, _)), st["body"]))
    story.append(
        Paragraph(
            text(
                _("I am referring my patient %(name)s to you for the following reason:")
                % {"name": letter.patient.name}
            ),
            st["body"],
        )
    )
    reason = letter.reason.strip()
    story.append(
        Paragraph(_lines(reason) if reason else text(_("(No reason was recorded.)")), st["body"])
    )

    contact = []
    if letter.patient_phone:
        contact.append(letter.patient_phone)
    if letter.patient_email:
        contact.append(letter.patient_email)
    if contact:
        story.append(
            Paragraph(
                text(
                    _("You can reach the patient at %(contact)s.")
                    % {"contact": "   ·   ".join(contact)}
                ),
                st["body"],
            )
        )

    records: list[Flowable] = [Paragraph(text(_("Enclosed records")), base.heading)]
    if letter.attached_records:
        records += [
            Paragraph(text(record), st["bullet"], bulletText="•")
            for record in letter.attached_records
        ]
    else:
        records.append(Paragraph(text(_("No records are enclosed with this letter.")), st["body"]))
    story += records
    story.append(Spacer(1, 6))
    story.append(
        Paragraph(
            text(
                _(
                    "Thank you for seeing this patient. Please send your findings and treatment "
                    "notes to us at the address above."
                )
            ),
            st["body"],
        )
    )

    signature: list[Flowable] = [
        Paragraph(text(_("Sincerely,")), st["body"]),
        Spacer(1, 34),
    ]
    name = letter.provider_name
    if name and letter.provider_credentials:
        name = f"{name}, {letter.provider_credentials}"
    signer = [f"<b>{text(name)}</b>"] if name else []
    if letter.provider_licence:
        signer.append(text(_("License no. %(number)s") % {"number": letter.provider_licence}))
    signer.append(text(letter.letterhead.name))
    sign_table = Table(
        [[Paragraph("<br/>".join(signer), st["sign"])]],
        colWidths=[width * 0.5],
        hAlign="LEFT",
        style=table_style(
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
        ),
    )
    signature.append(sign_table)
    story.append(KeepTogether(signature))
    return story


def letter_title(locale: str) -> str:
    return gettext_for(locale)("Referral letter")


def build_referral_letter(letter: ReferralLetter) -> bytes:
    """The referral letter PDF, in ``letter.locale`` on the clinic's paper."""
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
    doc.build(_story(letter, doc.width, _))
    return buffer.getvalue()
