"""Fixtures for the Send message tests: patients who may and may not be texted, and reading
back what the outbox holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.data.models.messages import Message
from tests.data.factories import add_patient

STOPPED_AT = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Patients:
    ana: int  # may text and e-mail
    ben: int  # texted STOP
    cara: int  # never agreed to texts or e-mail


@pytest.fixture
def patients(clinic) -> Patients:
    with clinic.db.uow() as session:

        def add(first: str, last: str, **values) -> int:
            return add_patient(
                session,
                first_name=first,
                last_name=last,
                date_of_birth=date(1984, 11, 2),
                mobile_phone=values.pop("mobile_phone", "+12075550121"),
                **values,
            ).id

        return Patients(
            ana=add("Ana", "Ruiz", may_text=True, may_email=True, email="ana@example.com"),
            ben=add(
                "Ben",
                "Stone",
                mobile_phone="+12075550122",
                may_text=True,
                text_opted_out_at=STOPPED_AT,
            ),
            cara=add("Cara", "Diaz", mobile_phone="+12075550123", email="cara@example.com"),
        )


def outbox_rows(clinic) -> list[Message]:
    """Every message in the outbox, oldest first, detached from its session."""
    with clinic.db.uow() as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
        for row in rows:
            session.expunge(row)
        return rows


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


@pytest.fixture(autouse=True)
def discard_answered(monkeypatch) -> list[str]:
    """ "Discard the message?" answered Discard (a dialog left open with words typed is
    closed when its test ends, with nobody to answer); the list holds each time it was asked."""
    from app.ui.messages.send_dialog import DiscardTypedMessage

    asked: list[str] = []

    def answer(cls, parent) -> bool:
        asked.append("discard?")
        return True

    monkeypatch.setattr(DiscardTypedMessage, "ask", classmethod(answer))
    return asked


def answer_send_dialog(qtbot, answer) -> list:
    """Run ``answer(dialog)`` inside the Send message dialog the next action opens (it runs
    modally: the answer is queued before the action and runs in the dialog's own loop, once
    the dialog has read who can get the message).  The list gets the dialog."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.messages.send_dialog import SendMessageDialog

    seen: list = []
    tries = iter(range(1000))

    def step() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SendMessageDialog) or dialog.recipients is None:
            if next(tries, None) is not None:
                QTimer.singleShot(10, step)  # not open (or not read) yet
            return
        seen.append(dialog)
        answer(dialog)

    QTimer.singleShot(0, step)
    return seen


def send_words(qtbot, words: str):
    """An answer: type ``words`` and press Send, then wait for the write."""

    def answer(dialog) -> None:
        qtbot.keyClicks(dialog.body_edit, words)
        qtbot.waitUntil(lambda: not dialog.preview_timer.isActive(), timeout=10_000)
        click(qtbot, dialog.save_button)
        qtbot.waitUntil(lambda: not dialog.isVisible() or not dialog.saving, timeout=10_000)

    return answer
