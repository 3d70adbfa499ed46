"""The recovery kit: the one sheet that opens the clinic's database when the key store is gone.

It prints the database key as large monospaced text and as a QR code (for a
barcode scanner that types what it reads), the facts needed to match the sheet
to its database, plain instructions, and lines to record where it was put.

A clinic on the clinic server has no database key of CareDesk's; its kit is the *backup
key's*: the key the PC making the server's backups encrypts them with, to be kept with the
off-site backups (``kind="server_backups"``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    Spacer,
    Table,
)

from app.documents.common import (
    ACCENT,
    FONT,
    FONT_MONO_BOLD,
    INK,
    MUTED,
    RULE,
    TINT,
    ClinicDocTemplate,
    ClinicLetterhead,
    DocumentStyles,
    document_styles,
    table_style,
    text,
)
from app.documents.labels import Translate, gettext_for
from app.i18n import format_datetime

__all__ = ["RecoveryKitData", "build_recovery_kit", "key_lines", "recovery_qr_drawing"]

QR_SIZE = 1.6 * inch
_GROUPS_PER_LINE = 4


KitKind = Literal["database", "server_backups"]


@dataclass(frozen=True, repr=False, kw_only=True)
class RecoveryKitData:
    """Everything the kit prints; built by the service that created or opened the database.

    ``kind`` "database": the key of the clinic file at ``database_path``; "server_backups":
    the key the clinic server's backups are encrypted with (the server is ``server_address``
    — "host:port" — and ``server_database``; ``computer`` is the PC holding the key)."""

    letterhead: ClinicLetterhead
    recovery_text: str
    is_raw_key: bool
    created_at: datetime
    created_by: str
    kind: KitKind = "database"
    database_id: str = ""
    database_path: str = ""
    server_address: str = ""
    server_database: str = ""
    computer: str = ""
    locale: str | None = None

    def __post_init__(self) -> None:
        if not self.recovery_text:
            raise ValueError("the recovery kit needs the recovery key or passphrase")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware (UTC)")
        if self.kind not in ("database", "server_backups"):
            raise ValueError(f"unknown kind of recovery kit: {self.kind!r}")
        if self.kind == "database" and not (self.database_id and self.database_path):
            raise ValueError("a database's kit names its file and id")
        if self.kind == "server_backups" and not (self.server_address and self.server_database):
            raise ValueError("a backup key's kit names the clinic server and its database")

    @property
    def for_server_backups(self) -> bool:
        return self.kind == "server_backups"

    def __repr__(self) -> str:  # the key never reaches a log or a traceback
        if self.for_server_backups:
            where = f"{self.server_address}/{self.server_database}"
            return f"RecoveryKitData(server_backups={where!r}, hidden)"
        return f"RecoveryKitData(database_id={self.database_id!r}, hidden)"


def recovery_qr_drawing(value: str, size: float = QR_SIZE) -> Drawing:
    """A square drawing of the QR code holding exactly ``value`` (quiet zone included).

    Error correction level M survives a smudge or a fold without making the
    code too dense for a cheap scanner.  reportlab writes non-ASCII text as
    UTF-8 without an ECI marker, so a passphrase with accents may be misread
    by some scanners; the printed text is the authority (a raw key is ASCII).
    """
    widget = QrCodeWidget(value, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(
        size,
        size,
        transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0],
        initialFontName=FONT,  # the renderer would otherwise reference Helvetica
    )
    drawing.add(widget)
    return drawing


def key_lines(recovery_text: str, is_raw_key: bool) -> list[str]:
    """How the key is laid out on paper: a raw key as rows of four groups of four."""
    if not is_raw_key:
        return [recovery_text]
    groups = recovery_text.split()
    return [
        " ".join(groups[i : i + _GROUPS_PER_LINE]) for i in range(0, len(groups), _GROUPS_PER_LINE)
    ]


def _key_style(is_raw_key: bool) -> ParagraphStyle:
    size = 19 if is_raw_key else 15
    return ParagraphStyle(
        "RecoveryKey",
        fontName=FONT_MONO_BOLD,
        fontSize=size,
        leading=size * 1.45,
        textColor=INK,
    )


def _key_paragraphs(data: RecoveryKitData) -> list[Flowable]:
    style = _key_style(data.is_raw_key)
    paragraphs: list[Flowable] = []
    for line in key_lines(data.recovery_text, data.is_raw_key):
        # Non-breaking spaces keep a passphrase's spacing exactly as it must be typed.
        markup = text(line) if data.is_raw_key else text(line).replace(" ", "&nbsp;")
        paragraphs.append(Paragraph(markup, style))
    return paragraphs


def _key_box(data: RecoveryKitData, styles: DocumentStyles, _: Translate) -> Flowable:
    label = _("Recovery key") if data.is_raw_key else _("Passphrase")
    hint = (
        _("Scan the code or type the key. Spaces and capitals do not matter.")
        if data.is_raw_key
        else _(
            "Scan the code or type the passphrase exactly as printed: capitals, spaces and "
            "punctuation count."
        )
    )
    label_style = ParagraphStyle(
        "KeyLabel", parent=styles.label, fontName=styles.heading.fontName, textColor=ACCENT
    )
    left = [Paragraph(text(label.upper()), label_style), Spacer(1, 6)]
    left += _key_paragraphs(data)
    left += [Spacer(1, 4), Paragraph(text(hint), styles.small)]
    qr = recovery_qr_drawing(data.recovery_text)
    table = Table([[left, qr]], colWidths=[None, QR_SIZE + 8])
    table.setStyle(
        table_style(
            ("BOX", (0, 0), (-1, -1), 1.5, ACCENT),
            ("BACKGROUND", (0, 0), (0, 0), TINT),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (0, 0), 14),
            ("RIGHTPADDING", (0, 0), (0, 0), 10),
            ("TOPPADDING", (0, 0), (-1, -1), 10),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
            ("LEFTPADDING", (1, 0), (1, 0), 4),
            ("RIGHTPADDING", (1, 0), (1, 0), 4),
        )
    )
    return table


def _details(data: RecoveryKitData, locale: str, styles: DocumentStyles, _: Translate) -> Table:
    letterhead = data.letterhead
    created = format_datetime(data.created_at, letterhead.timezone, locale, "long")
    kind = _("Recovery key (256-bit)") if data.is_raw_key else _("Passphrase chosen at setup")
    rows = [(_("Clinic"), Paragraph(text(letterhead.name), styles.value))]
    if data.for_server_backups:
        where = f"{data.server_address}/{data.server_database}"  # as in --server's address
        rows.append((_("Clinic server"), Paragraph(text(where), styles.mono)))
        if data.computer:
            rows.append((_("Key kept on"), Paragraph(text(data.computer), styles.value)))
    else:
        rows += [
            (_("Database ID"), Paragraph(text(data.database_id), styles.mono)),
            (_("Database file"), Paragraph(text(data.database_path), styles.mono)),
        ]
    rows += [
        (_("Created"), Paragraph(text(created), styles.value)),
        (_("Created by"), Paragraph(text(data.created_by), styles.value)),
        (_("Kind of key"), Paragraph(text(kind), styles.value)),
    ]
    # The label column is as wide as the longest label (Spanish ones are longer).
    label_width = max(
        stringWidth(label, styles.label.fontName, styles.label.fontSize) for label, _v in rows
    )
    table = Table(
        [[Paragraph(text(label), styles.label), value] for label, value in rows],
        colWidths=[min(label_width + 14, 2.2 * inch), None],
    )
    table.setStyle(
        table_style(
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE),
        )
    )
    return table


def _bullets(items: list[str], styles: DocumentStyles, *, numbered: bool = False) -> Flowable:
    return ListFlowable(
        [ListItem(Paragraph(text(item), styles.body), leftIndent=16) for item in items],
        bulletType="1" if numbered else "bullet",
        start=None if numbered else "•",
        bulletFontName=styles.body.fontName,
        bulletFontSize=styles.body.fontSize,
        bulletColor=MUTED,
        leftIndent=16,
        bulletDedent=12,
    )


def _storage_record(styles: DocumentStyles, _: Translate) -> Flowable:
    labels = [_("Date stored"), _("Stored by"), _("Place")]
    widths = [stringWidth(x, styles.label.fontName, styles.label.fontSize) + 10 for x in labels]
    first_width = max(widths[0], widths[2])
    cell = [Paragraph(text(label), styles.label) for label in labels]
    table = Table(
        [[cell[0], "", cell[1], ""], [cell[2], "", "", ""]],
        colWidths=[first_width, None, widths[1] + 8, None],
        rowHeights=[24, 24],
    )
    table.setStyle(
        table_style(
            ("SPAN", (1, 1), (3, 1)),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("LEFTPADDING", (2, 0), (2, 0), 12),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LINEBELOW", (1, 0), (1, 0), 0.6, INK),
            ("LINEBELOW", (3, 0), (3, 0), 0.6, INK),
            ("LINEBELOW", (1, 1), (3, 1), 0.6, INK),
        )
    )
    return KeepTogether(
        [Paragraph(text(_("Where this sheet is kept")), styles.heading), Spacer(1, 2), table]
    )


@dataclass(frozen=True)
class _KitWords:
    """The sentences that differ between a database's kit and the backup key's."""

    title: str
    subtitle: str
    what_this_is: str
    keep_safe: list[str]
    how_to: list[str]


def _database_words(data: RecoveryKitData, _: Translate) -> _KitWords:
    """What the kit of a clinic file's own key says."""
    return _KitWords(
        title=_("Database recovery kit"),
        subtitle=_("Keep this sheet in a safe or a locked drawer."),
        what_this_is=_(
            "CareDesk keeps %(clinic)s's records encrypted on this computer. This sheet holds "
            "the recovery key that unlocks them. Without it, or the computer's own key store, "
            "nobody can open the records: not you, not your IT support, not CareDesk."
        )
        % {"clinic": data.letterhead.name},
        keep_safe=[
            _("Store this sheet in a safe or a locked drawer, away from the computers."),
            _("Never email it, photograph it, scan it or keep a copy on any computer or phone."),
            _(
                "Anyone holding this sheet and a copy of the database can read every patient "
                "record."
            ),
            _("Tell only the people who may need it where it is kept."),
        ],
        how_to=[
            _(
                "CareDesk asks for the recovery key when this computer's key store is lost: for "
                "example after Windows or macOS is reinstalled, the user account is replaced, or "
                "the database is moved to a new computer."
            ),
            _("Type the key into that window, or scan the QR code with a barcode scanner.")
            if data.is_raw_key
            else _(
                "Type the passphrase into that window, or scan the QR code with a barcode scanner."
            ),
            _("CareDesk opens the records and stores the key in the computer's key store again."),
            _("Lost this sheet? An owner can print it again from Settings."),
        ],
    )


