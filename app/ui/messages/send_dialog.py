"""Send message…: one message, by e-mail or text, to one patient or to the patients picked on
a list — typed by hand or in a template's words — through the outbox.

Before anything is sent the dialog says who will get it and who will not, and why (no
consent, texted STOP, no mobile number …), and shows the message as the first of them will
read it.  Send queues it for those it may go to, in one write; the background sender does
the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from app.services.errors import CareDeskError
from app.services.messages.outbox import ManualMessage, ManualResult
from app.services.messages.recipients import Recipients
from app.services.messages.templates import CHANNEL_LABELS, KIND_LABELS, TEXT_MAX
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.write_dialog import FormWriteDialog

# The services' words for channels and kinds (the window does not import the data layer).
TEXT, EMAIL, CUSTOM = "text", "email", "custom"
#: The kinds a person may send by hand, in the order offered (a referral reminder goes to
#: the specialist's office from the referral itself).
MANUAL_KINDS = tuple(kind for kind in KIND_LABELS if kind != "referral_reminder")
#: Names listed in the "skipped" sentence before "and n more".
NAMES_SHOWN = 4
#: Typing pauses this long before the preview is worked out again.
PREVIEW_DELAY_MS = 250
GREY = "#6b7280"


def skipped_lines(skipped: Sequence[tuple[int, str, str]]) -> str:
    """One line per patient skipped, "• Ruiz, Ana — The patient texted STOP…", the first
    few only, then "and 3 more"."""
    lines = [f"• {name or 'A removed record'} — {why}" for _id, name, why in skipped[:NAMES_SHOWN]]
    more = len(skipped) - NAMES_SHOWN
    if more > 0:
        lines.append(f"and {more:,} more")
    return "\n".join(lines)


def result_sentence(result: ManualResult, channel: str) -> str:
    """What was done, for the page the dialog was opened from."""
    noun = "text" if channel == TEXT else "e-mail"
    count = len(result.queued)
    text = f"{count} {noun}{'s' if count != 1 else ''} queued"
    if result.skipped:
        # "Last, First" names hold a comma: a semicolon parts them.
        names = "; ".join(name or "a removed record" for _id, name, _why in result.skipped[:3])
        more = len(result.skipped) - 3
        text += (
            f"; {len(result.skipped)} skipped ({names}{f' and {more:,} more' if more > 0 else ''})"
        )
    return text + "."


class DiscardTypedMessage:
    """Asked when the dialog closes unsent with words typed."""

    @classmethod
    def ask(cls, parent: QWidget | None) -> bool:
        """True: throw the words away and close."""
        from PySide6.QtWidgets import QMessageBox

        answer = QMessageBox.question(
            parent,
            "Discard the message?",
            "The message is not sent. Throw away the words you typed?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard


class SendMessageDialog(FormWriteDialog):
    """Channel, kind, the words (custom) and a live preview; Send queues it."""

    save_text = "&Send"

    def __init__(
        self,
        ctx: UiContext,
        patient_ids: Sequence[int],
        parent: QWidget | None = None,
        *,
        kind: str = CUSTOM,
        channel: str = TEXT,
        names: Sequence[str] = (),
    ) -> None:
        super().__init__(ctx, parent, "Send a message")
        self.setObjectName("sendMessageDialog")
        self.patient_ids = list(dict.fromkeys(patient_ids))
        self.names = list(names)
        #: What was queued and skipped, once sent (the ``ask`` answer).
        self.sent: ManualResult | None = None
        #: The channel it was sent by (readable after the dialog is gone).
        self.sent_by = channel
        #: Who the message may reach on the channel chosen (None while it is asked).
        self.recipients: Recipients | None = None
        self._recipients_asked = 0
        self._preview_asked = 0
        #: The template's words cannot be written for the one patient (no visit to remind
        #: of, no unpaid installment): Send would queue nothing.
        self._nothing_to_say = False

        self.intro_label.setText(self._intro())
        self.channel_combo = QComboBox()
        self.channel_combo.setObjectName("channelCombo")
        for value in (TEXT, EMAIL):
            self.channel_combo.addItem(CHANNEL_LABELS[value], value)
        self.channel_combo.setCurrentIndex(max(0, self.channel_combo.findData(channel)))
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("kindCombo")
        for value in MANUAL_KINDS:
            self.kind_combo.addItem(KIND_LABELS[value], value)
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))
        self.subject_edit = QLineEdit()
        self.subject_edit.setObjectName("subjectEdit")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("bodyEdit")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setFixedHeight(110)
        self.body_edit.setPlaceholderText(
            "e.g. Our office is closed on Friday; call {clinic_phone} to move your visit."
        )
        # Read-only and scrolling: an e-mail with the clinic's signature runs long.
        self.preview_edit = QPlainTextEdit()
        self.preview_edit.setObjectName("messagePreview")
        self.preview_edit.setReadOnly(True)
        self.preview_edit.setTabChangesFocus(True)
        self.preview_edit.setFixedHeight(130)
        self.recipients_label = QLabel("Checking who can get it…")
        self.recipients_label.setObjectName("recipientsSummary")
        self.recipients_label.setWordWrap(True)
        self.recipients_label.setTextFormat(Qt.TextFormat.PlainText)

        self.add_field("channel", "Send &by", self.channel_combo)
        self.add_field("kind", "&Message", self.kind_combo)
        self.add_field("subject", "S&ubject", self.subject_edit)
        self.add_field("body", "&Words", self.body_edit)
        self.add_field("preview", "Preview", self.preview_edit)
        self.form.addRow("Who gets it", self.recipients_label)
        self.fields["patients"] = self.fields["kind"]  # "Choose at least one patient" lands here

        self.preview_timer = QTimer(self)
        self.preview_timer.setSingleShot(True)
        self.preview_timer.setInterval(PREVIEW_DELAY_MS)
        self.setMinimumWidth(600)
        self._connect_signals()
        self._show_parts()
        self.ask_recipients()
        self.preview_timer.start()

    def _connect_signals(self) -> None:
        self.channel_combo.currentIndexChanged.connect(self.on_channel_changed)
        self.kind_combo.currentIndexChanged.connect(self.on_kind_changed)
        self.subject_edit.textEdited.connect(self.on_words_edited)
        self.body_edit.textChanged.connect(self.on_words_edited)
        self.preview_timer.timeout.connect(self.ask_preview)

    # --- what is chosen -----------------------------------------------------------------------

    def _intro(self) -> str:
        count = len(self.patient_ids)
        if count == 1 and self.names:
            return f"To {self.names[0]}."
        if count == 1:
            return "To this patient."
        if self.names and count <= NAMES_SHOWN:
            return f"To {count} patients: {'; '.join(self.names)}."
        return f"To {count:,} patients chosen on the list."

    def channel(self) -> str:
        return self.channel_combo.currentData()

    def kind(self) -> str:
        return self.kind_combo.currentData()

    def is_custom(self) -> bool:
        return self.kind() == CUSTOM

    def request(self) -> ManualMessage:
        if not self.is_custom():
            return ManualMessage(self.kind(), self.channel())
        subject = self.subject_edit.text() if self.channel() == EMAIL else ""
        return ManualMessage(self.kind(), self.channel(), subject, self.body_edit.toPlainText())

    def _show_parts(self) -> None:
        """Subject for a typed e-mail, words for a typed message; a text's length as it grows."""
        custom = self.is_custom()
        self.form.setRowVisible(self.fields["subject"], custom and not self._is_text())
        self.form.setRowVisible(self.fields["body"], custom)
        self._show_length()

    def _is_text(self) -> bool:
        return self.channel() == TEXT

    def _show_length(self) -> None:
        field = self.fields["body"]
        if not self._is_text():
            field.set_hint("Placeholders such as {first_name} or {clinic_phone} are filled in.")
            return
        length = len(self.body_edit.toPlainText())
        field.set_hint(
            f"{length} of {TEXT_MAX} characters; “Reply STOP to opt out” is added to texts."
        )

    # --- who gets it ----------------------------------------------------------------------------

    def ask_recipients(self) -> None:
        from app.services.messages.recipients import manual_recipients

        self._recipients_asked += 1
        asked = self._recipients_asked
        self.recipients = None
        self.recipients_label.setText("Checking who can get it…")
        self.update_buttons()
        db, actor, ids, channel = self.ctx.db, self.ctx.actor, self.patient_ids, self.channel()
        ops.run_query(
            lambda: manual_recipients(db, actor, ids, channel),
            on_success=lambda found: self._on_recipients(asked, found),
            on_failure=lambda exc: self._on_recipients_failed(asked, exc),
            owner=self,
        )

    def _on_recipients(self, asked: int, found: Recipients) -> None:
        if asked != self._recipients_asked:
            return
        self.recipients = found
        if not self.names and len(self.patient_ids) == 1:
            self.names = [name for _id, name in found.reachable] or [
                name for _id, name, _why in found.skipped if name
            ]
            self.intro_label.setText(self._intro())
        noun = "text" if self._is_text() else "e-mail"
        reach = len(found.reachable)
        if reach == 0:
            text = f"Nobody chosen can get a {noun}."
        elif reach == 1 and not found.skipped:
            text = f"{found.reachable[0][1]} will get it."
        else:
            text = f"{reach:,} will get it."
        if found.skipped:
            text += f" {len(found.skipped):,} skipped:\n{skipped_lines(found.skipped)}"
        self.recipients_label.setText(text)
        self.recipients_label.setStyleSheet("" if reach else "color: #b3261e;")
        self.save_button.setText(f"&Send to {reach:,}" if len(self.patient_ids) > 1 else "&Send")
        self.update_buttons()
        self.preview_timer.start()  # the first who will get it may be someone else now

    def _on_recipients_failed(self, asked: int, exc: BaseException) -> None:
        if asked == self._recipients_asked:
            self.recipients_label.setText(ops.user_message(exc))

    def update_buttons(self) -> None:
        reachable = self.recipients is not None and bool(self.recipients.reachable)
        self.save_button.setEnabled(not self.saving and reachable and not self._nothing_to_say)

    # --- the preview ----------------------------------------------------------------------------

    def _preview_patient(self) -> int:
        if self.recipients is not None and self.recipients.reachable:
            return self.recipients.reachable[0][0]
        return self.patient_ids[0]

    def _name_of(self, patient_id: int) -> str:
        if self.recipients is not None:
            for found_id, name in self.recipients.reachable:
                if found_id == patient_id:
                    return name
            for found_id, name, _why in self.recipients.skipped:
                if found_id == patient_id:
                    return name
        return ""

    @Slot()
    def ask_preview(self) -> None:
        from app.services.messages.outbox import preview_manual

        if not self.patient_ids:
            return
        if self.is_custom() and not self.body_edit.toPlainText().strip():
            self._show_preview("Type the words to see the message as the patient will read it.")
            return
        self._preview_asked += 1
        asked = self._preview_asked
        db, actor, patient_id, request = (
            self.ctx.db,
            self.ctx.actor,
            self._preview_patient(),
            self.request(),
        )
        ops.run_query(
            lambda: preview_manual(db, actor, patient_id, request),
            on_success=lambda words: self._on_preview(asked, patient_id, words),
            on_failure=lambda exc: self._on_preview_failed(asked, exc),
            owner=self,
        )

    def _on_preview(self, asked: int, patient_id: int, words: tuple[str, str]) -> None:
        if asked != self._preview_asked:
            return
        self._set_nothing_to_say(False)
        subject, body = words
        name = self._name_of(patient_id)
        self.fields["preview"].set_hint(f"As {name} will read it." if name else "")
        text = f"Subject: {subject}\n\n{body}" if subject else body
        self._show_preview(text, grey=False)

    def _on_preview_failed(self, asked: int, exc: BaseException) -> None:
        if asked == self._preview_asked:
            # The same sentence Send would give (an unknown placeholder, no visit to remind
            # of): shown here while the desk still types.
            self._show_preview(ops.user_message(exc), error=isinstance(exc, CareDeskError))
            # Typed words are checked again by Send, beside the field; a template that has
            # nothing to say to the only patient leaves nothing to send.
            self._set_nothing_to_say(
                isinstance(exc, CareDeskError) and not self.is_custom() and self._one_reachable()
            )

    def _one_reachable(self) -> bool:
        return self.recipients is not None and len(self.recipients.reachable) == 1

    def _set_nothing_to_say(self, nothing: bool) -> None:
        if nothing != self._nothing_to_say:
            self._nothing_to_say = nothing
            self.update_buttons()

    def _show_preview(self, text: str, *, grey: bool = True, error: bool = False) -> None:
        self.preview_edit.setPlainText(text)
        if grey or error:
            self.fields["preview"].set_hint("")
        colour = "#b3261e" if error else GREY if grey else "palette(text)"
        self.preview_edit.setStyleSheet(
            f"QPlainTextEdit {{ background: #f7f8fa; color: {colour}; }}"
        )

    # --- slots ----------------------------------------------------------------------------------

    @Slot(int)
    def on_channel_changed(self, _index: int) -> None:
        self._show_parts()
        self.errors.clear()
        self.show_message("")
        self.ask_recipients()

    @Slot(int)
    def on_kind_changed(self, _index: int) -> None:
        self._set_nothing_to_say(False)
        self._show_parts()
        self.errors.clear()
        self.show_message("")
        self.preview_timer.start()

    @Slot()
    def on_words_edited(self, *_args) -> None:
        self._show_length()
        self.preview_timer.start()

    # --- sending --------------------------------------------------------------------------------

    def write(self) -> Callable[[], Any] | None:
        from app.services.messages.outbox import queue_manual

        if self.recipients is None or not self.recipients.reachable:
            return None
        db, actor, ids, request = self.ctx.db, self.ctx.actor, self.patient_ids, self.request()
        return lambda: queue_manual(db, actor, ids, request)

    def on_saved(self, result: ManualResult) -> None:
        self.sent = result
        self.sent_by = self.channel()
        super().on_saved(result)

    def may_discard(self) -> bool:
        """Words typed by hand are not thrown away without asking."""
        typed = self.is_custom() and self.body_edit.toPlainText().strip()
        return not typed or DiscardTypedMessage.ask(self)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_ids: Sequence[int],
        *,
        kind: str = CUSTOM,
        channel: str = TEXT,
        names: Sequence[str] = (),
    ) -> ManualResult | None:
        """Show the dialog; what was queued (and skipped), or None when nothing was sent."""
        dialog = cls(ctx, patient_ids, parent, kind=kind, channel=channel, names=names)
        return dialog.sent if dialog.run() else None


def selected_lines(table) -> list:
    """The lines selected in a list's ``table`` (whole rows), top to bottom."""
    model = table.model()
    rows = sorted(index.row() for index in table.selectionModel().selectedRows())
    return [line for line in (model.row_at(row) for row in rows) if line is not None]


def send_to_lines(
    ctx: UiContext, parent: QWidget, lines: Sequence[Any], *, kind: str
) -> SendMessageDialog | None:
    """Send message… to the patients of a list's selected ``lines`` (each with ``patient_id``
    and ``patient_name``; a patient on two lines gets one message).  The dialog, once closed
    (its ``sent`` says what was queued), or None when nothing was selected."""
    patients = dict((line.patient_id, line.patient_name) for line in lines)
    if not patients:
        return None
    dialog = SendMessageDialog(
        ctx, list(patients), parent, kind=kind, names=list(patients.values())
    )
    dialog.run()
    return dialog
