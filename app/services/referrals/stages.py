"""The life of a referral as one table: which status may follow which, what each is called,
when an open one is overdue, and what the coordinator does next.

Every status change of the referral service goes through this table (``TRANSITIONS``);
nothing else decides whether a step is allowed.  Pure rules, no session: the Referrals
page, the record's tab and the tests read the same answers.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from app.data.models.referrals import FINISHED_STATUSES, ReferralDirection, ReferralStatus

__all__ = [
    "DIRECTION_LABELS",
    "FINISHED",
    "OPEN_STATUSES",
    "SENT_VIA",
    "SENT_VIA_LABELS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "URGENCY_LABELS",
    "OverdueFacts",
    "ReferralDays",
    "allowed_next",
    "next_action",
    "overdue_reason",
]

S = ReferralStatus
OUT = ReferralDirection.OUTGOING.value
IN = ReferralDirection.INCOMING.value

#: (direction, from status) → the statuses it may move to.  A finished referral (closed,
#: declined, cancelled) moves nowhere; "booked → booked" is a visit booked again.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (OUT, S.DRAFT.value): frozenset({S.SENT.value, S.CANCELLED.value}),
    (OUT, S.SENT.value): frozenset({S.BOOKED.value, S.DECLINED.value, S.CANCELLED.value}),
    (OUT, S.BOOKED.value): frozenset({S.SEEN.value, S.BOOKED.value, S.CANCELLED.value}),
    (OUT, S.SEEN.value): frozenset({S.REPORT_RECEIVED.value, S.CANCELLED.value}),
    (OUT, S.REPORT_RECEIVED.value): frozenset({S.CLOSED.value}),
    (OUT, S.CLOSED.value): frozenset(),
    (OUT, S.DECLINED.value): frozenset(),
    (OUT, S.CANCELLED.value): frozenset(),
    (IN, S.RECEIVED.value): frozenset({S.BOOKED.value, S.DECLINED.value, S.CANCELLED.value}),
    (IN, S.BOOKED.value): frozenset({S.SEEN.value, S.BOOKED.value, S.CANCELLED.value}),
    (IN, S.SEEN.value): frozenset({S.CLOSED.value}),
    (IN, S.CLOSED.value): frozenset(),
    (IN, S.DECLINED.value): frozenset(),
    (IN, S.CANCELLED.value): frozenset(),
}

FINISHED: frozenset[str] = frozenset(FINISHED_STATUSES)

#: The statuses a referral of each direction can be in while open, in the order it moves.
OPEN_STATUSES: dict[str, tuple[str, ...]] = {
    OUT: (S.DRAFT.value, S.SENT.value, S.BOOKED.value, S.SEEN.value, S.REPORT_RECEIVED.value),
    IN: (S.RECEIVED.value, S.BOOKED.value, S.SEEN.value),
}

STATUS_LABELS: dict[str, str] = {
    S.DRAFT.value: "Draft",
    S.RECEIVED.value: "Received",
    S.SENT.value: "Sent",
    S.BOOKED.value: "Visit booked",
    S.SEEN.value: "Seen",
    S.REPORT_RECEIVED.value: "Report received",
    S.CLOSED.value: "Closed",
    S.DECLINED.value: "Declined",
    S.CANCELLED.value: "Canceled",
}

URGENCY_LABELS: dict[str, str] = {"routine": "Routine", "soon": "Soon", "urgent": "Urgent"}

DIRECTION_LABELS: dict[str, str] = {OUT: "Outgoing", IN: "Incoming"}

SENT_VIA_LABELS: dict[str, str] = {
    "fax": "Fax",
    "email": "E-mail",
    "post": "Post",
    "portal": "Portal",
    "patient": "Handed to the patient",
}
SENT_VIA = tuple(SENT_VIA_LABELS)


def allowed_next(direction: str, status: str) -> frozenset[str]:
    """The statuses a referral may move to from ``status`` (none for an unknown pair)."""
    return TRANSITIONS.get((direction, status), frozenset())


class ReferralDays(Protocol):
    """The clinic's day counts the overdue rules use (``ClinicSettings`` has them)."""

    referral_booking_days: int
    referral_report_days: int


class OverdueFacts(Protocol):
    """What the overdue rules read of a referral (a ``ReferralLine`` has it all)."""

    direction: str
    status: str
    referred_on: date
    sent_on: date | None
    visit_due_on: date | None
    visit_on: date | None
    seen_on: date | None


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


_SENT, _BOOKED, _SEEN, _DRAFT, _RECEIVED = (
    S.SENT.value,
    S.BOOKED.value,
    S.SEEN.value,
    S.DRAFT.value,
    S.RECEIVED.value,
)


def overdue_reason(line: OverdueFacts, today: date, settings: ReferralDays) -> str:
    """Why an open referral is overdue on ``today`` ("" when it is not):

    - sent, and no visit booked more than ``referral_booking_days`` after sending;
    - outgoing, visited (booked date or seen), and no report more than
      ``referral_report_days`` after the visit;
    - the visit's due date passed and the patient not seen;
    - incoming, received, and no consultation booked more than ``referral_booking_days``
      after it came.
    A day count is "more than N days": on the N-th day it is still on time."""
    status = line.status
    if status in FINISHED:
        return ""
    booking = settings.referral_booking_days
    if line.direction == OUT:
        if status == _SENT and line.sent_on is not None:
            waited = (today - line.sent_on).days
            if waited > booking:
                return f"No visit booked {_days(waited)} after sending"
        if status in (_BOOKED, _SEEN):
            visit = line.seen_on if status == _SEEN and line.seen_on else line.visit_on
            if visit is not None:
                waited = (today - visit).days
                if waited > settings.referral_report_days:
                    return f"No report {_days(waited)} after the visit"
        due = line.visit_due_on
        if due is not None and today > due and status in (_DRAFT, _SENT, _BOOKED):
            return f"Not seen, {_days((today - due).days)} past the due date"
        return ""
    if status == _RECEIVED:
        waited = (today - line.referred_on).days
        if waited > booking:
            return f"No consultation booked {_days(waited)} after it came"
    due = line.visit_due_on
    if due is not None and today > due and status in (_RECEIVED, _BOOKED):
        return f"Not seen, {_days((today - due).days)} past the due date"
    return ""


_NEXT_ACTIONS: dict[tuple[str, str], str] = {
    (OUT, S.DRAFT.value): "Send the referral",
    (OUT, S.SENT.value): "Call the specialist's office to book",
    (OUT, S.BOOKED.value): "Confirm the patient was seen",
    (OUT, S.SEEN.value): "Get the specialist's report",
    (OUT, S.REPORT_RECEIVED.value): "Provider to acknowledge the report",
    (IN, S.RECEIVED.value): "Book the consultation",
    (IN, S.BOOKED.value): "Confirm the patient was seen",
    (IN, S.SEEN.value): "Send the consult letter and close",
}


def next_action(direction: str, status: str, *, report_acknowledged: bool = False) -> str:
    """What the coordinator does next with a referral in ``status`` ("" once finished)."""
    if direction == OUT and status == S.REPORT_RECEIVED.value and report_acknowledged:
        return "Close the referral"
    return _NEXT_ACTIONS.get((direction, status), "")