def _server_backups_words(data: RecoveryKitData, _: Translate) -> _KitWords:
    """What the kit of the clinic server's backup key says: the server itself has no key of
    CareDesk's, its backups do — and a backup nobody can open is no backup."""
    return _KitWords(
        title=_("Backup key recovery kit"),
        subtitle=_("Keep this sheet locked away with the clinic's off-site backups."),
        what_this_is=_(
            "The backups of %(clinic)s's clinic server are encrypted with this key. Without it "
            "nobody can restore them: not you, not your IT support, not CareDesk."
        )
        % {"clinic": data.letterhead.name},
        keep_safe=[
            _(
                "Keep it locked away with the off-site backups, but never in the same bag or box "
                "as a backup disk."
            ),
            _("Never email it, photograph it, scan it or keep a copy on any computer or phone."),
            _(
                "Anyone holding this sheet and a backup of the clinic server can read every "
                "patient record."
            ),
            _("Tell only the people who may need it where it is kept."),
        ],
        how_to=[
            _(
                "CareDesk asks for this key to check or restore a backup on a computer that does "
                "not hold it."
            ),
            _(
                "For caredesk backup verify FILE or caredesk backup restore FILE, put the key in "
                "CAREDESK_RECOVERY_KEY, or type or scan it when asked (Settings → Backups → "
                "Restore… shows how)."
            ),
            _(
                "A backup made with an earlier key opens only with that key's sheet: keep each "
                "sheet with its backups."
            ),
            _(
                "Lost this sheet? Print it again in Settings → Backups on the computer that makes "
                "the backups."
            ),
        ],
    )


