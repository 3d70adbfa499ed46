"""The windows spell words as the clinic does: an en_US clinic reads "Check",
"Pre-authorization", "Catalog"; an en_GB clinic "Cheque", "Pre-authorisation", "Catalogue".
The stored codes stay the same ("cheque")."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.data.models.payments import PaymentMethod
from app.services.billing import payments
from app.services.billing.payments import PaymentInput
from app.services.clinic.clinics import get_details, update_details
from app.ui.patients.insurance_dialogs import PreauthDialog
from app.ui.patients.insurance_tab import InsuranceTab
from app.ui.plans.account_tab import AccountTab
from app.ui.plans.plan_editor import ItemDialog
from app.ui.plans.take_payment import TakePaymentDialog
from app.ui.settings.catalog import ProviderDialog, RoomDialog
from tests.services.test_payments import add_charge

WORDS = {
    "en_US": {
        "check": "Check",
        "preauths": "Pre-authorizations",
        "add_preauth": "Add pre-authorization",
        "catalog": "(free text — not in the catalog)",
        "color": "&Color",
        "license": "&License no.",
        "hint": "Q check",
    },
    "en_GB": {
        "check": "Cheque",
        "preauths": "Pre-authorisations",
        "add_preauth": "Add pre-authorisation",
        "catalog": "(free text — not in the catalogue)",
        "color": "&Colour",
        "license": "&Licence no.",
        "hint": "Q cheque",
    },
}


def clinic_in(clinic, owner_ctx, locale: str) -> None:
    """Settings → the clinic's language and region, as the owner saves it."""
    currency = "GBP" if locale == "en_GB" else "USD"
    saved = update_details(
        clinic.db,
        owner_ctx.actor,
        replace(get_details(clinic.db), locale=locale, currency=currency),
    )
    owner_ctx.details = saved


@pytest.mark.parametrize("locale", ["en_US", "en_GB"])
def test_payment_words_follow_the_clinic_spelling(qtbot, clinic, owner_ctx, patient_id, locale):
    words = WORDS[locale]
    clinic_in(clinic, owner_ctx, locale)
    add_charge(clinic.db, patient_id, "80.00")
    payments.record_payment(
        clinic.db,
        owner_ctx.actor,
        patient_id,
        PaymentInput(Decimal("80.00"), PaymentMethod.CHEQUE.value, reference="1042"),
    )

    dialog = TakePaymentDialog(owner_ctx, patient_id, None)
    qtbot.addWidget(dialog)
    labels = [dialog.method_combo.itemText(i) for i in range(dialog.method_combo.count())]
    assert f"{words['check']}  (Q)" in labels
    assert dialog.method_combo.itemData(labels.index(f"{words['check']}  (Q)")) == "cheque"
    assert words["hint"] in dialog.fields["method"].hint_label.text()

    tab = AccountTab(owner_ctx, patient_id)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded and tab.model.rowCount() == 2, timeout=10_000)
    methods = [tab.model.data(tab.model.index(r, 3)) for r in range(tab.model.rowCount())]
    assert words["check"] in methods


@pytest.mark.parametrize("locale", ["en_US", "en_GB"])
def test_preauthorization_catalog_color_and_license_words(
    qtbot, clinic, owner_ctx, patient_id, locale
):
    words = WORDS[locale]
    clinic_in(clinic, owner_ctx, locale)

    tab = InsuranceTab(owner_ctx, patient_id)
    qtbot.addWidget(tab)
    assert tab.add_preauth_button.text() == f"&{words['add_preauth']}…"
    assert words["preauths"] in [
        label.text() for label in tab.findChildren(type(tab.preauths_empty))
    ]

    preauth = PreauthDialog(None, policies=[], editing=False, locale=locale)
    qtbot.addWidget(preauth)
    assert preauth.windowTitle() == words["add_preauth"]

    item = ItemDialog(owner_ctx, [], None)
    qtbot.addWidget(item)
    assert item.service_combo.itemText(0) == words["catalog"]

    room = RoomDialog(None, editing=False, locale=locale)
    qtbot.addWidget(room)
    provider = ProviderDialog(None, editing=False, locale=locale)
    qtbot.addWidget(provider)
    assert words["color"] in _form_labels(room)
    assert words["license"] in _form_labels(provider)


def _form_labels(dialog) -> list[str]:
    from PySide6.QtWidgets import QLabel

    return [label.text() for label in dialog.findChildren(QLabel)]
