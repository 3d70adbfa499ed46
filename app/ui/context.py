"""What a signed-in window needs, passed down explicitly (no globals, no session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.ui.changes import ChangeBus

if TYPE_CHECKING:
    from app.data.database import Database
    from app.services.clinic.actor import Actor
    from app.services.clinic.clinics import ClinicDetails, OpenClinic


@dataclass
class UiContext:
    """The open clinic, who is signed in, the clinic's details and the change broadcast.

    ``actor`` is replaced when emergency access opens; ``details`` when Settings
    saves.  Windows read them when they act, never copy them at construction.
    """

    clinic: OpenClinic
    actor: Actor
    details: ClinicDetails
    demo: bool = False
    bus: ChangeBus = field(init=False)

    def __post_init__(self) -> None:
        self.bus = ChangeBus(self.clinic.db)

    @property
    def db(self) -> Database:
        return self.clinic.db

    def allows(self, permission) -> bool:
        from app.services.clinic.permissions import role_allows

        return role_allows(self.actor.role, permission, emergency=self.actor.in_emergency)
