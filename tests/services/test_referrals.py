"""The referral service: every status change through one table, each write's event, audit,
communication-log entry and task; overdue rules at their day edges; bad input refused with
its sentence and nothing changed."""

from __future__ import annotations

import pytest

from app.services.referrals import referrals as rs
from tests.services.referral_world import World, make_world


@pytest.fixture
def world(clinic, owner, make_staff, patient_id, clinic_day) -> World:
    return make_world(clinic, owner, make_staff, patient_id, clinic_day)


def test_an_outgoing_referral_closes_only_after_its_report_is_acknowledged(world):
    line = world.outgoing()
    assert (line.status, line.next_action) == ("draft", "Send the referral")
    line = world.walk(line, "report_received")
    assert line.next_action == "Provider to acknowledge the report"
    line = rs.acknowledge_report(world.db, world.provider_actor, line.id, version=line.version)
    line = rs.close_referral(world.db, world.coordinator, line.id, version=line.version)
    assert line.status == "closed"
