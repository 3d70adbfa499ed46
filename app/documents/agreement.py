"""The payment plan agreement: the terms the patient signs, the whole schedule, the late-fee
rule in plain words, and signature lines for the patient and the clinic.

The terms box reads like a truth-in-lending disclosure (amount financed, APR, finance
charge, total of payments); the schedule lists every installment with its principal and
interest and repeats its header on each page, so a 60-month plan stays readable.  A plan
that was replaced by a newer version, or cancelled, says so at the top.  Built by
``app.services.billing.agreements``; no session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    ACCENT,
    FONT_BOLD,
    INK,
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
from app.documents.labels import N_, Translate, gettext_for
from app.i18n import format_date, format_money, format_percent

__all__ = [
    "AgreementInstallment",
    "PaymentAgreement",
    "agreement_title",
    "build_agreement",
    "late_fee_rule",
]

ZERO = Decimal("0.00")
WARN_RED = colors.HexColor("#B42318")


#: Printed words for ``Frequency`` values.
FREQUENCY_LABELS = {
    "weekly": N_("Weekly"),
    "biweekly": N_("Every two weeks"),
    "monthly": N_("Monthly"),
    "custom": N_("On the dates in the schedule"),
}


@dataclass(frozen=True)
class AgreementInstallment:
    sequence: int
    due_on: date
    amount: Decimal
    principal: Decimal
    interest: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class PaymentAgreement:
    """Everything the agreement prints; built by ``app.services.billing.agreements``."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    locale: str
    currency: str
    payment_plan_id: int
    terms_version: int
    #: ``PaymentPlanStatus`` value: draft, active, completed, superseded, cancelled.
    status: str
    plan_date: date
    total_amount: Decimal
    down_payment: Decimal
    financed_amount: Decimal
    apr_basis_points: int
    #: ``Frequency`` value.
    frequency: str
    installments: tuple[AgreementInstallment, ...]
    #: ``LateFeeKind`` value: none, amount, percent.
    late_fee_kind: str = "none"
    late_fee_amount: Decimal = ZERO
    late_fee_basis_points: int = 0
    grace_days: int = 0
    notes: str = ""
    signed_at: datetime | None = None
    cancel_reason: str = ""
    printed_at: datetime | None = None

    @property
    def finance_charge(self) -> Decimal:
        return sum((row.interest for row in self.installments), ZERO)

    @property
    def installments_total(self) -> Decimal:
        return sum((row.amount for row in self.installments), ZERO)

    @property
    def total_of_payments(self) -> Decimal:
        """Down payment plus every installment: what the patient pays in all."""
        return self.down_payment + self.installments_total

    @property
    def first_due_on(self) -> date | None:
        return self.installments[0].due_on if self.installments else None

    @property
    def last_due_on(self) -> date | None:
        return self.installments[-1].due_on if self.installments else None


def agreement_title(locale: str) -> str:
    return gettext_for(locale)("Payment plan agreement")


def _money(agreement: PaymentAgreement, amount: Decimal) -> str:
    return format_money(amount, agreement.currency, agreement.locale)


def _percent(basis_points: int, locale: str) -> str:
    return format_percent(Decimal(basis_points) / Decimal(10000), locale)


def late_fee_rule(agreement: PaymentAgreement, _: Translate) -> str:
    """The late-fee rule in words, as ``payment_plans.assess_late_fees`` applies it."""
    if agreement.late_fee_kind == "amount":
        fee = _("a late fee of %(amount)s") % {
            "amount": _money(agreement, agreement.late_fee_amount)
        }
    elif agreement.late_fee_kind == "percent":
        fee = _("a late fee of %(percent)s of the part still unpaid") % {
            "percent": _percent(agreement.late_fee_basis_points, agreement.locale)
        }
    else:
        return _("This plan has no late fee.")
    if agreement.grace_days == 0:
        when = _("If an installment is not paid in full by its due date")
    elif agreement.grace_days == 1:
        when = _("If an installment is still not paid in full one day after its due date")
    else:
        when = _("If an installment is still not paid in full %(days)s days after its due date") % {
            "days": agreement.grace_days
        }
    return _("%(when)s, %(fee)s is added to the account, once for that installment.") % {
        "when": when,
        "fee": fee,
    }


# --- layout ----------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    st = cell_styles("Agreement", document_styles().body, fontSize=9, leading=11.5, spaceAfter=0)
    cell = st["cell"]
    return {
        **st,
        "label": ParagraphStyle("AgreementLabel", parent=cell, textColor=MUTED, fontSize=8.5),
        "value": ParagraphStyle("AgreementValue", parent=cell, fontName=FONT_BOLD),
        "warning": ParagraphStyle(
            "AgreementWarning", parent=cell, fontName=FONT_BOLD, fontSize=11, textColor=WARN_RED
        ),
        "sign_label": ParagraphStyle("AgreementSignLabel", parent=cell, fontSize=8.5),
    }


