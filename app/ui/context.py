"""What a signed-in window needs, passed down explicitly (no globals, no session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from app.clock import today_in
from app.i18n import clinic_zone
from app.ui.changes import ChangeBus

if TYPE_CHECKING:
    from app.services.clinic.actor import Actor
    from app.services.clinic.clinics import ClinicDetails, Database, OpenClinic


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

    def today(self, now: datetime | None = None) -> date:
        """The clinic's calendar day at ``now`` (default: this instant): the day on its wall
        clock (``details.timezone``), by the same rule as the services' ``clinic_today``.
        Ask it each time rather than keep it: windows stay open past midnight."""
        return today_in(clinic_zone(self.details.timezone), now)

    def allows(self, permission) -> bool:
        from app.services.clinic.permissions import role_allows

        return role_allows(self.actor.role, permission, emergency=self.actor.in_emergency)
