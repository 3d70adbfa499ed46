"""Fixtures for the plans and payments windows: the roles that use them and a patient."""

from __future__ import annotations

from tests.ui.patients.conftest import coordinator_ctx, patient_id, provider_ctx

__all__ = ["coordinator_ctx", "patient_id", "provider_ctx"]
