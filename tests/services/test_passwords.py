import argon2
import pytest
from sqlalchemy import select

from app.data.models.staff import Staff
from app.services.clinic import auth, passwords
from app.services.clinic.passwords import (
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.services.errors import WeakPasswordError
from tests.conftest import OWNER_PASSWORD, PRODUCTION_PASSWORD_HASHER


@pytest.mark.parametrize(
    "password,reason",
    [
        ("short", "at least 12 characters"),
        ("elevenchars", "at least 12 characters"),
        ("password1234", "most common"),
        ("Password2024!", "most common"),
        ("iloveyou12345", "most common"),
        ("aaaaaaaaaaaaaa", "most common"),
        ("ababababababab", "most common"),
        ("olivia-the-owner-99", "must not contain the username"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    with pytest.raises(WeakPasswordError, match=reason):
        check_strength(password, username="olivia")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "violet-lantern-harbour-42",
        "Zoë's clinic 2026 ✓",
    ],
)
def test_good_passwords_pass(password):
    check_strength(password, username="olivia")


def test_hashes_are_argon2id_and_verify():
    stored = hash_password("violet-lantern-harbour-42")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "violet-lantern-harbour-42")
    assert not verify_password(stored, "violet-lantern-harbour-43")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_the_product_hashes_with_argon2id_at_rfc_9106_cost(production_password_hashing):
    # The suite hashes at the cheapest cost (tests/conftest.py); the product never does.
    stored = hash_password("violet-lantern-harbour-42")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert params.time_cost >= 3
    assert params.memory_cost >= 64 * 1024  # KiB
    assert params.parallelism >= 1
    assert verify_password(stored, "violet-lantern-harbour-42")
    assert not verify_password(stored, "violet-lantern-harbour-43")
    assert not needs_rehash(stored)


def test_a_cheaper_hash_is_replaced_at_the_products_cost_on_sign_in(clinic, monkeypatch):
    def owner_hash() -> str:
        with clinic.db.uow() as session:
            query = select(Staff.password_hash).where(Staff.username == "owner")
            return session.scalars(query).one()

    cheap = owner_hash()  # the clinic was made at the suite's cost
    assert argon2.extract_parameters(cheap).time_cost == 1
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_PASSWORD_HASHER)
    auth.login(clinic.db, "owner", OWNER_PASSWORD)
    rehashed = owner_hash()
    assert argon2.extract_parameters(rehashed) == argon2.extract_parameters(
        hash_password("any other password")
    )
    assert not needs_rehash(rehashed) and verify_password(rehashed, OWNER_PASSWORD)
