"""A patient's record summary: the readable part of a record export (a disclosure).

In the common look (letterhead, patient banner, "Page N of M"), for the patient or whoever
they send it to: first who made this copy, when, for whom and why; then the patient's
details, medical alerts, allergies and medications, insurance, visits to come and past
ones, treatment plans, payment plans, the account (charges, payments, refunds and
adjustments, then the balance), the consultation notes with their addenda — or, when the
person who made the copy may not read notes, a line saying they are left out and why —
and the documents that come with it.  An empty section says "None recorded", never
nothing.  Built by ``app.services.exports.patient_record``; no session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.agreement import FREQUENCY_LABELS
from app.documents.common import (
    ACCENT,
    FONT,
    FONT_BOLD,
    MUTED,
    RULE,
    TINT,
    ClinicDocTemplate,
    ClinicLetterhead,
    PatientBanner,
    cell_styles,
    document_styles,
    table_style,
    text,
)
from app.documents.day_sheet import status_label
from app.documents.labels import N_, Translate, clinic_text, gettext_for
from app.documents.receipt import METHOD_LABELS
from app.i18n import format_date, format_datetime, format_money, format_percent, to_clinic_time

__all__ = [
    "RecordSummary",
    "SummaryAccountLine",
    "SummaryAddendum",
    "SummaryDetails",
    "SummaryDisclosure",
    "SummaryDocument",
    "SummaryNote",
    "SummaryPaymentPlan",
    "SummaryPlanItem",
    "SummaryPolicy",
    "SummaryTreatmentPlan",
    "SummaryVisit",
    "build_record_summary",
]

ALERT_RED = colors.HexColor("#B42318")
_CELL_PADDING = 4

_SEX = {
    "female": N_("Female"),
    "male": N_("Male"),
    "intersex": N_("Intersex"),
    "unknown": N_("Not known"),
}
_ROLES = {
    "owner": N_("owner"),
    "coordinator": N_("patient coordinator"),
    "receptionist": N_("receptionist"),
    "provider": N_("provider"),
}
_PRIORITY = {
    "primary": N_("Primary insurance"),
    "secondary": N_("Secondary insurance"),
    "tertiary": N_("Other insurance"),
}
_PLAN_STATUS = {
    "draft": N_("Draft"),
    "presented": N_("Presented to the patient"),
    "accepted": N_("Accepted"),
    "partly_accepted": N_("Partly accepted"),
    "declined": N_("Declined"),
    "in_progress": N_("In progress"),
    "completed": N_("Treatment completed"),
}
_ITEM_STATUS = {
    "proposed": N_("Proposed"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "scheduled": N_("Visit booked"),
    "completed": N_("Done"),
}
_PAYMENT_PLAN_STATUS = {
    "draft": N_("Draft"),
    "active": N_("Active"),
    "superseded": N_("Replaced by new terms"),
    "completed": N_("Paid in full"),
    "cancelled": N_("Ended before it was paid"),
}
_ADJUSTMENT = {
    "discount": N_("Discount"),
    "write_off": N_("Written off"),
    "insurance_payment": N_("Insurance payment"),
    "fee": N_("Fee"),
    "opening_balance": N_("Balance brought from the previous system"),
    "opening_credit": N_("Credit brought from the previous system"),
}
_DECISION = {
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "thinking_it_over": N_("Thinking it over"),
}


# --- plain data --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryDisclosure:
    """Who made this copy, when, for whom and why (what the audit trail records too)."""

    exported_by: str
    exported_by_role: str
    exported_at: datetime
    to_whom: str
    why: str


@dataclass(frozen=True)
class SummaryDetails:
    """The patient's details as printed; phones already written for reading."""

    full_name: str
    preferred_name: str = ""
    date_of_birth: date | None = None
    sex: str = ""
    pronouns: str = ""
    mobile_phone: str = ""
    home_phone: str = ""
    work_phone: str = ""
    email: str = ""
    address_lines: tuple[str, ...] = ()
    language: str = "en"
    emergency_contact: str = ""
    deceased_on: date | None = None
    active: bool = True
    primary_provider: str = ""


