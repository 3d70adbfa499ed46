"""The patient intake form: blank for the clipboard or a tablet, or pre-filled from the record.

Sections, in the order a patient fills them: about you, contact, emergency
contact, insurance, medical history (a fixed checklist plus free text),
medications, allergies, how we may contact you, the acknowledgement of the
notice of privacy practices, and the signature and date lines.

The **blank** form carries fillable PDF fields (AcroForm text fields and
checkboxes) under printed labels, so the same file prints for a pen or opens on a
tablet.  The **pre-filled** form prints what the record holds as text in the
embedded DejaVu Sans (form fields can only use the 14 standard PDF fonts, which
cannot show "Nguyễn"); anything the record lacks — no address, no insurance — is
an empty line to write on, never "None".  Built by ``app.services.patients.intake``; no
session, no Qt here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    ACCENT,
    FONT,
    FONT_BOLD,
    INK,
    MUTED,
    RULE,
    ClinicDocTemplate,
    ClinicLetterhead,
    PatientBanner,
    document_styles,
    table_style,
    text,
)
from app.documents.labels import gettext_for
from app.i18n import format_date

__all__ = [
    "MEDICAL_HISTORY",
    "IntakeForm",
    "IntakePatient",
    "IntakePolicy",
    "build_intake_form",
]


def N_(message: str) -> str:
    """Mark a msgid for ``pybabel extract`` where it is defined; it is translated when printed."""
    return message


#: The medical history checklist: (field name, question).  The field names are the
#: fillable form's, so they never change once clinics have tablets reading them.
MEDICAL_HISTORY: tuple[tuple[str, str], ...] = (
    ("history_heart_disease", N_("Heart disease or heart attack")),
    ("history_high_blood_pressure", N_("High blood pressure")),
    ("history_heart_valve", N_("Heart murmur or artificial heart valve")),
    ("history_pacemaker", N_("Pacemaker or implanted defibrillator")),
    ("history_stroke", N_("Stroke")),
    ("history_diabetes", N_("Diabetes")),
    ("history_bleeding_disorder", N_("Bleeding disorder or anemia")),
    ("history_blood_thinners", N_("Taking blood thinners")),
    ("history_asthma", N_("Asthma or lung disease")),
    ("history_infectious_disease", N_("Hepatitis, HIV or tuberculosis")),
    ("history_kidney_disease", N_("Kidney disease")),
    ("history_liver_disease", N_("Liver disease")),
    ("history_thyroid", N_("Thyroid disease")),
    ("history_seizures", N_("Epilepsy or seizures")),
    ("history_cancer", N_("Cancer, radiation or chemotherapy")),
    ("history_joint_replacement", N_("Artificial joint")),
    ("history_osteoporosis", N_("Osteoporosis or bone-strengthening medicine")),
    ("history_pregnancy", N_("Pregnant or breastfeeding")),
    ("history_mental_health", N_("Depression, anxiety or other mental health condition")),
    ("history_fainting", N_("Fainting spells or dizziness")),
    ("history_latex", N_("Latex allergy")),
    ("history_tobacco", N_("Tobacco or vaping")),
)

_SEX = {
    "female": N_("Female"),
    "male": N_("Male"),
    "intersex": N_("Intersex"),
}
_RELATION = {
    "self": N_("Self"),
    "spouse": N_("Spouse"),
    "child": N_("Child"),
    "other": N_("Other"),
}
_PRIORITY = {
    "primary": N_("Primary insurance"),
    "secondary": N_("Secondary insurance"),
    "tertiary": N_("Other insurance"),
}


@dataclass(frozen=True)
class IntakePolicy:
    """One insurance policy as the record holds it (payer from the contacts directory)."""

    priority: str
    payer: str
    member_id: str
    plan_name: str = ""
    group_number: str = ""
    subscriber_name: str = ""
    #: ``SubscriberRelation`` value: self, spouse, child, other.
    subscriber_relation: str = "self"
    subscriber_date_of_birth: date | None = None


@dataclass(frozen=True)
class IntakePatient:
    """What the record holds about the patient; empty strings where it holds nothing."""

    first_name: str
    last_name: str
    middle_name: str = ""
    preferred_name: str = ""
    date_of_birth: date | None = None
    #: ``Sex`` value or "" (``unknown`` prints as a blank).
    sex: str = ""
    pronouns: str = ""
    #: A language tag ("en", "es"), printed as the language's name.
    preferred_language: str = ""
    #: Phones as people write them ("(207) 555-0142").
    mobile_phone: str = ""
    home_phone: str = ""
    work_phone: str = ""
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    emergency_contact_name: str = ""
    emergency_contact_relation: str = ""
    emergency_contact_phone: str = ""
    medical_alerts: str = ""
    allergies: str = ""
    medications: str = ""
    may_text: bool = False
    may_email: bool = False
    may_voicemail: bool = False


@dataclass(frozen=True)
class IntakeForm:
    """Everything the intake form prints; built by ``app.services.patients.intake.intake_data``.

    ``patient`` None is the blank, fillable form; ``banner`` names the patient a blank
    form was printed for (or is None for a stack of forms for the clipboard).
    """

    letterhead: ClinicLetterhead
    #: The document's locale (the patient's language in the clinic's country: ``es_US``).
    locale: str
    patient: IntakePatient | None = None
    banner: PatientBanner | None = None
    policies: tuple[IntakePolicy, ...] = ()
    prepared_on: date | None = None
    printed_at: datetime | None = None

    @property
    def blank(self) -> bool:
        return self.patient is None


# --- the pieces of a form --------------------------------------------------------------------

_LABEL_SIZE = 7.5
_LABEL_LEADING = 9.5
_LINE_HEIGHT = 17.0
_ROW_GAP = 5.0
_CELL_GAP = 10.0
_BOX = 9.0
_FIELD_TINT = colors.HexColor("#F4F7FA")
_FIELD_FONT_SIZE = 9


def _set_field_page(canvas: Any) -> int:
    """Point new form fields at the page being drawn; return what to restore.

    The common template holds every page until the total page count is known, so
    reportlab's document still thinks it is on page 1 while page 2 is drawn; a field's
    /P (its page) must name the page it sits on.
    """
    doc = canvas._doc
    saved = doc.pageCounter
    doc.pageCounter = canvas.getPageNumber()
    return saved


@dataclass(frozen=True)
class _Cell:
    """One labelled answer on a form row: ``share`` of the row's width, ``lines`` tall."""

    label: str
    name: str
    value: str = ""
    share: float = 1.0
    lines: int = 1
    #: A signature is written by hand: never a typed field.
    signature: bool = False


