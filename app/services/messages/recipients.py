"""Who a message written by hand would reach, said before it is sent.

The Send message dialog shows "3 will get it, 1 skipped: why" while the desk is still
choosing; the rule is :func:`eligibility.why_not_to_patient`, the same the outbox applies
when it queues (and the sender again before it sends), so the dialog never promises a
message the outbox then refuses for the patient's consent, opt-out or address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.clock import utc_now
from app.data.database import Database
from app.data.models.messages import MessageChannel
from app.data.models.patients import Patient
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import ValidationError
from app.services.messages import eligibility
from app.services.patients.tasks import patient_name

#: Ids asked about in one statement (well under every database's bound on parameters).
_CHUNK = 500
GONE = "That patient record no longer exists."


@dataclass(frozen=True)
class Recipients:
    #: (patient id, "Last, First") of those the message may go to, in the order asked.
    reachable: tuple[tuple[int, str], ...]
    #: (patient id, name, why not) of the others.
    skipped: tuple[tuple[int, str, str], ...]


def manual_recipients(
    db: Database,
    actor: Actor,
    patient_ids: Sequence[int],
    channel: str,
    *,
    now: datetime | None = None,
) -> Recipients:
    """Split ``patient_ids`` into those a message on ``channel`` may go to now and those it
    may not, each with the reason (no consent, texted STOP, no mobile number …)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    if channel not in {c.value for c in MessageChannel}:
        raise ValidationError("Choose e-mail or text.", field="channel")
    now = now or utc_now()
    ids = list(dict.fromkeys(patient_ids))
    with reading(db, actor) as session:
        found: dict[int, Patient] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found.update(
                (p.id, p) for p in session.scalars(select(Patient).where(Patient.id.in_(chunk)))
            )
        reachable: list[tuple[int, str]] = []
        skipped: list[tuple[int, str, str]] = []
        for patient_id in ids:
            patient = found.get(patient_id)
            if patient is None:
                skipped.append((patient_id, "", GONE))
                continue
            why = eligibility.why_not_to_patient(patient, channel, now=now)
            if why is None:
                reachable.append((patient_id, patient_name(patient)))
            else:
                skipped.append((patient_id, patient_name(patient), why))
        return Recipients(tuple(reachable), tuple(skipped))
