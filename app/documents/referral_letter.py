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

__all__ = [
    "Recipient",
    "ReferralLetter",
    "build_referral_letter",
    "letter_styles",
    "letter_title",
    "patient_line",
    "recipient_block",
    "referral_letter_story",
    "salutation",
    "signature_block",
]

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
    return _recipient_paragraph(letter.recipient, st, _)


def _recipient_paragraph(r: Recipient, st, _: Translate) -> Paragraph:
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
    return salutation(letter.recipient, _)


def _patient_line(letter: ReferralLetter, _: Translate) -> str:
    return patient_line(letter.patient, letter.locale, _)


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

    story.append(
        signature_block(
            letter.provider_name,
            letter.provider_credentials,
            letter.provider_licence,
            letter.letterhead.name,
            width,
            _,
        )
    )
    return story


def signature_block(
    name: str, credentials: str, licence: str, clinic_name: str, width: float, _: Translate
) -> Flowable:
    """ "Sincerely," and the signer's name, credentials and license number over a line: the
    foot of every letter to another office."""
    st = _styles()
    if name and credentials:
        name = f"{name}, {credentials}"
    signer = [f"<b>{text(name)}</b>"] if name else []
    if licence:
        signer.append(text(_("License no. %(number)s") % {"number": licence}))
    signer.append(text(clinic_name))
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
    return KeepTogether([Paragraph(text(_("Sincerely,")), st["body"]), Spacer(1, 34), sign_table])


def letter_styles() -> dict[str, ParagraphStyle]:
    """The letters' paragraph styles (body, address, re, urgent, bullet, sign)."""
    return _styles()


def recipient_block(recipient: Recipient, _: Translate) -> Paragraph:
    """The other office's name and address, as the top of a letter shows it."""
    return _recipient_paragraph(recipient, _styles(), _)


def salutation(recipient: Recipient, _: Translate) -> str:
    if recipient.name:
        return _("Dear %(name)s,") % {"name": recipient.name}
    return _("Dear colleague,")


def patient_line(patient: PatientBanner, locale: str, _: Translate) -> str:
    """ "Zoë Nguyễn, date of birth …, our chart no. …" for a letter's "Re:" line."""
    parts = [patient.name]
    if patient.date_of_birth is not None:
        parts.append(
            _("date of birth %(date)s")
            % {"date": format_date(patient.date_of_birth, locale, "long")}
        )
    if patient.chart_number:
        parts.append(_("our chart no. %(chart)s") % {"chart": patient.chart_number})
    return ", ".join(parts)


def referral_letter_story(letter: ReferralLetter, width: float) -> list[Flowable]:
    """The letter's flowables, for a document that starts with it (the referral packet)."""
    return _story(letter, width, gettext_for(letter.locale))


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