class _FieldRow(Flowable):
    """A row of labelled answers: label above, the answer (or a fillable field) on a line."""

    def __init__(self, cells: Sequence[_Cell], fillable: bool) -> None:
        super().__init__()
        self.cells = tuple(cells)
        self.fillable = fillable
        self._paragraphs: list[Paragraph | None] = []
        self._area = 0.0

    def _widths(self, width: float) -> list[float]:
        total = sum(c.share for c in self.cells)
        usable = width - _CELL_GAP * (len(self.cells) - 1)
        return [usable * c.share / total for c in self.cells]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        style = document_styles().value
        self._paragraphs = []
        area = max(c.lines for c in self.cells) * _LINE_HEIGHT
        for cell, width in zip(self.cells, self._widths(availWidth), strict=True):
            if self.fillable or not cell.value:
                self._paragraphs.append(None)
                continue
            paragraph = Paragraph(text(cell.value).replace("\n", "<br/>"), style)
            height = paragraph.wrap(width - 4, availHeight)[1]
            area = max(area, height + 6)
            self._paragraphs.append(paragraph)
        self._area = area
        self.height = _LABEL_LEADING + self._area + _ROW_GAP
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        x = 0.0
        bottom = _ROW_GAP
        top = bottom + self._area
        for cell, width, paragraph in zip(
            self.cells, self._widths(self.width), self._paragraphs, strict=True
        ):
            canvas.setFont(FONT, _LABEL_SIZE)
            canvas.setFillColor(MUTED)
            canvas.drawString(x, top + 2.5, _fit(cell.label, FONT, _LABEL_SIZE, width))
            canvas.setStrokeColor(RULE)
            canvas.setLineWidth(0.6)
            # One ruled line per line of answer, so the printed form can be written on.
            ruled = 1 if paragraph is not None or cell.signature else cell.lines
            for n in range(ruled):
                canvas.line(x, bottom + n * _LINE_HEIGHT, x + width, bottom + n * _LINE_HEIGHT)
            if self.fillable and not cell.signature:
                self._field(cell, x, bottom, width, cell.lines * _LINE_HEIGHT)
            elif paragraph is not None:
                paragraph.drawOn(canvas, x + 2, top - 3 - paragraph.height)
            x += width + _CELL_GAP

    def _field(self, cell: _Cell, x: float, y: float, width: float, height: float) -> None:
        canvas = self.canv
        saved = _set_field_page(canvas)
        try:
            canvas.acroForm.textfield(
                name=cell.name,
                tooltip=cell.label,
                x=x,
                y=y + 0.5,
                width=width,
                height=height - 1,
                relative=True,
                borderWidth=0,
                borderColor=None,
                fillColor=_FIELD_TINT,
                textColor=INK,
                fontName="Helvetica",
                fontSize=0 if cell.lines > 1 else _FIELD_FONT_SIZE,
                fieldFlags="multiline" if cell.lines > 1 else "",
                maxlen=2000 if cell.lines > 1 else 200,
            )
        finally:
            canvas._doc.pageCounter = saved