def _story(data: RecoveryKitData, locale: str, _: Translate) -> list[Flowable]:
    styles = document_styles()
    words = (_server_backups_words if data.for_server_backups else _database_words)(data, _)
    return [
        Paragraph(text(words.title), styles.title),
        Paragraph(text(words.subtitle), styles.subtitle),
        _key_box(data, styles, _),
        Spacer(1, 10),
        _details(data, locale, styles, _),
        KeepTogether(
            [
                Paragraph(text(_("What this is")), styles.heading),
                Paragraph(text(words.what_this_is), styles.body),
            ]
        ),
        KeepTogether(
            [Paragraph(text(_("Keep it safe")), styles.heading), _bullets(words.keep_safe, styles)]
        ),
        KeepTogether(
            [
                Paragraph(text(_("How to use it")), styles.heading),
                _bullets(words.how_to, styles, numbered=True),
            ]
        ),
        _storage_record(styles, _),
    ]


def build_recovery_kit(data: RecoveryKitData) -> bytes:
    """The recovery kit PDF for one database (or the clinic server's backup key), in the
    kit's locale (the clinic's by default)."""
    locale = data.locale or data.letterhead.locale
    _ = gettext_for(locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        data.letterhead,
        title=_("Recovery kit"),
        locale=locale,
        subject=_("Backup key recovery kit")
        if data.for_server_backups
        else _("Database recovery kit"),
    )
    doc.build(_story(data, locale, _))
    return buffer.getvalue()
