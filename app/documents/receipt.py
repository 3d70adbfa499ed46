"""The payment receipt: what the patient paid (or got back), how, and where the money went.

One page in the common look (clinic letterhead, patient banner, "Page 1 of 1"):
the receipt number (the payment's id, ``R-000123``), when it was received, the
method, reference and who took it; the lines it paid — installments of payment
plans, account credit, what was later refunded — summing to the amount; and
the patient's account balance when printed.  A refund prints "Refund of
receipt R-000120" with a negative amount.  A voided payment or refund prints
"VOID — reason" in a red band across the top, so a reprint can never pass for
a live receipt.  Built by ``app.services.billing.receipts``; no session, no Qt here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

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
from app.documents.labels import Translate, gettext_for
from app.i18n import format_datetime, format_money

__all__ = [
    "METHOD_LABELS",
    "Receipt",
    "ReceiptLine",
    "build_receipt",
    "receipt_number",
]

VOID_RED = colors.HexColor("#B42318")
VOID_TINT = colors.HexColor("#FDECEA")


def N_(message: str) -> str:
    """Mark a msgid for ``pybabel extract`` where it is defined; it is translated when printed."""
    return message


#: Printed words for the stored payment methods (``PaymentMethod`` values).
METHOD_LABELS = {
    "cash": N_("Cash"),
    "card": N_("Card"),
    "cheque": N_("Check"),
    "bank_transfer": N_("Bank transfer"),
    "financing": N_("Financing company"),
    "insurance": N_("Insurance"),
}

LineKind = Literal["installment", "charge", "credit", "refunded", "refund_of"]


def receipt_number(payment_id: int) -> str:
    """The number printed on a payment's receipt: its id, ``R-000123``."""
    return f"R-{payment_id:06d}"


@dataclass(frozen=True)
class ReceiptLine:
    """One thing the money paid for (or, on a refund receipt, the refund itself).

    ``installment``: installment ``sequence`` of payment plan ``payment_plan_id``;
    ``charge``: a charge called ``description``; ``credit``: left on the account;
    ``refunded``: given back later by receipt ``payment_id``; ``refund_of``: this refund
    gives back receipt ``payment_id`` (``amount`` is then negative).
    """

    kind: LineKind
    amount: Decimal
    payment_plan_id: int | None = None
    sequence: int | None = None
    description: str = ""
    payment_id: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """Everything a receipt prints; built by ``app.services.billing.receipts.receipt_data``."""

    letterhead: ClinicLetterhead
    patient: PatientBanner
    #: The document's locale (the patient's language in the clinic's country: ``es_US``).
    locale: str
    currency: str
    payment_id: int
    kind: Literal["payment", "refund"]
    received_at: datetime
    #: As stored: positive for a payment and a refund alike (a refund prints it negative).
    amount: Decimal
    method: str
    reference: str = ""
    received_by: str = ""
    #: A payment's note, or a refund's reason.
    notes: str = ""
    lines: tuple[ReceiptLine, ...] = ()
    #: ``balances.patient_balance`` when printed: above 0 owed, below 0 credit.
    balance: Decimal = Decimal("0.00")
    printed_at: datetime | None = None
    voided: bool = False
    void_reason: str = ""
    voided_at: datetime | None = None
    voided_by: str = ""

    @property
    def number(self) -> str:
        return receipt_number(self.payment_id)

    @property
    def signed_amount(self) -> Decimal:
        """What the receipt shows as its amount: a refund is money going back, negative."""
        return -self.amount if self.kind == "refund" else self.amount


# --- layout ----------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    st = cell_styles("Receipt", document_styles().body, fontSize=9.5, leading=12.5, spaceAfter=0)
    cell = st["cell"]
    return {
        **st,
        "label": ParagraphStyle("ReceiptLabel", parent=cell, textColor=MUTED, fontSize=9),
        "amount": ParagraphStyle(
            "ReceiptAmount", parent=cell, fontName=FONT_BOLD, fontSize=16, leading=20
        ),
        "void": ParagraphStyle(
            "ReceiptVoid",
            parent=cell,
            fontName=FONT_BOLD,
            fontSize=18,
            leading=22,
            textColor=VOID_RED,
        ),
        "void_detail": ParagraphStyle("ReceiptVoidDetail", parent=cell, textColor=VOID_RED),
        "thanks": ParagraphStyle("ReceiptThanks", parent=cell, textColor=ACCENT, spaceBefore=6),
    }


def _money(receipt: Receipt, amount: Decimal) -> str:
    return format_money(amount, receipt.currency, receipt.locale)


def _when(receipt: Receipt, moment: datetime) -> str:
    return format_datetime(moment, receipt.letterhead.timezone, receipt.locale, "long")


def _void_band(receipt: Receipt, width: float, st, _: Translate) -> Table:
    cells: list[Flowable] = [
        Paragraph(text(_("VOID — %(reason)s") % {"reason": receipt.void_reason}), st["void"])
    ]
    if receipt.voided_at is not None:
        detail = _("Voided %(when)s by %(who)s") % {
            "when": _when(receipt, receipt.voided_at),
            "who": receipt.voided_by or "—",
        }
        cells.append(Paragraph(text(detail), st["void_detail"]))
    cells.append(
        Paragraph(
            text(_("This receipt is void: the money on it does not count.")), st["void_detail"]
        )
    )
    return Table(
        [[cells]],
        colWidths=[width],
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, -1), VOID_TINT),
            ("BOX", (0, 0), (-1, -1), 2, VOID_RED),
            ("TOPPADDING", (0, 0), (-1, -1), 8),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ("LEFTPADDING", (0, 0), (-1, -1), 10),
            ("RIGHTPADDING", (0, 0), (-1, -1), 10),
        ),
    )