class _CheckBox(Flowable):
    """A tick box: a fillable checkbox on the blank form, a printed box (ticked or not) else."""

    def __init__(self, name: str, label: str, fillable: bool, checked: bool = False) -> None:
        super().__init__()
        self.name = name
        self.label = label
        self.fillable = fillable
        self.checked = checked
        self.width = self.height = _BOX

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return _BOX, _BOX

    def draw(self) -> None:
        canvas = self.canv
        if self.fillable:
            saved = _set_field_page(canvas)
            try:
                canvas.acroForm.checkbox(
                    name=self.name,
                    tooltip=self.label,
                    x=0,
                    y=0,
                    size=_BOX,
                    relative=True,
                    buttonStyle="check",
                    borderWidth=0.75,
                    borderColor=INK,
                    fillColor=colors.white,
                    textColor=INK,
                    fieldFlags="",
                    checked=self.checked,
                )
            finally:
                canvas._doc.pageCounter = saved
            return
        canvas.setStrokeColor(INK)
        canvas.setLineWidth(0.75)
        canvas.rect(0, 0, _BOX, _BOX, stroke=1, fill=0)
        if self.checked:
            canvas.setLineWidth(1.4)
            path = canvas.beginPath()
            path.moveTo(1.8, 4.6)
            path.lineTo(3.8, 2.0)
            path.lineTo(7.4, 7.4)
            canvas.drawPath(path, stroke=1, fill=0)