@dataclass(frozen=True)
class SummaryPolicy:
    payer: str
    priority: str
    member_id: str
    plan_name: str = ""
    group_number: str = ""
    active: bool = True
    effective_from: date | None = None
    effective_to: date | None = None


@dataclass(frozen=True)
class SummaryVisit:
    starts_at: datetime
    status: str
    service: str = ""
    service_es: str = ""
    provider: str = ""
    late_cancel: bool = False


@dataclass(frozen=True)
class SummaryPlanItem:
    description: str
    status: str
    patient_portion: Decimal
    area: str = ""
    quantity: int = 1


@dataclass(frozen=True)
class SummaryTreatmentPlan:
    title: str
    status: str
    items: tuple[SummaryPlanItem, ...] = ()
    title_es: str = ""
    alternative_label: str = ""
    provider: str = ""
    presented_at: datetime | None = None
    decided_at: datetime | None = None
    decline_reason: str = ""


@dataclass(frozen=True)
class SummaryPaymentPlan:
    number: int
    status: str
    plan_date: date
    total_amount: Decimal
    down_payment: Decimal
    financed_amount: Decimal
    installment_count: int
    frequency: str
    first_due_on: date
    paid: Decimal
    remaining: Decimal
    apr_basis_points: int = 0


@dataclass(frozen=True)
class SummaryAccountLine:
    """One line of the account: ``kind`` "charge", "payment", "refund" or "adjustment";
    ``label`` the payment method or adjustment kind; ``amount`` what it does to the balance
    (a payment negative), as it stood before any void."""

    on: date
    kind: str
    amount: Decimal
    label: str = ""
    description: str = ""
    voided: bool = False
    void_reason: str = ""


@dataclass(frozen=True)
class SummaryAddendum:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class SummaryNote:
    consulted_at: datetime
    author: str
    status: str
    provider: str = ""
    signed_by: str = ""
    signed_at: datetime | None = None
    reason: str = ""
    treatments_discussed: str = ""
    options_and_costs: str = ""
    patient_questions: str = ""
    decision: str = ""
    decline_reason: str = ""
    follow_up_on: date | None = None
    body: str = ""
    addenda: tuple[SummaryAddendum, ...] = ()


@dataclass(frozen=True)
class SummaryDocument:
    title: str
    added_at: datetime
    path: str


