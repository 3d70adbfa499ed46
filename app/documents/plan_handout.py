"""The treatment-plan handout a patient takes home from the consultation.

Plain words first: each phase's description, when its visits are (or that they are
still to be booked), then what each item costs, what insurance is expected to pay
and what the patient pays, per phase and in total.  When the case has alternatives
the options are compared side by side before their details.  A payment plan, when
one exists, is printed with its schedule, APR and total of payments.  The handout
ends with the next steps and how to reach the clinic.

Built from :class:`PlanHandout` (``app.services.billing.plan_handouts`` fills it); no
session, no Qt.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    ACCENT,
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
from app.documents.labels import Translate, gettext_for
from app.i18n import format_date, format_datetime, format_money, format_percent

__all__ = [
    "HandoutInstallment",
    "HandoutItem",
    "HandoutOption",
    "HandoutPaymentPlan",
    "HandoutPhase",
    "HandoutTotals",
    "HandoutVisit",
    "PlanHandout",
    "build_plan_handout",
    "handout_title",
]

ZERO = Decimal("0.00")


# --- plain data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoutTotals:
    """Fees (fee × quantity), discounts, the insurance estimate and what the patient pays."""

    fee_total: Decimal = ZERO
    discount: Decimal = ZERO
    insurance_estimate: Decimal = ZERO
    patient_portion: Decimal = ZERO


@dataclass(frozen=True)
class HandoutItem:
    description: str
    area: str
    quantity: int
    fee: Decimal
    line_total: Decimal
    discount: Decimal
    insurance_estimate: Decimal
    patient_portion: Decimal


@dataclass(frozen=True)
class HandoutVisit:
    """A booked visit of a phase (a UTC instant, printed in the clinic's zone)."""

    starts_at: datetime
    service: str = ""
    completed: bool = False


@dataclass(frozen=True)
class HandoutPhase:
    #: The phase's own words ("Implant placement"), "" for none: the handout numbers it.
    title: str
    description: str
    items: tuple[HandoutItem, ...]
    totals: HandoutTotals
    visits: tuple[HandoutVisit, ...] = ()


@dataclass(frozen=True)
class HandoutOption:
    """One option of the case (the only one when there are no alternatives)."""

    label: str
    #: "" when the option has no title of its own (its label says it all).
    title: str
    phases: tuple[HandoutPhase, ...]
    totals: HandoutTotals
    provider_name: str = ""


@dataclass(frozen=True)
class HandoutInstallment:
    sequence: int
    due_on: date
    amount: Decimal


@dataclass(frozen=True)
class HandoutPaymentPlan:
    down_payment: Decimal
    financed_amount: Decimal
    apr_basis_points: int
    finance_charge: Decimal
    total_of_payments: Decimal
    installments: tuple[HandoutInstallment, ...]
    signed: bool = False


@dataclass(frozen=True)
class PlanHandout:
    """Everything the handout prints; built by ``plan_handouts.plan_handout_data``."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    #: The locale the handout is written in ("es_US"): words, dates and money.
    locale: str
    currency: str
    options: tuple[HandoutOption, ...]
    prepared_on: date
    #: Set when the handout records what the patient accepted.
    accepted_on: date | None = None
    payment_plan: HandoutPaymentPlan | None = None


# --- layout ----------------------------------------------------------------------------------

#: Item table column shares: treatment, area, qty, fee, discount, insurance, you pay.
_ITEM_SHARES = (0.29, 0.10, 0.08, 0.13, 0.12, 0.14, 0.14)
_OPTION_LABEL = re.compile(r"^Option ([A-Z])$")


def _styles() -> dict[str, ParagraphStyle]:
    base = document_styles()
    st = cell_styles("Handout", base.small, fontSize=8.5, leading=10.5)
    cell = st["cell"]
    return {
        **st,
        "muted": ParagraphStyle("HandoutMuted", parent=cell, textColor=MUTED),
        "center": ParagraphStyle("HandoutCenter", parent=cell, alignment=TA_CENTER),
        "phase": ParagraphStyle(
            "HandoutPhase", parent=base.heading, fontSize=10.5, leading=13, textColor=INK
        ),
        "option": ParagraphStyle("HandoutOption", parent=base.heading, fontSize=13, leading=16),
    }


def option_label(label: str, _: Translate) -> str:
    """ "Option B" in the handout's language; a label the clinic typed stays as typed."""
    match = _OPTION_LABEL.match(label)
    return _("Option %(letter)s") % {"letter": match.group(1)} if match else label


def handout_title(handout: PlanHandout) -> str:
    _ = gettext_for(handout.locale)
    return _("Your treatment plan")


class _Money:
    def __init__(self, handout: PlanHandout) -> None:
        self.currency = handout.currency
        self.locale = handout.locale

    def __call__(self, amount: Decimal) -> str:
        return format_money(amount, self.currency, self.locale)

    def minus(self, amount: Decimal) -> str:
        """An amount taken off the total, signed by Babel as every negative amount is."""
        return self(-amount) if amount else "—"


def _head_table_commands() -> list[tuple]:
    return [
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]


def _comparison(handout: PlanHandout, width: float, st, _: Translate) -> list[Flowable]:
    """Option A / Option B side by side: what each costs and what the patient pays."""
    money = _Money(handout)
    options = handout.options
    first = 0.26 if len(options) <= 3 else 0.2
    other = (1 - first) / len(options)
    header: list[object] = [Paragraph("", st["head"])]
    titles: list[object] = [Paragraph(text(_("Treatment")), st["muted"])]
    for option in options:
        header.append(Paragraph(text(option_label(option.label, _)), st["head_right"]))
        titles.append(Paragraph(text(option.title), st["right"]))
    rows: list[list[object]] = [header, titles]

    def row(label: str, values: list[str], style: str = "right") -> None:
        rows.append(
            [Paragraph(text(label), st["cell"])] + [Paragraph(text(v), st[style]) for v in values]
        )

    row(_("Phases"), [str(len(o.phases)) for o in options])
    row(_("Treatment items"), [str(sum(len(p.items) for p in o.phases)) for o in options])
    row(_("Fees"), [money(o.totals.fee_total) for o in options])
    row(_("Discounts"), [money.minus(o.totals.discount) for o in options])
    row(_("Insurance estimate"), [money.minus(o.totals.insurance_estimate) for o in options])
    rows.append(
        [Paragraph(text(_("You pay")), st["bold"])]
        + [Paragraph(text(money(o.totals.patient_portion)), st["right_bold"]) for o in options]
    )
    commands = [
        *_head_table_commands(),
        ("LINEBELOW", (0, 1), (-1, -2), 0.4, RULE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
        ("BACKGROUND", (0, -1), (-1, -1), TINT),
    ]
    table = Table(
        rows,
        colWidths=[width * first] + [width * other] * len(options),
        repeatRows=1,
        style=table_style(*commands),
    )
    return [
        Paragraph(text(_("Your options side by side")), document_styles().heading),
        Paragraph(
            text(
                _(
                    "We talked about more than one way to treat you. Each option is explained "
                    "in detail on the pages that follow."
                )
            ),
            document_styles().body,
        ),
        table,
        Spacer(1, 8),
    ]


def _visits(phase: HandoutPhase, handout: PlanHandout, st, _: Translate) -> Paragraph:
    lh = handout.letterhead
    visits = _("Visits:")
    label = f"<b>{text(visits)}</b>"
    if not phase.visits:
        pending = _("To be scheduled. We will call you to book.")
        return Paragraph(f"{label} {text(pending)}", st["cell"])
    done = _("done")
    lines = []
    for visit in phase.visits:
        when = format_datetime(visit.starts_at, lh.timezone, handout.locale, "full", "short")
        line = text(when)
        if visit.service:
            line += " — " + text(visit.service)
        if visit.completed:
            line += f" <i>({text(done)})</i>"
        lines.append("•&nbsp;" + line)
    return Paragraph(label + "<br/>" + "<br/>".join(lines), st["cell"])


def _items_table(
    phase: HandoutPhase, handout: PlanHandout, width: float, st, _: Translate
) -> Table:
    money = _Money(handout)
    header = [
        Paragraph(text(_("Treatment")), st["head"]),
        Paragraph(text(_("Area")), st["head"]),
        Paragraph(text(_("Qty")), st["head_right"]),
        Paragraph(text(_("Fee")), st["head_right"]),
        Paragraph(text(_("Discount")), st["head_right"]),
        Paragraph(text(_("Insurance estimate")), st["head_right"]),
        Paragraph(text(_("You pay")), st["head_right"]),
    ]
    rows: list[list[object]] = [header]
    for item in phase.items:
        rows.append(
            [
                Paragraph(text(item.description), st["cell"]),
                Paragraph(text(item.area), st["cell"]),
                Paragraph(str(item.quantity), st["right"]),
                Paragraph(text(money(item.line_total)), st["right"]),
                Paragraph(text(money.minus(item.discount)), st["right"]),
                Paragraph(text(money.minus(item.insurance_estimate)), st["right"]),
                Paragraph(text(money(item.patient_portion)), st["right_bold"]),
            ]
        )
    t = phase.totals
    rows.append(
        [
            Paragraph(text(_("Phase total")), st["bold"]),
            "",
            "",
            Paragraph(text(money(t.fee_total)), st["right_bold"]),
            Paragraph(text(money.minus(t.discount)), st["right_bold"]),
            Paragraph(text(money.minus(t.insurance_estimate)), st["right_bold"]),
            Paragraph(text(money(t.patient_portion)), st["right_bold"]),
        ]
    )
    commands = [
        *_head_table_commands(),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, TINT]),
        ("LINEBELOW", (0, 1), (-1, -3), 0.3, RULE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
        ("SPAN", (0, -1), (2, -1)),
    ]
    return Table(
        rows,
        colWidths=[width * share for share in _ITEM_SHARES],
        repeatRows=1,
        splitByRow=1,
        style=table_style(*commands),
    )


def _totals_table(option: HandoutOption, handout: PlanHandout, width: float, st, _: Translate):
    money = _Money(handout)
    t = option.totals
    rows = [
        (_("Fees"), money(t.fee_total), "cell", "right"),
        (_("Discounts"), money.minus(t.discount), "cell", "right"),
        (_("Insurance estimate"), money.minus(t.insurance_estimate), "cell", "right"),
        (_("You pay"), money(t.patient_portion), "bold", "right_bold"),
    ]
    data = [
        [Paragraph(text(label), st[ls]), Paragraph(text(value), st[vs])]
        for label, value, ls, vs in rows
    ]
    table = Table(
        data,
        colWidths=[width * 0.3, width * 0.2],
        hAlign="RIGHT",
        style=table_style(
            ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
            ("BACKGROUND", (0, -1), (-1, -1), TINT),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ),
    )
    heading = (
        _("Total for %(option)s") % {"option": option_label(option.label, _)}
        if option.label
        else _("Total for this plan")
    )
    return KeepTogether([Paragraph(text(heading), document_styles().heading), table])


def _option_details(
    option: HandoutOption, handout: PlanHandout, width: float, st, _: Translate, several: bool
) -> list[Flowable]:
    base = document_styles()
    story: list[Flowable] = []
    if several:
        heading = option_label(option.label, _)
        if option.title:
            heading += f": {option.title}"
        story += [CondPageBreak(120), Paragraph(text(heading), st["option"])]
    if option.provider_name:
        story.append(
            Paragraph(
                text(_("Your provider: %(name)s") % {"name": option.provider_name}), base.small
            )
        )
    for number, phase in enumerate(option.phases, start=1):
        title = (
            _("Phase %(n)s: %(title)s") % {"n": number, "title": phase.title}
            if phase.title
            else _("Phase %(n)s") % {"n": number}
        )
        intro: list[Flowable] = [Paragraph(text(title), st["phase"])]
        if phase.description:
            intro.append(Paragraph(text(phase.description).replace("\n", "<br/>"), base.body))
        intro.append(_visits(phase, handout, st, _))
        intro.append(Spacer(1, 4))
        story.append(CondPageBreak(90))
        story += intro
        if phase.items:
            story.append(_items_table(phase, handout, width, st, _))
        else:
            story.append(Paragraph(text(_("No treatment in this phase.")), st["muted"]))
        story.append(Spacer(1, 6))
    story.append(_totals_table(option, handout, width, st, _))
    return story


def _payment_plan(handout: PlanHandout, width: float, st, _: Translate) -> list[Flowable]:
    plan = handout.payment_plan
    assert plan is not None
    base = document_styles()
    money = _Money(handout)
    apr = format_percent(Decimal(plan.apr_basis_points) / Decimal(10000), handout.locale)
    facts = [
        (_("Down payment"), money(plan.down_payment)),
        (_("Amount financed"), money(plan.financed_amount)),
        (_("Annual percentage rate (APR)"), apr),
        (_("Finance charge (interest)"), money(plan.finance_charge)),
        (_("Total of payments"), money(plan.total_of_payments)),
    ]
    facts_table = Table(
        [[Paragraph(text(k), st["cell"]), Paragraph(text(v), st["right_bold"])] for k, v in facts],
        colWidths=[width * 0.35, width * 0.2],
        hAlign="LEFT",
        style=table_style(
            ("LINEBELOW", (0, 0), (-1, -2), 0.3, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ),
    )
    header = [
        Paragraph(text(_("Payment")), st["head"]),
        Paragraph(text(_("Due date")), st["head"]),
        Paragraph(text(_("Amount")), st["head_right"]),
    ]
    rows: list[list[object]] = [header]
    for row in plan.installments:
        rows.append(
            [
                Paragraph(str(row.sequence), st["cell"]),
                Paragraph(text(format_date(row.due_on, handout.locale, "long")), st["cell"]),
                Paragraph(text(money(row.amount)), st["right"]),
            ]
        )
    rows.append(
        [
            Paragraph(text(_("Total of installments")), st["bold"]),
            "",
            Paragraph(
                text(money(sum((r.amount for r in plan.installments), ZERO))), st["right_bold"]
            ),
        ]
    )
    schedule = Table(
        rows,
        colWidths=[width * 0.12, width * 0.28, width * 0.18],
        hAlign="LEFT",
        repeatRows=1,
        splitByRow=1,
        style=table_style(
            *_head_table_commands(),
            ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, TINT]),
            ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
            ("SPAN", (0, -1), (1, -1)),
        ),
    )
    status = (
        _("These are the terms you signed.")
        if plan.signed
        else _("These terms are a proposal until you sign the payment plan agreement.")
    )
    return [
        CondPageBreak(150),
        Paragraph(text(_("Your payment plan")), base.heading),
        Paragraph(text(status), base.body),
        facts_table,
        Spacer(1, 6),
        schedule,
        Spacer(1, 6),
    ]


