"""The clinic's sending secrets in the OS key store: the mail server's password and the SMS
gateway's token.

They are filed under the same service as the database keys (``caredesk``), one entry per
account — ``smtp:<host>:<user>`` and ``sms:<account sid>`` — so they never sit in the
database, a backup or a log.  Each PC that sends keeps its own copy (a scheduled task on a PC
without a key store uses ``CAREDESK_SMTP_PASSWORD`` / ``CAREDESK_SMS_TOKEN`` instead).
"""

from __future__ import annotations

import keyring
import keyring.errors

from app.data.keys import KEYRING_SERVICE, KeyringUnavailable

__all__ = ["forget_secret", "load_secret", "secret_name", "store_secret"]


def secret_name(kind: str, *parts: str) -> str:
    """The key store's entry name: ``secret_name("smtp", host, user)`` → ``smtp:host:user``."""
    return ":".join((kind, *parts))


def store_secret(name: str, value: str) -> None:
    """File ``value`` under ``name``; KeyringUnavailable when this PC has no key store."""
    if not value:
        raise ValueError("an empty secret is forgotten, not stored")
    try:
        keyring.set_password(KEYRING_SERVICE, name, value)
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"the keyring refused to store the secret: {exc}") from None


def load_secret(name: str) -> str | None:
    """The secret filed under ``name``, or None (no entry, or no key store at all: a PC
    without one simply cannot send until the environment gives the secret)."""
    try:
        return keyring.get_password(KEYRING_SERVICE, name) or None
    except keyring.errors.KeyringError:
        return None


def forget_secret(name: str) -> None:
    """Remove the entry (no entry is fine)."""
    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None
