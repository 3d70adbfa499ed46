"""The clinic's message rules: listed in words, saved only when they make sense."""

from __future__ import annotations

import pytest

from app.data.models.staff import Role
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.messages.rules import RuleForm, describe_offset, rule_list, save_rule
from tests.data.factories import add_service

DAY, HOUR = 24 * 60, 60


@pytest.mark.parametrize(
    ("kind", "offset", "language", "words"),
    [
        ("confirmation_request", -2 * DAY, "en", "2 days before the visit"),
        ("appointment_reminder", -2 * HOUR, "en", "2 hours before the visit"),
        ("appointment_reminder", -90, "en", "90 minutes before the visit"),
        ("appointment_reminder", -HOUR, "en", "1 hour before the visit"),
        ("recall_due", 0, "en", "when due"),
        ("recall_due", 30 * DAY, "en", "30 days after the due day"),
        ("installment_due", -3 * DAY, "en", "3 days before the due day"),
        ("installment_overdue", 5 * DAY, "en", "5 days after the due day"),
        ("post_treatment", DAY, "en", "1 day after the visit"),
        ("referral_reminder", 7 * DAY, "en", "7 days after the referral was sent"),
        ("confirmation_request", -2 * DAY, "es", "2 días antes de la visita"),
        ("recall_due", 30 * DAY, "es", "30 días después del día previsto"),
        ("installment_due", -DAY, "es", "1 día antes del vencimiento"),
    ],
)
def test_a_rule_says_when_in_words(kind, offset, language, words):
    assert describe_offset(kind, offset, language) == words


def test_the_default_rules_are_listed_in_words(clinic, owner):
    rules = rule_list(clinic.db, owner)
    listed = [(r.kind, r.description, r.send_email, r.send_text) for r in rules]
    assert listed == [
        ("appointment_reminder", "2 hours before the visit", False, True),
        ("confirmation_request", "2 days before the visit", True, True),
        ("recall_due", "when due", True, True),
        ("recall_due", "30 days after the due day", True, True),
        ("installment_due", "3 days before the due day", True, False),
        ("installment_overdue", "5 days after the due day", True, False),
    ]


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        (RuleForm("custom", 0, True, True), "kind", "Choose which kind"),
        (RuleForm("appointment_reminder", -60, False, False), "channels", "e-mail, text or both"),
        (RuleForm("referral_reminder", DAY, True, True), "channels", "by e-mail only"),
        (RuleForm("appointment_reminder", 60, True, True), "offset", "before the visit"),
        (RuleForm("installment_overdue", -DAY, True, False), "offset", "not before it"),
        (RuleForm("recall_due", 400 * DAY, True, False), "offset", "at most a year"),
        (RuleForm("installment_due", -DAY, True, False, service_id=1), "service", "whole clinic"),
        (RuleForm("appointment_reminder", -60, True, False, service_id=99_999), "service",
         "not in the catalog"),
        (RuleForm("appointment_reminder", -2 * HOUR, True, False), "offset", "already sends"),
    ],
)  # fmt: skip
def test_a_rule_that_makes_no_sense_is_refused_naming_why(clinic, owner, form, field, words):
    before = rule_list(clinic.db, owner)
    with pytest.raises(ValidationError) as refused:
        save_rule(clinic.db, owner, form)
    assert words in str(refused.value)
    assert refused.value.field == field
    assert rule_list(clinic.db, owner) == before


def test_a_rule_per_service_is_added_changed_and_turned_off(clinic, owner):
    with clinic.db.uow() as session:
        laser = add_service(session, name="Laser").id
    added = save_rule(
        clinic.db, owner, RuleForm("appointment_reminder", -DAY, True, False, service_id=laser)
    )
    assert (added.service_name, added.description) == ("Laser", "1 day before the visit")
    changed = save_rule(
        clinic.db, owner,
        RuleForm("appointment_reminder", -2 * DAY, True, True, service_id=laser),
        rule_id=added.id, version=added.version,
    )  # fmt: skip
    assert (changed.description, changed.send_text) == ("2 days before the visit", True)
    with pytest.raises(ConcurrentEditError):
        save_rule(
            clinic.db, owner, RuleForm("appointment_reminder", -DAY, True, True, service_id=laser),
            rule_id=added.id, version=added.version,
        )  # fmt: skip
    off = save_rule(
        clinic.db, owner,
        RuleForm("appointment_reminder", -2 * DAY, True, True, service_id=laser, is_active=False),
        rule_id=added.id, version=changed.version,
    )  # fmt: skip
    assert not off.is_active
    listed = [r for r in rule_list(clinic.db, owner) if r.kind == "appointment_reminder"]
    assert [r.service_name for r in listed] == ["", "Laser"]


def test_only_who_manages_settings_changes_rules(clinic, make_staff):
    desk = make_staff("desk", Role.RECEPTIONIST.value)
    with pytest.raises(PermissionDeniedError):
        save_rule(clinic.db, desk, RuleForm("post_treatment", DAY, True, False))
