"""The page a user sees when their role has no page of its own yet: who, where, what they may do."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.services.clinic.permissions import DESCRIPTIONS, Permission, role_allows
from app.ui.context import UiContext
from app.ui.labels import role_label


class HomePage(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("homePage")
        self.heading = QLabel()
        self.heading.setObjectName("pageTitle")
        self.summary = QLabel()
        self.summary.setObjectName("homeSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.summary.setMaximumWidth(760)
        body = QWidget()
        body.setObjectName("pageBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(40, 32, 40, 32)
        column.setSpacing(14)
        column.addWidget(self.heading)
        column.addWidget(self.summary)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("pageScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.refresh()

    def refresh(self) -> None:
        actor, details = self.ctx.actor, self.ctx.details
        first_name = actor.full_name.split()[0] if actor.full_name.split() else actor.username
        self.heading.setText(f"Welcome, {first_name}")
        address = ", ".join(
            part
            for part in (
                details.address_line1,
                details.address_line2,
                " ".join(p for p in (details.city, details.region, details.postal_code) if p),
            )
            if part
        )
        contact = " · ".join(p for p in (details.phone, details.email) if p)
        allowed = [
            DESCRIPTIONS[p]
            for p in Permission
            if role_allows(actor.role, p, emergency=actor.in_emergency)
        ]
        items = "".join(f"<li>{escape(text[:1].upper() + text[1:])}</li>" for text in allowed)
        clinic_lines = [f"<b>{escape(details.name)}</b>"]
        if address:
            clinic_lines.append(escape(address))
        if contact:
            clinic_lines.append(escape(contact))
        self.summary.setText(
            f"<p>{'<br>'.join(clinic_lines)}</p>"
            f"<p>You are signed in as <b>{escape(actor.full_name)}</b>, "
            f"{escape(role_label(actor.role)).lower()}.</p>"
            f"<p>Your role lets you:</p><ul>{items}</ul>"
            "<p>Press <b>Ctrl+L</b> to lock the screen when you step away from the desk; "
            "it also locks itself after "
            f"{details.idle_lock_minutes} minutes without use.</p>"
        )
