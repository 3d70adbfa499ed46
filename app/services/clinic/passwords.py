"""Password hashing (argon2id) and the strength rule for staff passwords."""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.paths import resource
from app.services.errors import WeakPasswordError

MIN_LENGTH = 12
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths cost the same time."""
    return _hasher.hash("caredesk-timing-equaliser")


@cache
def _common_passwords() -> frozenset[str]:
    text = resource("passwords", "common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_strength(password: str, *, username: str = "") -> None:
    """Refuse, with the reason, a password under 12 characters or a common one."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"The password must be at least {MIN_LENGTH} characters long.")
    lowered = password.lower()
    core = re.sub(r"[\d\W_]+$", "", lowered)  # "password2024!" is still "password"
    common = _common_passwords()
    if lowered in common or (core and core in common) or len(set(lowered)) <= 2:
        raise WeakPasswordError(
            "That password is one of the most common passwords. Choose one that is hard to guess."
        )
    if username and username.lower() in lowered:
        raise WeakPasswordError("The password must not contain the username.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