def _status_warning(agreement: PaymentAgreement, width: float, st, _: Translate) -> list[Flowable]:
    if agreement.status == "superseded":
        message = _("Replaced by a newer version of this plan: these terms no longer apply.")
    elif agreement.status == "cancelled":
        message = _("This payment plan was canceled: these terms no longer apply.")
        if agreement.cancel_reason:
            message += " " + _("Reason") + ": " + agreement.cancel_reason
    else:
        return []
    band = Table(
        [[Paragraph(text(message), st["warning"])]],
        colWidths=[width],
        style=table_style(
            ("BOX", (0, 0), (-1, -1), 1.5, WARN_RED),
            ("TOPPADDING", (0, 0), (-1, -1), 6),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ),
    )
    return [band, Spacer(1, 8)]


def _terms_table(agreement: PaymentAgreement, width: float, st, _: Translate) -> Table:
    locale = agreement.locale
    money = lambda amount: _money(agreement, amount)  # noqa: E731
    frequency = _(FREQUENCY_LABELS.get(agreement.frequency, agreement.frequency))
    first = format_date(agreement.first_due_on, locale, "long") if agreement.first_due_on else "—"
    last = format_date(agreement.last_due_on, locale, "long") if agreement.last_due_on else "—"
    left = [
        (_("Total amount"), money(agreement.total_amount)),
        (_("Down payment"), money(agreement.down_payment)),
        (_("Amount financed"), money(agreement.financed_amount)),
        (_("Annual percentage rate (APR)"), _percent(agreement.apr_basis_points, locale)),
        (_("Finance charge (interest)"), money(agreement.finance_charge)),
    ]
    right = [
        (_("Total of payments"), money(agreement.total_of_payments)),
        (_("Payment frequency"), frequency),
        (_("Number of installments"), str(len(agreement.installments))),
        (_("First payment due"), first),
        (_("Last payment due"), last),
    ]
    rows = []
    for (l_label, l_value), (r_label, r_value) in zip(left, right, strict=True):
        rows.append(
            [
                Paragraph(text(l_label), st["label"]),
                Paragraph(text(l_value), st["right_bold"]),
                "",
                Paragraph(text(r_label), st["label"]),
                Paragraph(text(r_value), st["right_bold"]),
            ]
        )
    gap = 14
    half = (width - gap) / 2
    return Table(
        rows,
        colWidths=[half * 0.58, half * 0.42, gap, half * 0.5, half * 0.5],
        style=table_style(
            ("BACKGROUND", (0, 0), (1, -1), TINT),
            ("BACKGROUND", (3, 0), (4, -1), TINT),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LINEBELOW", (0, 0), (1, -2), 0.4, RULE),
            ("LINEBELOW", (3, 0), (4, -2), 0.4, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ),
    )


_SCHEDULE_SHARES = (0.08, 0.28, 0.16, 0.16, 0.14, 0.18)


def _schedule_table(agreement: PaymentAgreement, width: float, st, _: Translate) -> Table:
    money = lambda amount: _money(agreement, amount)  # noqa: E731
    rows: list[list[object]] = [
        [
            Paragraph(text(_("No.")), st["head"]),
            Paragraph(text(_("Due date")), st["head"]),
            Paragraph(text(_("Amount")), st["head_right"]),
            Paragraph(text(_("Principal")), st["head_right"]),
            Paragraph(text(_("Interest")), st["head_right"]),
            Paragraph(text(_("Balance after")), st["head_right"]),
        ]
    ]
    for row in agreement.installments:
        rows.append(
            [
                Paragraph(str(row.sequence), st["cell"]),
                Paragraph(text(format_date(row.due_on, agreement.locale, "long")), st["cell"]),
                Paragraph(text(money(row.amount)), st["right_bold"]),
                Paragraph(text(money(row.principal)), st["right"]),
                Paragraph(text(money(row.interest)), st["right"]),
                Paragraph(text(money(row.balance_after)), st["right"]),
            ]
        )
    rows.append(
        [
            Paragraph(text(_("Total of installments")), st["bold"]),
            "",
            Paragraph(text(money(agreement.installments_total)), st["right_bold"]),
            Paragraph(
                text(money(sum((r.principal for r in agreement.installments), ZERO))),
                st["right_bold"],
            ),
            Paragraph(text(money(agreement.finance_charge)), st["right_bold"]),
            "",
        ]
    )
    return Table(
        rows,
        colWidths=[width * share for share in _SCHEDULE_SHARES],
        repeatRows=1,
        splitByRow=1,
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
            ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, TINT]),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
            ("SPAN", (0, -1), (1, -1)),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ),
    )


