"""Letters to the other office about a referral, on the clinic's letterhead like the referral
letter: a reminder to the specialist's office (no visit booked yet, or no report yet), and
the consult letter thanking the provider who referred a patient to us, once we saw them.

Built by ``app.services.referrals.packets``; no session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from reportlab.platypus import Flowable, Paragraph, Spacer

from app.documents.common import ClinicDocTemplate, ClinicLetterhead, PatientBanner, text
from app.documents.labels import Translate, gettext_for
from app.documents.referral_letter import (
    Recipient,
    letter_styles,
    patient_line,
    recipient_block,
    salutation,
    signature_block,
)
from app.i18n import format_date

__all__ = [
    "ConsultLetter",
    "ReminderLetter",
    "build_consult_letter",
    "build_reminder_letter",
]


@dataclass(frozen=True)
class Signer:
    """Who signs: our provider (empty name: the clinic signs)."""

    name: str = ""
    credentials: str = ""
    licence: str = ""


@dataclass(frozen=True)
class ReminderLetter:
    """A reminder to the specialist's office about a referral we sent."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    locale: str
    referral_id: int
    #: The day of the reminder.
    on: date
    recipient: Recipient
    #: When the referral went (or was made, if not recorded as sent).
    sent_on: date
    #: "booking" (no visit booked yet) or "report" (seen, no report yet).
    waiting_for: str
    visit_on: date | None = None
    reason: str = ""
    urgent: bool = False
    patient_phone: str = ""
    signer: Signer = Signer()
    note: str = ""
    printed_at: datetime | None = None


@dataclass(frozen=True)
class ConsultLetter:
    """Our thanks to the provider who referred a patient to us, once we saw them."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    locale: str
    referral_id: int
    on: date
    recipient: Recipient
    referred_on: date
    seen_on: date | None
    reason: str = ""
    #: What we found and plan, in the provider's words (may be empty).
    findings: str = ""
    signer: Signer = Signer()
    printed_at: datetime | None = None


def _paragraphs(value: str, style) -> list[Flowable]:
    return [
        Paragraph("<br/>".join(text(line) for line in block.splitlines()), style)
        for block in value.strip().split("\n\n")
        if block.strip()
    ]


def _opening(
    on: date, locale: str, recipient: Recipient, re_line: str, _: Translate
) -> list[Flowable]:
    st = letter_styles()
    return [
        Paragraph(text(format_date(on, locale, "long")), st["body"]),
        Spacer(1, 4),
        recipient_block(recipient, _),
        Spacer(1, 10),
        Paragraph(text(re_line), st["re"]),
        Paragraph(text(salutation(recipient, _)), st["body"]),
    ]


def _reminder_story(letter: ReminderLetter, width: float, _: Translate) -> list[Flowable]:
    st = letter_styles()
    locale = letter.locale
    re_line = _("Re: our referral of %(patient)s (reference %(number)s)") % {
        "patient": patient_line(letter.patient, locale, _),
        "number": letter.referral_id,
    }
    story = _opening(letter.on, locale, letter.recipient, re_line, _)
    if letter.urgent:
        story.append(Paragraph(text(_("This referral is urgent.")), st["urgent"]))
    sent = format_date(letter.sent_on, locale, "long")
    if letter.waiting_for == "report":
        if letter.visit_on is not None:
            body = _(
                "We referred %(name)s to you on %(sent)s, and our records show the patient "
                "was seen on %(visit)s. We have not yet received your report."
            ) % {
                "name": letter.patient.name,
                "sent": sent,
                "visit": format_date(letter.visit_on, locale, "long"),
            }
        else:
            body = _(
                "We referred %(name)s to you on %(sent)s. We have not yet received your report."
            ) % {"name": letter.patient.name, "sent": sent}
        ask = _(
            "Please send your findings and treatment notes to us at the address above, so "
            "that we can continue the patient's care."
        )
    else:
        body = _(
            "We referred %(name)s to you on %(sent)s and have not yet heard that an "
            "appointment was made."
        ) % {"name": letter.patient.name, "sent": sent}
        ask = _("Please let us know when you will see the patient.")
        if letter.patient_phone:
            ask += " " + _("You can reach the patient at %(contact)s.") % {
                "contact": letter.patient_phone
            }
    story.append(Paragraph(text(body), st["body"]))
    if letter.reason.strip():
        story.append(Paragraph(text(_("The reason for the referral:")), st["body"]))
        story += _paragraphs(letter.reason, st["bullet"])
        story.append(Spacer(1, 4))
    story.append(Paragraph(text(ask), st["body"]))
    story += _paragraphs(letter.note, st["body"])
    story.append(
        Paragraph(text(_("Thank you for your help with this patient's care.")), st["body"])
    )
    story.append(
        signature_block(
            letter.signer.name,
            letter.signer.credentials,
            letter.signer.licence,
            letter.letterhead.name,
            width,
            _,
        )
    )
    return story


def _consult_story(letter: ConsultLetter, width: float, _: Translate) -> list[Flowable]:
    st = letter_styles()
    base_locale = letter.locale
    re_line = _("Re: %(patient)s, referred to us on %(date)s") % {
        "patient": patient_line(letter.patient, base_locale, _),
        "date": format_date(letter.referred_on, base_locale, "long"),
    }
    story = _opening(letter.on, base_locale, letter.recipient, re_line, _)
    if letter.seen_on is not None:
        thanks = _("Thank you for referring %(name)s to us. We saw the patient on %(date)s.") % {
            "name": letter.patient.name,
            "date": format_date(letter.seen_on, base_locale, "long"),
        }
    else:
        thanks = _("Thank you for referring %(name)s to us.") % {"name": letter.patient.name}
    story.append(Paragraph(text(thanks), st["body"]))
    if letter.reason.strip():
        story.append(Paragraph(text(_("You referred the patient for:")), st["body"]))
        story += _paragraphs(letter.reason, st["bullet"])
        story.append(Spacer(1, 4))
    if letter.findings.strip():
        story.append(Paragraph(text(_("Our findings and plan:")), st["re"]))
        story += _paragraphs(letter.findings, st["body"])
    story.append(
        Paragraph(
            text(
                _(
                    "We will keep you informed of the patient's care. Please call us with any "
                    "questions."
                )
            ),
            st["body"],
        )
    )
    story.append(
        signature_block(
            letter.signer.name,
            letter.signer.credentials,
            letter.signer.licence,
            letter.letterhead.name,
            width,
            _,
        )
    )
    return story


def _build(letter, title: str, subject: str, story_of) -> bytes:
    _ = gettext_for(letter.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        letter.letterhead,
        title=title,
        locale=letter.locale,
        patient=letter.patient,
        printed_at=letter.printed_at,
        subject=subject,
    )
    doc.build(story_of(letter, doc.width, _))
    return buffer.getvalue()


def build_reminder_letter(letter: ReminderLetter) -> bytes:
    """The reminder PDF, in ``letter.locale`` on the clinic's paper."""
    _ = gettext_for(letter.locale)
    return _build(
        letter,
        _("Referral reminder"),
        _("Referral of %(name)s") % {"name": letter.patient.name},
        _reminder_story,
    )


def build_consult_letter(letter: ConsultLetter) -> bytes:
    """The consult letter PDF, in ``letter.locale`` on the clinic's paper."""
    _ = gettext_for(letter.locale)
    return _build(
        letter,
        _("Consult letter"),
        _("Referral of %(name)s") % {"name": letter.patient.name},
        _consult_story,
    )