def _fit(value: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(value, font, size) <= width:
        return value
    while value and pdfmetrics.stringWidth(value + "…", font, size) > width:
        value = value[:-1]
    return value.rstrip() + "…"


def _check_table(
    items: Sequence[tuple[str, str, bool]], width: float, columns: int, fillable: bool
) -> Table:
    """Tick boxes with their labels, ``columns`` across; rows split across pages."""
    style = document_styles().small
    label_width = width / columns - _BOX - 8
    rows: list[list[Any]] = []
    for start in range(0, len(items), columns):
        row: list[Any] = []
        for name, label, checked in items[start : start + columns]:
            row += [_CheckBox(name, label, fillable, checked), Paragraph(text(label), style)]
        row += [""] * (2 * columns - len(row))
        rows.append(row)
    return Table(
        rows,
        colWidths=[_BOX + 6, label_width + 2] * columns,
        style=table_style(
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ),
        hAlign="LEFT",
    )


class _Heading(Flowable):
    """A section heading with a rule under it."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self.height = 20.0
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFont(FONT_BOLD, 10.5)
        canvas.setFillColor(ACCENT)
        canvas.drawString(0, 7, _fit(self.label, FONT_BOLD, 10.5, self.width))
        canvas.setStrokeColor(ACCENT)
        canvas.setLineWidth(0.8)
        canvas.line(0, 3, self.width, 3)


def _language_name(tag: str, locale: str) -> str:
    if not tag:
        return ""
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name(locale) or tag
    except (UnknownLocaleError, ValueError):
        return tag
    return name[:1].upper() + name[1:]


# --- the form --------------------------------------------------------------------------------


class _Form:
    """Builds the story of one intake form in one language."""

    def __init__(self, form: IntakeForm, width: float) -> None:
        self.form = form
        self.width = width
        self.fill = form.blank
        self.p = form.patient or IntakePatient(first_name="", last_name="")
        self._ = gettext_for(form.locale)

    def date(self, value: date | None) -> str:
        return format_date(value, self.form.locale, "long") if value else ""

    def row(self, *cells: _Cell) -> _FieldRow:
        return _FieldRow(cells, self.fill)

    def section(self, title: str, first: Flowable | list[Flowable], *rest: Flowable) -> list:
        # The heading never ends a page alone: it keeps company with its first row (or
        # first block; reportlab breaks the page early for a KeepTogether inside another).
        opening = first if isinstance(first, list) else [first]
        return [Spacer(1, 4), KeepTogether([_Heading(title), *opening]), *rest]

    def story(self) -> list[Flowable]:
        return [
            *self.intro(),
            *self.about(),
            *self.contact(),
            *self.emergency(),
            *self.insurance(),
            *self.history(),
            *self.medicines(),
            *self.consents(),
            *self.privacy(),
            *self.signature(),
        ]

    def intro(self) -> list[Flowable]:
        _ = self._
        st = document_styles()
        story: list[Flowable] = [Paragraph(text(_("Patient intake form")), st.title)]
        if self.fill:
            lines = [
                _("Please fill in every section. Write “none” where a question does not apply."),
                _("Everything you tell us is kept confidential in your health record."),
            ]
        else:
            lines = [
                _(
                    "This is what we have on file for you. Please check every section, "
                    "correct anything that has changed and fill in any blanks."
                ),
            ]
            if self.form.prepared_on:
                lines.append(_("Prepared on %(date)s") % {"date": self.date(self.form.prepared_on)})
        story += [Paragraph(text(line), st.small) for line in lines]
        return story

    def about(self) -> list[Flowable]:
        _ = self._
        p = self.p
        return self.section(
            _("About you"),
            self.row(
                _Cell(_("Last name"), "last_name", p.last_name, 1.2),
                _Cell(_("First name"), "first_name", p.first_name, 1.0),
                _Cell(_("Middle name"), "middle_name", p.middle_name, 0.8),
                _Cell(_("Preferred name"), "preferred_name", p.preferred_name, 0.8),
            ),
            self.row(
                _Cell(_("Date of birth"), "date_of_birth", self.date(p.date_of_birth), 1.2),
                _Cell(_("Sex"), "sex", _(_SEX[p.sex]) if p.sex in _SEX else "", 0.8),
                _Cell(_("Pronouns"), "pronouns", p.pronouns, 0.8),
                _Cell(
                    _("Preferred language"),
                    "preferred_language",
                    _language_name(p.preferred_language, self.form.locale),
                    1.0,
                ),
            ),
        )

    def contact(self) -> list[Flowable]:
        _ = self._
        p = self.p
        return self.section(
            _("Contact details"),
            self.row(
                _Cell(_("Street address"), "address_line1", p.address_line1, 2.0),
                _Cell(_("Apartment, suite, unit"), "address_line2", p.address_line2, 1.0),
            ),
            self.row(
                _Cell(_("City"), "city", p.city, 1.6),
                _Cell(_("State / region"), "region", p.region, 1.0),
                _Cell(_("Postal code"), "postal_code", p.postal_code, 0.8),
            ),
            self.row(
                _Cell(_("Mobile phone"), "mobile_phone", p.mobile_phone),
                _Cell(_("Home phone"), "home_phone", p.home_phone),
                _Cell(_("Work phone"), "work_phone", p.work_phone),
            ),
            self.row(_Cell(_("Email address"), "email", p.email)),
        )

    def emergency(self) -> list[Flowable]:
        _ = self._
        p = self.p
        return self.section(
            _("Emergency contact"),
            self.row(
                _Cell(_("Contact name"), "emergency_contact_name", p.emergency_contact_name, 1.6),
                _Cell(
                    _("Relationship to you"),
                    "emergency_contact_relation",
                    p.emergency_contact_relation,
                    1.0,
                ),
                _Cell(_("Phone number"), "emergency_contact_phone", p.emergency_contact_phone),
            ),
        )

    def insurance(self) -> list[Flowable]:
        _ = self._
        st = document_styles()
        policies = list(self.form.policies)
        held = {policy.priority for policy in policies}
        # A missing primary or secondary policy is a blank block to fill in.
        for priority in ("primary", "secondary"):
            if priority not in held:
                policies.append(IntakePolicy(priority=priority, payer="", member_id=""))
        order = {"primary": 0, "secondary": 1, "tertiary": 2}
        policies.sort(key=lambda policy: order.get(policy.priority, 3))
        blocks: list[list[Flowable]] = []
        for n, policy in enumerate(policies, start=1):
            key = f"insurance{n}"
            relation = _RELATION.get(policy.subscriber_relation, "") if policy.payer else ""
            label = _PRIORITY.get(policy.priority, _PRIORITY["tertiary"])
            blocks.append(
                [
                    Paragraph(text(_(label)), st.small),
                    self.row(
                        _Cell(_("Insurance company"), f"{key}_company", policy.payer, 1.4),
                        _Cell(_("Plan name"), f"{key}_plan", policy.plan_name, 1.0),
                        _Cell(_("Member ID"), f"{key}_member_id", policy.member_id, 1.0),
                        _Cell(_("Group number"), f"{key}_group", policy.group_number, 0.8),
                    ),
                    self.row(
                        _Cell(
                            _("Policy holder (subscriber)"),
                            f"{key}_subscriber",
                            policy.subscriber_name,
                            1.4,
                        ),
                        _Cell(
                            _("Holder's relationship to you"),
                            f"{key}_relation",
                            _(relation) if relation else "",
                            1.0,
                        ),
                        _Cell(
                            _("Holder's date of birth"),
                            f"{key}_subscriber_dob",
                            self.date(policy.subscriber_date_of_birth),
                            1.0,
                        ),
                    ),
                ]
            )
        first, *others = blocks
        return self.section(_("Insurance"), first, *(KeepTogether(b) for b in others))

    def history(self) -> list[Flowable]:
        _ = self._
        st = document_styles()
        items = [(name, _(label), False) for name, label in MEDICAL_HISTORY]
        intro = Paragraph(
            text(_("Do you have, or have you ever had, any of the following?")), st.small
        )
        other = _Cell(_("Other conditions, operations or hospital stays"), "history_other", lines=2)
        # The checklist is read as one question: it stays on one page with its heading.
        flowables: list[Flowable] = [Spacer(1, 4)]
        if self.fill:
            flowables.append(self.row(other))
        else:
            flowables += self.long_text(_("Medical alerts on file"), self.p.medical_alerts)
            flowables.append(self.row(other))
        return self.section(
            _("Medical history"), [intro, _check_table(items, self.width, 3, self.fill)], *flowables
        )

    def long_text(self, label: str, value: str) -> list[Flowable]:
        """A pre-filled answer of any length: one paragraph per line, split across pages."""
        st = document_styles()
        lines = [line.strip() for line in value.splitlines() if line.strip()]
        if not lines:
            return [self.row(_Cell(label, "", "", lines=2))]
        label_style = st.label
        flowables: list[Flowable] = [Paragraph(text(label), label_style)]
        flowables += [Paragraph(text(line), st.value) for line in lines]
        flowables.append(Spacer(1, 5))
        return flowables

    def medicines(self) -> list[Flowable]:
        _ = self._
        medications = _("Medicines you take, with the dose (include vitamins and supplements)")
        allergies = _("Allergies to medicines, foods or materials, and what happens")
        if self.fill:
            return self.section(
                _("Medications and allergies"),
                self.row(_Cell(medications, "medications", lines=3)),
                self.row(_Cell(allergies, "allergies", lines=2)),
            )
        return self.section(
            _("Medications and allergies"),
            *self.long_text(medications, self.p.medications),
            *self.long_text(allergies, self.p.allergies),
            self.row(_Cell(_("Changes since your last visit"), "medication_changes", lines=2)),
        )

    def consents(self) -> list[Flowable]:
        _ = self._
        st = document_styles()
        p = self.p
        items = [
            ("consent_text", _("Text messages to my mobile phone"), p.may_text),
            ("consent_email", _("Email"), p.may_email),
            ("consent_voicemail", _("Voicemail messages"), p.may_voicemail),
        ]
        return self.section(
            _("How we may contact you"),
            Paragraph(
                text(
                    _(
                        "%(clinic)s may contact me about appointments, treatment and payments "
                        "by (tick all that you agree to):"
                    )
                    % {"clinic": self.form.letterhead.name}
                ),
                st.small,
            ),
            _check_table(items, self.width, 3, self.fill),
            Paragraph(
                text(_("You can change these choices at any time by telling the front desk.")),
                st.fine,
            ),
        )

    def privacy(self) -> list[Flowable]:
        _ = self._
        statement = _(
            "I have received, or have been offered, a copy of the Notice of Privacy Practices "
            "of %(clinic)s, which explains how my health information may be used and shared."
        ) % {"clinic": self.form.letterhead.name}
        return self.section(
            _("Notice of privacy practices"),
            _check_table(
                [("privacy_notice_acknowledged", statement, False)], self.width, 1, self.fill
            ),
        )

    def signature(self) -> list[Flowable]:
        _ = self._
        st = document_styles()
        return [
            Spacer(1, 6),
            KeepTogether(
                [
                    _Heading(_("Your signature")),
                    Paragraph(
                        text(
                            _(
                                "The information on this form is correct to the best of my "
                                "knowledge. I will tell the clinic when it changes."
                            )
                        ),
                        st.small,
                    ),
                    Spacer(1, 10),
                    self.row(
                        _Cell(
                            _("Signature of patient or legal guardian"),
                            "signature",
                            share=2.2,
                            lines=2,
                            signature=True,
                        ),
                        _Cell(_("Today's date"), "signed_on", share=1.0),
                    ),
                    self.row(
                        _Cell(_("Name in capital letters"), "signed_name", share=2.2),
                        _Cell(_("Relationship, if not the patient"), "signer_relation", share=1.0),
                    ),
                ]
            ),
        ]


def build_intake_form(form: IntakeForm) -> bytes:
    """The intake form PDF — fillable when blank — in ``form.locale`` and the clinic's paper."""
    _ = gettext_for(form.locale)
    buffer = io.BytesIO()
    title = _("Patient intake form")
    doc = ClinicDocTemplate(
        buffer,
        form.letterhead,
        title=title,
        locale=form.locale,
        patient=form.banner,
        printed_at=form.printed_at,
        subject=title,
    )
    doc.build(_Form(form, doc.width).story())
    return buffer.getvalue()