def _next_steps(handout: PlanHandout, _: Translate) -> list[Flowable]:
    base = document_styles()
    lh = handout.letterhead
    if handout.accepted_on is not None:
        steps = [
            _("Thank you for choosing your treatment with us. Keep this copy of what you agreed."),
            _("We will call you to book any visits still to be scheduled."),
        ]
        if handout.payment_plan is None:
            steps.append(_("Ask us about a payment plan if you would like to spread the cost."))
    else:
        steps = [
            _("Take this handout home and read it at your own pace."),
            _("When you are ready, tell us which treatment you choose so we can book your visits."),
            _("Ask us about a payment plan if you would like to spread the cost."),
        ]
    steps.append(
        _(
            "Insurance amounts are estimates: your insurer decides what it pays, and you pay "
            "the difference."
        )
    )
    story: list[Flowable] = [Paragraph(text(_("Next steps")), base.heading)]
    story += [Paragraph(text(step), base.bullet, bulletText="•") for step in steps]

    contact = [f"<b>{text(lh.name)}</b>"]
    contact += [text(line) for line in lh.address_lines]
    reach = []
    if lh.phone:
        reach.append(text(_("Phone")) + " " + text(lh.phone))
    if lh.email:
        reach.append(text(lh.email))
    if reach:
        contact.append(" · ".join(reach))
    story.append(
        KeepTogether(
            [
                Paragraph(text(_("Questions? We are here to help")), base.heading),
                Paragraph("<br/>".join(contact), base.body),
            ]
        )
    )
    return story