@dataclass(frozen=True)
class RecordSummary:
    """Everything the summary prints; ``notes`` None: the notes are left out of this copy
    (the person who made it may not read them)."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    locale: str
    currency: str
    disclosure: SummaryDisclosure
    details: SummaryDetails
    balance: Decimal
    medical_alerts: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    medications: tuple[str, ...] = ()
    policies: tuple[SummaryPolicy, ...] = ()
    upcoming: tuple[SummaryVisit, ...] = ()
    past: tuple[SummaryVisit, ...] = ()
    treatment_plans: tuple[SummaryTreatmentPlan, ...] = ()
    payment_plans: tuple[SummaryPaymentPlan, ...] = ()
    account: tuple[SummaryAccountLine, ...] = ()
    notes: tuple[SummaryNote, ...] | None = ()
    documents: tuple[SummaryDocument, ...] = ()
    printed_at: datetime | None = None


# --- layout --------------------------------------------------------------------------------------


class _Page:
    """What every section needs: the summary, the width, the styles and ``_``."""

    def __init__(self, summary: RecordSummary, width: float, translate: Translate) -> None:
        self.summary = summary
        self.width = width
        self._ = translate
        base = document_styles()
        self.base = base
        st = cell_styles("Summary", base.body, fontSize=8.5, leading=11, spaceAfter=0)
        cell = st["cell"]
        self.st = {
            **st,
            "label": ParagraphStyle("SummaryLabel", parent=cell, textColor=MUTED),
            "muted": ParagraphStyle("SummaryMuted", parent=cell, textColor=MUTED),
            "alert": ParagraphStyle(
                "SummaryAlert", parent=cell, textColor=ALERT_RED, fontName=FONT_BOLD
            ),
            "none": ParagraphStyle(
                "SummaryNone", parent=base.body, textColor=MUTED, fontSize=9, spaceAfter=2
            ),
            "subheading": ParagraphStyle(
                "SummarySubheading",
                parent=base.body,
                fontName=FONT_BOLD,
                fontSize=9.5,
                leading=12,
                spaceBefore=5,
                spaceAfter=2,
            ),
            "quote": ParagraphStyle(
                "SummaryQuote", parent=base.body, fontSize=9, leading=12, leftIndent=8
            ),
        }

    # -- words --

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.summary.currency, self.summary.locale)

    def day(self, value: date | None) -> str:
        return format_date(value, self.summary.locale) if value is not None else "—"

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value, self.summary.letterhead.timezone, self.summary.locale)

    def label(self, table: dict[str, str], value: str) -> str:
        known = table.get(value)
        return self._(known) if known else value.replace("_", " ").capitalize()

    # -- blocks --

    def heading(self, words: str) -> Paragraph:
        return Paragraph(text(words), self.base.heading)

    def none(self) -> Paragraph:
        return Paragraph(text(self._("None recorded.")), self.st["none"])

    def para(self, value: str, style: str = "cell") -> Paragraph:
        # Line breaks typed in the record stay line breaks.
        return Paragraph(text(value).replace("\n", "<br/>"), self.st[style])

    def pairs(self, rows: list[tuple[str, str]], style: str = "cell") -> Table:
        return self.pair_table(
            [[self.para(label, "label"), self.para(value, style)] for label, value in rows]
        )

    def pair_table(self, data: list[list[Paragraph]]) -> Table:
        """Label | value rows, ruled between them (the details, the alerts)."""
        return Table(
            data,
            colWidths=[self.width * 0.27, self.width * 0.73],
            style=table_style(
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, RULE),
            ),
            hAlign="LEFT",
        )

    def grid(
        self,
        head: list[str],
        rows: list[list[str]],
        widths: list[float],
        right: set[int] = frozenset(),
    ) -> Table:
        """A table with a header row repeated on each page; columns in ``right`` right-aligned.

        A cell whose text fits its column on one line is set as a plain string (several
        times faster to lay out than a Paragraph: a record of years has thousands); a
        longer one is a Paragraph that wraps, so nothing is ever cut off."""
        st = self.st
        columns = [self.width * w for w in widths]
        size = st["cell"].fontSize

        def cell(value: str, column: int) -> Paragraph | str:
            fits = "\n" not in value and (
                stringWidth(value, FONT, size) <= columns[column] - 2 * _CELL_PADDING
            )
            if fits:
                return value
            return self.para(value, "right" if column in right else "cell")

        data: list[list[Paragraph | str]] = [
            [
                Paragraph(text(h), st["head_right" if n in right else "head"])
                for n, h in enumerate(head)
            ]
        ]
        data += [[cell(v, n) for n, v in enumerate(row)] for row in rows]
        return Table(
            data,
            colWidths=columns,
            repeatRows=1,
            splitByRow=1,
            style=table_style(
                ("FONTSIZE", (0, 1), (-1, -1), size),
                ("LEADING", (0, 1), (-1, -1), st["cell"].leading),
                *(("ALIGN", (n, 1), (n, -1), "RIGHT") for n in sorted(right)),
                ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
            ),
        )


def _disclosure(page: _Page) -> Table:
    _ = page._
    d = page.summary.disclosure
    role = page.label(_ROLES, d.exported_by_role)
    rows = [
        Paragraph(text(_("A copy of this patient's record")), page.st["bold"]),
        page.para(
            _("Made on %(when)s by %(who)s (%(role)s).")
            % {"who": d.exported_by, "role": role, "when": page.moment(d.exported_at)}
        ),
        page.para(_("Given to: %(whom)s") % {"whom": d.to_whom}),
        page.para(_("Purpose: %(why)s") % {"why": d.why}),
    ]
    return Table(
        [[rows]],
        colWidths=[page.width],
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, -1), TINT),
            ("TOPPADDING", (0, 0), (-1, -1), 6),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ),
    )


def _language_name(code: str, locale: str) -> str:
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(locale) or code
    except (ValueError, TypeError):
        return code
    return name[:1].upper() + name[1:]


def _details(page: _Page) -> list[Flowable]:
    _ = page._
    d = page.summary.details
    rows: list[tuple[str, str]] = [(_("Name"), d.full_name)]
    if d.preferred_name:
        rows.append((_("Preferred name"), d.preferred_name))
    rows.append((_("Date of birth"), page.day(d.date_of_birth) if d.date_of_birth else "—"))
    rows.append((_("Sex"), page.label(_SEX, d.sex) if d.sex else "—"))
    if d.pronouns:
        rows.append((_("Pronouns"), d.pronouns))
    phones = [
        number + " (" + _(kind) + ")"
        for number, kind in (
            (d.mobile_phone, N_("mobile")),
            (d.home_phone, N_("home")),
            (d.work_phone, N_("work")),
        )
        if number
    ]
    rows.append((_("Phone"), "\n".join(phones) or "—"))
    rows.append((_("Email"), d.email or "—"))
    rows.append((_("Address"), "\n".join(d.address_lines) or "—"))
    rows.append((_("Preferred language"), _language_name(d.language, page.summary.locale)))
    rows.append((_("Emergency contact"), d.emergency_contact or "—"))
    if d.primary_provider:
        rows.append((_("Usual provider"), d.primary_provider))
    if d.deceased_on is not None:
        rows.append((_("Date of death"), page.day(d.deceased_on)))
    if not d.active:
        rows.append((_("Record"), _("Inactive")))
    return [page.heading(_("Patient details")), page.pairs(rows)]


def _health(page: _Page) -> list[Flowable]:
    _ = page._
    s = page.summary
    rows = [
        (_("Medical alerts"), "\n".join(s.medical_alerts)),
        (_("Allergies"), "\n".join(s.allergies)),
        (_("Medications"), "\n".join(s.medications)),
    ]
    data = [
        [
            page.para(label, "label"),
            page.para(value, "alert") if value else page.para(_("None recorded."), "muted"),
        ]
        for label, value in rows
    ]
    # Medications are not a warning: printed in ink, not red.
    if s.medications:
        data[2][1] = page.para(rows[2][1])
    return [page.heading(_("Alerts, allergies and medications")), page.pair_table(data)]


def _insurance(page: _Page) -> list[Flowable]:
    _ = page._
    out: list[Flowable] = [page.heading(_("Insurance"))]
    if not page.summary.policies:
        return [*out, page.none()]
    rows = []
    for p in page.summary.policies:
        plan = " · ".join(
            part
            for part in (
                p.plan_name,
                p.group_number and _("group %(number)s") % {"number": p.group_number},
            )
            if part
        )
        if p.effective_from or p.effective_to:
            period = f"{page.day(p.effective_from)} – {page.day(p.effective_to)}"
        else:
            period = "—"
        rows.append(
            [
                page.label(_PRIORITY, p.priority) + ("" if p.active else " · " + _("ended")),
                p.payer,
                plan or "—",
                p.member_id,
                period,
            ]
        )
    head = [_("Kind"), _("Insurance company"), _("Plan"), _("Member ID"), _("Covered")]
    return [*out, page.grid(head, rows, [0.18, 0.24, 0.22, 0.14, 0.22])]


def _visits(page: _Page, heading: str, visits: tuple[SummaryVisit, ...]) -> list[Flowable]:
    _ = page._
    out: list[Flowable] = [page.heading(heading)]
    if not visits:
        return [*out, page.none()]
    rows = []
    for v in visits:
        status = status_label(v.status, _)
        if v.late_cancel:
            status = _("%(status)s (late cancellation)") % {"status": status}
        service = clinic_text(page.summary.locale, v.service, v.service_es) or "—"
        rows.append([page.moment(v.starts_at), service, v.provider or "—", status])
    head = [_("When"), _("Visit"), _("Provider"), _("Status")]
    return [*out, page.grid(head, rows, [0.24, 0.33, 0.2, 0.23])]


def _treatment_plans(page: _Page) -> list[Flowable]:
    _ = page._
    out: list[Flowable] = [page.heading(_("Treatment plans"))]
    if not page.summary.treatment_plans:
        return [*out, page.none()]
    for plan in page.summary.treatment_plans:
        title = clinic_text(page.summary.locale, plan.title, plan.title_es)
        if plan.alternative_label:
            title = f"{title} ({plan.alternative_label})"
        facts = [page.label(_PLAN_STATUS, plan.status)]
        if plan.provider:
            facts.append(plan.provider)
        if plan.presented_at is not None:
            facts.append(
                _("presented %(when)s") % {"when": page.day(_local_day(page, plan.presented_at))}
            )
        if plan.decided_at is not None:
            facts.append(
                _("decided %(when)s") % {"when": page.day(_local_day(page, plan.decided_at))}
            )
        block: list[Flowable] = [
            Paragraph(text(title), page.st["subheading"]),
            page.para(" · ".join(facts), "muted"),
        ]
        if plan.decline_reason:
            block.append(
                page.para(
                    _("Reason for declining: %(reason)s") % {"reason": plan.decline_reason}, "muted"
                )
            )
        block.append(Spacer(1, 2))
        if plan.items:
            rows = []
            for item in plan.items:
                what = item.description
                if item.quantity > 1:
                    what = f"{what} × {item.quantity}"
                rows.append(
                    [
                        what,
                        item.area or "—",
                        page.label(_ITEM_STATUS, item.status),
                        page.money(item.patient_portion),
                    ]
                )
            head = [_("Treatment"), _("Area"), _("Status"), _("Patient portion")]
            block.append(page.grid(head, rows, [0.46, 0.14, 0.2, 0.2], right={3}))
        else:
            block.append(page.none())
        # The plan's title never parts from its table (a long one still splits by rows).
        out.append(KeepTogether(block))
    return out


def _local_day(page: _Page, moment: datetime) -> date:
    return to_clinic_time(moment, page.summary.letterhead.timezone).date()


def _payment_plans(page: _Page) -> list[Flowable]:
    _ = page._
    out: list[Flowable] = [page.heading(_("Payment plans"))]
    if not page.summary.payment_plans:
        return [*out, page.none()]
    rows = []
    for p in page.summary.payment_plans:
        terms = _("%(count)s installments, %(frequency)s, first due %(first)s") % {
            "count": p.installment_count,
            "frequency": page.label(FREQUENCY_LABELS, p.frequency).lower(),
            "first": page.day(p.first_due_on),
        }
        if p.apr_basis_points:
            rate = format_percent(Decimal(p.apr_basis_points) / Decimal(10000), page.summary.locale)
            terms += " · " + _("APR %(rate)s") % {"rate": rate}
        rows.append(
            [
                f"#{p.number} · {page.day(p.plan_date)}",
                page.label(_PAYMENT_PLAN_STATUS, p.status),
                page.money(p.total_amount),
                terms,
                page.money(p.paid),
                page.money(p.remaining),
            ]
        )
    head = [_("Plan"), _("Status"), _("Total"), _("Terms"), _("Paid"), _("Left to pay")]
    return [*out, page.grid(head, rows, [0.16, 0.15, 0.13, 0.3, 0.13, 0.13], right={2, 4, 5})]


def _account_line_text(page: _Page, line: SummaryAccountLine) -> str:
    _ = page._
    if line.kind == "charge":
        words = line.description or _("Charge")
    elif line.kind == "adjustment":
        words = page.label(_ADJUSTMENT, line.label)
        if line.description:
            words = f"{words} — {line.description}"
    else:
        method = page.label(METHOD_LABELS, line.label) if line.label else ""
        words = _("Refund") if line.kind == "refund" else _("Payment")
        if method:
            words = f"{words} — {method}"
        if line.description:
            words = f"{words} ({line.description})"
    if line.voided:
        words += "\n" + _("Voided: %(reason)s") % {"reason": line.void_reason}
    return words


def _account(page: _Page) -> list[Flowable]:
    _ = page._
    s = page.summary
    out: list[Flowable] = [page.heading(_("Account"))]
    if s.account:
        rows = []
        running = Decimal("0.00")
        for line in s.account:
            if not line.voided:
                running += line.amount
            amount = page.money(line.amount)
            rows.append(
                [
                    page.day(line.on),
                    _account_line_text(page, line),
                    f"({amount})" if line.voided else amount,
                    page.money(running),
                ]
            )
        head = [_("Date"), _("What"), _("Amount"), _("Balance")]
        out.append(page.grid(head, rows, [0.15, 0.55, 0.15, 0.15], right={2, 3}))
        if any(line.voided for line in s.account):
            out.append(
                page.para(_("Voided lines are shown in brackets: they do not count."), "muted")
            )
    else:
        out.append(page.none())
    if s.balance < 0:
        label, amount = _("Credit on account"), -s.balance
    else:
        label, amount = _("Balance due"), s.balance
    as_of = page.moment(s.disclosure.exported_at)
    balance = Table(
        [
            [
                Paragraph(text(f"{label} · {as_of}"), page.st["bold"]),
                Paragraph(text(page.money(amount)), page.st["right_bold"]),
            ]
        ],
        colWidths=[page.width * 0.75, page.width * 0.25],
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, -1), TINT),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ),
    )
    out += [Spacer(1, 4), balance]
    return out


def _notes(page: _Page) -> list[Flowable]:
    _ = page._
    s = page.summary
    out: list[Flowable] = [page.heading(_("Consultation notes"))]
    if s.notes is None:
        d = s.disclosure
        sentence = _(
            "Consultation notes are not included in this copy: it was made by %(who)s, "
            "whose role (%(role)s) does not allow reading them. A provider or a patient "
            "coordinator can make a copy that includes them."
        ) % {"who": d.exported_by, "role": page.label(_ROLES, d.exported_by_role)}
        return [*out, page.para(sentence)]
    if not s.notes:
        return [*out, page.none()]
    for note in s.notes:
        facts = [page.moment(note.consulted_at)]
        if note.provider:
            facts.append(note.provider)
        if note.status == "signed":
            facts.append(
                _("signed by %(who)s on %(when)s")
                % {"who": note.signed_by or "—", "when": page.moment(note.signed_at)}
            )
        else:
            facts.append(_("draft, not signed"))
        block: list[Flowable] = [Paragraph(text(" · ".join(facts)), page.st["subheading"])]
        fields = [
            (_("Reason for the visit"), note.reason),
            (_("Treatments discussed"), note.treatments_discussed),
            (_("Options and costs"), note.options_and_costs),
            (_("Patient's questions"), note.patient_questions),
            (_("Decision"), page.label(_DECISION, note.decision) if note.decision else ""),
            (_("Reason for declining"), note.decline_reason),
            (_("Follow up on"), page.day(note.follow_up_on) if note.follow_up_on else ""),
            (_("Note"), note.body),
        ]
        rows = [(label, value) for label, value in fields if value]
        if rows:
            block.append(page.pairs(rows))
        else:
            block.append(page.para(_("Nothing was written in this note."), "muted"))
        for addendum in note.addenda:
            block.append(
                page.para(
                    _("Addendum by %(who)s on %(when)s")
                    % {"who": addendum.author, "when": page.moment(addendum.at)},
                    "label",
                )
            )
            block.append(Paragraph(text(addendum.text).replace("\n", "<br/>"), page.st["quote"]))
        out.append(KeepTogether(block[:2]))
        out.extend(block[2:])
        out.append(Spacer(1, 4))
    return out


def _documents(page: _Page) -> list[Flowable]:
    _ = page._
    out: list[Flowable] = [page.heading(_("Documents in this copy"))]
    if not page.summary.documents:
        return [*out, page.none()]
    rows = [
        [page.day(_local_day(page, d.added_at)), d.title, d.path] for d in page.summary.documents
    ]
    return [*out, page.grid([_("Added"), _("Document"), _("File")], rows, [0.15, 0.4, 0.45])]


def _story(summary: RecordSummary, width: float, translate: Translate) -> list[Flowable]:
    _ = translate
    page = _Page(summary, width, translate)
    story: list[Flowable] = [
        Paragraph(text(_("Patient record summary")), page.base.title),
        Spacer(1, 4),
        _disclosure(page),
    ]
    sections = [
        _details(page),
        _health(page),
        _insurance(page),
        _visits(page, _("Upcoming visits"), summary.upcoming),
        _visits(page, _("Past visits"), summary.past),
        _treatment_plans(page),
        _payment_plans(page),
        _account(page),
        _notes(page),
        _documents(page),
    ]
    for section in sections:
        # A heading never sits alone at the foot of a page.
        story.append(CondPageBreak(60))
        story.extend(section)
    return story


def build_record_summary(summary: RecordSummary) -> bytes:
    """The summary PDF, in ``summary.locale`` and the clinic's paper size."""
    _ = gettext_for(summary.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        summary.letterhead,
        title=_("Patient record summary"),
        locale=summary.locale,
        patient=summary.patient,
        printed_at=summary.printed_at or summary.disclosure.exported_at,
        subject=_("Given to: %(whom)s") % {"whom": summary.disclosure.to_whom},
    )
    doc.build(_story(summary, doc.width, _))
    return buffer.getvalue()