def _details_table(receipt: Receipt, width: float, st, _: Translate) -> Table:
    method = METHOD_LABELS.get(receipt.method, receipt.method.replace("_", " ").capitalize())
    received_label = _("Refunded") if receipt.kind == "refund" else _("Received")
    taken_label = _("Refunded by") if receipt.kind == "refund" else _("Received by")
    rows: list[tuple[str, Paragraph]] = [
        (_("Amount"), Paragraph(text(_money(receipt, receipt.signed_amount)), st["amount"])),
        (received_label, Paragraph(text(_when(receipt, receipt.received_at)), st["cell"])),
        (_("Method"), Paragraph(text(_(method)), st["cell"])),
        (_("Reference"), Paragraph(text(receipt.reference or "—"), st["cell"])),
        (taken_label, Paragraph(text(receipt.received_by or "—"), st["cell"])),
    ]
    if receipt.notes:
        notes_label = _("Reason") if receipt.kind == "refund" else _("Note")
        rows.append((notes_label, Paragraph(text(receipt.notes), st["cell"])))
    data = [[Paragraph(text(label), st["label"]), value] for label, value in rows]
    return Table(
        data,
        colWidths=[width * 0.25, width * 0.75],
        style=table_style(
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("LINEBELOW", (0, 0), (-1, -2), 0.4, RULE),
        ),
        hAlign="LEFT",
    )


def _line_text(receipt: Receipt, line: ReceiptLine, _: Translate) -> str:
    if line.kind == "installment":
        return _("Installment %(n)s of payment plan #%(plan)s") % {
            "n": line.sequence,
            "plan": line.payment_plan_id,
        }
    if line.kind == "charge":
        return line.description or _("Charge")
    if line.kind == "credit":
        return _("Account credit")
    number = receipt_number(line.payment_id) if line.payment_id is not None else "—"
    if line.kind == "refunded":
        if line.at is not None:
            return _("Refunded %(when)s, receipt %(number)s") % {
                "when": _when(receipt, line.at),
                "number": number,
            }
        return _("Refunded, receipt %(number)s") % {"number": number}
    return _("Refund of receipt %(number)s") % {"number": number}


def _lines_table(receipt: Receipt, width: float, st, _: Translate) -> Table:
    data: list[list[object]] = [
        [
            Paragraph(text(_("Description")), st["head"]),
            Paragraph(text(_("Amount")), st["head_right"]),
        ]
    ]
    for line in receipt.lines:
        data.append(
            [
                Paragraph(text(_line_text(receipt, line, _)), st["cell"]),
                Paragraph(text(_money(receipt, line.amount)), st["right"]),
            ]
        )
    data.append(
        [
            Paragraph(text(_("Total")), st["bold"]),
            Paragraph(text(_money(receipt, receipt.signed_amount)), st["right_bold"]),
        ]
    )
    return Table(
        data,
        colWidths=[width * 0.75, width * 0.25],
        repeatRows=1,
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 1), (-1, -2), 0.4, RULE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.9, INK),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ),
        splitByRow=1,
    )


def _balance_table(receipt: Receipt, width: float, st, _: Translate) -> Table:
    if receipt.balance < 0:
        label, amount = _("Credit on account"), -receipt.balance
    else:
        label, amount = _("Balance due"), receipt.balance
    as_of = (
        _("Account balance as of %(when)s") % {"when": _when(receipt, receipt.printed_at)}
        if receipt.printed_at is not None
        else _("Account balance")
    )
    data = [
        [Paragraph(text(as_of), st["label"]), ""],
        [
            Paragraph(text(label), st["bold"]),
            Paragraph(text(_money(receipt, amount)), st["right_bold"]),
        ],
    ]
    return Table(
        data,
        colWidths=[width * 0.75, width * 0.25],
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, -1), TINT),
            ("SPAN", (0, 0), (-1, 0)),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ),
    )


def _story(receipt: Receipt, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    story: list[Flowable] = []
    if receipt.voided:
        story += [_void_band(receipt, width, st, _), Spacer(1, 10)]
    title = _("Refund receipt") if receipt.kind == "refund" else _("Receipt")
    story.append(Paragraph(text(f"{title} {receipt.number}"), base.title))
    if receipt.kind == "refund":
        original = next((line for line in receipt.lines if line.kind == "refund_of"), None)
        if original is not None:
            story.append(Paragraph(text(_line_text(receipt, original, _)), base.subtitle))
    else:
        story.append(Spacer(1, 6))
    story.append(_details_table(receipt, width, st, _))
    story.append(Spacer(1, 6))
    heading = _("Refund") if receipt.kind == "refund" else _("What this payment paid")
    story.append(
        KeepTogether([Paragraph(text(heading), base.heading), _lines_table(receipt, width, st, _)])
    )
    story.append(Spacer(1, 10))
    story.append(_balance_table(receipt, width, st, _))
    if receipt.kind == "payment" and not receipt.voided:
        story.append(Paragraph(text(_("Thank you for your payment.")), st["thanks"]))
    return story


def build_receipt(receipt: Receipt) -> bytes:
    """The receipt PDF, in ``receipt.locale`` and the clinic's paper size."""
    _ = gettext_for(receipt.locale)
    buffer = io.BytesIO()
    title = _("Refund receipt") if receipt.kind == "refund" else _("Receipt")
    doc = ClinicDocTemplate(
        buffer,
        receipt.letterhead,
        title=f"{title} {receipt.number}",
        locale=receipt.locale,
        patient=receipt.patient,
        printed_at=receipt.printed_at,
        subject=_("Receipt %(number)s") % {"number": receipt.number},
    )
    doc.build(_story(receipt, doc.width, _))
    return buffer.getvalue()