def _signatures(agreement: PaymentAgreement, width: float, st, _: Translate) -> Flowable:
    base = document_styles()
    gap = 24
    half = (width - gap) / 2

    def column(who: str, name: str) -> Table:
        # Each line to write on is the rule above its caption.
        rows: list[list[object]] = [
            [Paragraph(text(who), st["bold"])],
            [Spacer(1, 26)],
            [Paragraph(text(_("Sign here")), st["sign_label"])],
            [Paragraph(text(name) if name else "", st["cell"])],
            [Paragraph(text(_("Name (print)")), st["sign_label"])],
            [Spacer(1, 18)],
            [Paragraph(text(_("Date signed")), st["sign_label"])],
        ]
        return Table(
            rows,
            colWidths=[half],
            rowHeights=[None, 26, None, 20, None, 18, None],
            style=table_style(
                ("LINEABOVE", (0, 2), (-1, 2), 0.8, INK),
                ("LINEABOVE", (0, 4), (-1, 4), 0.8, INK),
                ("LINEABOVE", (0, 6), (-1, 6), 0.8, INK),
                ("VALIGN", (0, 3), (-1, 3), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ),
        )

    patient = column(_("Patient or responsible party"), agreement.patient.name)
    clinic = column(_("For %(clinic)s") % {"clinic": agreement.letterhead.name}, "")
    pair = Table(
        [[patient, "", clinic]],
        colWidths=[half, gap, half],
        style=table_style(
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ),
    )
    story: list[Flowable] = [
        Paragraph(text(_("Signatures")), base.heading),
        Paragraph(
            text(
                _(
                    "By signing, the patient agrees to pay the installments above on their due "
                    "dates, and confirms having received a copy of this agreement."
                )
            ),
            base.body,
        ),
    ]
    if agreement.signed_at is not None:
        signed = format_date(
            _local_date(agreement.signed_at, agreement.letterhead.timezone),
            agreement.locale,
            "long",
        )
        story.append(Paragraph(text(_("Signed on %(date)s.") % {"date": signed}), base.small))
    story += [Spacer(1, 4), pair]
    return KeepTogether(story)


def _local_date(moment: datetime, timezone: str) -> date:
    # Stored datetimes are UTC; SQLite may hand them back naive.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


def _story(agreement: PaymentAgreement, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    story: list[Flowable] = _status_warning(agreement, width, st, _)
    story.append(Paragraph(text(_("Payment plan agreement")), base.title))
    subtitle = _("Payment plan #%(plan)s, version %(version)s, dated %(date)s") % {
        "plan": agreement.payment_plan_id,
        "version": agreement.terms_version,
        "date": format_date(agreement.plan_date, agreement.locale, "long"),
    }
    story.append(Paragraph(text(subtitle), base.subtitle))
    story.append(
        Paragraph(
            text(
                _(
                    "%(patient)s agrees to pay %(clinic)s the amount financed below, with any "
                    "interest shown, in the installments and on the dates listed in the "
                    "schedule."
                )
                % {"patient": agreement.patient.name, "clinic": agreement.letterhead.name}
            ),
            base.body,
        )
    )
    story.append(
        KeepTogether(
            [Paragraph(text(_("Terms")), base.heading), _terms_table(agreement, width, st, _)]
        )
    )
    if agreement.down_payment > 0:
        story.append(
            Paragraph(
                text(
                    _("The down payment of %(amount)s is due when this agreement is signed.")
                    % {"amount": _money(agreement, agreement.down_payment)}
                ),
                base.small,
            )
        )
    story += [
        Spacer(1, 4),
        CondPageBreak(90),
        Paragraph(text(_("Schedule of payments")), base.heading),
        _schedule_table(agreement, width, st, _),
        Spacer(1, 6),
    ]
    late: list[Flowable] = [
        Paragraph(text(_("Late payments")), base.heading),
        Paragraph(text(late_fee_rule(agreement, _)), base.body),
    ]
    story.append(KeepTogether(late))
    if agreement.notes.strip():
        story.append(
            KeepTogether(
                [
                    Paragraph(text(_("Notes")), base.heading),
                    Paragraph(text(agreement.notes.strip()).replace("\n", "<br/>"), base.body),
                ]
            )
        )
    story.append(Spacer(1, 6))
    story.append(_signatures(agreement, width, st, _))
    return story


def build_agreement(agreement: PaymentAgreement) -> bytes:
    """The agreement PDF, in ``agreement.locale`` on the clinic's paper."""
    if not agreement.installments:
        raise ValueError("A payment plan agreement needs at least one installment.")
    _ = gettext_for(agreement.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        agreement.letterhead,
        title=_("Payment plan agreement"),
        locale=agreement.locale,
        patient=agreement.patient,
        printed_at=agreement.printed_at,
        subject=_("Payment plan #%(plan)s") % {"plan": agreement.payment_plan_id},
    )
    doc.build(_story(agreement, doc.width, _))
    return buffer.getvalue()