def _story(handout: PlanHandout, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    several = len(handout.options) > 1
    if several:
        title = _("Your treatment options")
    else:
        title = (handout.options[0].title if handout.options else "") or _("Your treatment plan")
    if handout.accepted_on is not None:
        subtitle = _("Accepted on %(date)s") % {
            "date": format_date(handout.accepted_on, handout.locale, "long")
        }
    else:
        subtitle = _("Prepared for %(name)s on %(date)s") % {
            "name": handout.patient.name,
            "date": format_date(handout.prepared_on, handout.locale, "long"),
        }
    story: list[Flowable] = [
        Paragraph(text(title), base.title),
        Paragraph(text(subtitle), base.subtitle),
        Paragraph(
            text(
                _(
                    "This handout explains the treatment we recommend, in the order we plan to "
                    "do it, and what it costs. Amounts are in %(currency)s."
                )
                % {"currency": handout.currency}
            ),
            base.body,
        ),
    ]
    if several:
        story += _comparison(handout, width, st, _)
    for option in handout.options:
        story += _option_details(option, handout, width, st, _, several)
        story.append(Spacer(1, 6))
    if handout.payment_plan is not None:
        story += _payment_plan(handout, width, st, _)
    story += _next_steps(handout, _)
    return story


def build_plan_handout(handout: PlanHandout, *, printed_at: datetime | None = None) -> bytes:
    """The handout PDF in ``handout.locale`` on the clinic's paper."""
    if not handout.options:
        raise ValueError("A handout needs at least one treatment option.")
    _ = gettext_for(handout.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        handout.letterhead,
        title=handout_title(handout),
        locale=handout.locale,
        patient=handout.patient,
        printed_at=printed_at,
        subject=", ".join(o.title for o in handout.options if o.title) or handout_title(handout),
    )
    doc.build(_story(handout, doc.width, _))
    return buffer.getvalue()
