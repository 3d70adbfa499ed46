import pytest

from app.services.clinic.passwords import check_strength, hash_password, verify_password
from app.services.errors import WeakPasswordError


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
