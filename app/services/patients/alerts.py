"""How a patient's medical alerts and allergies are named wherever a visit is shown.

One wording for the Today board, the calendar's tooltip, the check-in dialog and the day
sheet, so a red mark always comes with what it means (never "see the patient record").
"""

from __future__ import annotations


def alerts_text(medical_alerts: str | None, allergies: str | None) -> str:
    """ "Alerts: Latex allergy · Allergies: Penicillin" ("" when there are none)."""
    parts = []
    if medical_alerts and medical_alerts.strip():
        parts.append("Alerts: " + " ".join(medical_alerts.split()))
    if allergies and allergies.strip():
        parts.append("Allergies: " + " ".join(allergies.split()))
    return " · ".join(parts)