def build_readme(summary: RecordSummary, *, documents: int, bundle_path: str) -> str:
    """README.txt of a record export: what each file is, in the summary's language."""
    _ = gettext_for(summary.locale)
    d = summary.disclosure
    lines = [
        _("Copy of the record of %(name)s (chart %(chart)s) from %(clinic)s.")
        % {
            "name": summary.patient.name,
            "chart": summary.patient.chart_number,
            "clinic": summary.letterhead.name,
        },
        _("Made on %(when)s by %(who)s.")
        % {
            "who": d.exported_by,
            "when": format_datetime(d.exported_at, summary.letterhead.timezone, summary.locale),
        },
        _("Given to: %(whom)s") % {"whom": d.to_whom},
        _("Purpose: %(why)s") % {"why": d.why},
        "",
        _("What each file is:"),
        "",
        "summary.pdf",
        "    "
        + _(
            "The record in readable form: details, alerts, visits, plans, the account and "
            "the balance, and the consultation notes when this copy includes them."
        ),
        "",
        "documents/",
        "    "
        + _("The patient's stored documents (signed forms, letters, scans), as kept: %(count)s.")
        % {"count": documents},
        "",
        bundle_path,
        "    "
        + _(
            "The same record as FHIR R4 (version 4.0.1) data, a JSON Bundle of type "
            "collection, for another clinic's software to read. Its DocumentReference "
            "entries name the files in documents/."
        ),
        "",
        _("This copy holds confidential health information: keep it safe."),
    ]
    if summary.notes is None:
        lines.insert(-1, _("Consultation notes are not included in this copy."))
        lines.insert(-1, "")
    return "\n".join(lines) + "\n"
