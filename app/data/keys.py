"""Database keys: generation, the OS keyring, recovery-key text.

A new clinic database gets a random 256-bit raw key, kept in the OS keyring
(service ``caredesk``, one entry per database id).  The database id is the
16-byte random salt SQLCipher writes at the start of every encrypted file: it
is unique per database, needs no plaintext side file, and travels with the
file when it is moved.  Where no keyring exists (headless Linux) the clinic is
keyed with a passphrase instead, which SQLCipher stretches with PBKDF2.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors

KEYRING_SERVICE = "caredesk"
RAW_KEY_BYTES = 32
SALT_BYTES = 16
PASSPHRASE_ENV = "CAREDESK_PASSPHRASE"
MIN_PASSPHRASE_LENGTH = 12


class KeyringUnavailable(Exception):
    """No usable OS keyring on this machine: a passphrase must be used instead."""


@dataclass(frozen=True, repr=False)
class DatabaseKey:
    """Either a raw 256-bit key or a passphrase; never both."""

    raw: bytes | None = None
    passphrase: str | None = None

    def __post_init__(self) -> None:
        if (self.raw is None) == (self.passphrase is None):
            raise ValueError("a database key is either raw bytes or a passphrase")
        if self.raw is not None and len(self.raw) != RAW_KEY_BYTES:
            raise ValueError("a raw database key is 32 bytes")
        if self.passphrase is not None and not self.passphrase:
            raise ValueError("the passphrase is empty")

    def __repr__(self) -> str:  # keys never reach a log or a traceback
        return f"DatabaseKey({'raw' if self.raw else 'passphrase'}, hidden)"

    @classmethod
    def generate(cls) -> DatabaseKey:
        return cls(raw=secrets.token_bytes(RAW_KEY_BYTES))

    def pragma_literal(self) -> str:
        """The value for ``PRAGMA key = …``, quoted safely.

        A raw key is ``"x'<64 hex>'"`` (SQLCipher skips the key derivation);
        a passphrase is a single-quoted SQL string with quotes doubled.
        """
        if self.raw is not None:
            return f"\"x'{self.raw.hex()}'\""
        assert self.passphrase is not None
        return "'" + self.passphrase.replace("'", "''") + "'"

    def recovery_text(self) -> str:
        """What the recovery kit prints: the raw key in groups of four, or the passphrase."""
        if self.raw is not None:
            hex_key = self.raw.hex().upper()
            return " ".join(hex_key[i : i + 4] for i in range(0, len(hex_key), 4))
        assert self.passphrase is not None
        return self.passphrase


_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_recovery_input(text: str) -> DatabaseKey:
    """Turn what a user typed (a recovery key from the kit, or a passphrase) into a key.

    The recovery key may be typed with spaces, dashes or line breaks between
    the groups; anything that is not 64 hex digits once those are removed is
    taken as a passphrase, exactly as typed.
    """
    compact = re.sub(r"[\s\-]", "", text)
    if _HEX_KEY.match(compact):
        return DatabaseKey(raw=bytes.fromhex(compact))
    if not text:
        raise ValueError("Type the recovery key or the passphrase.")
    return DatabaseKey(passphrase=text)


def database_id(path: Path) -> str:
    """The id a database's key is filed under: its SQLCipher salt, as hex."""
    with open(path, "rb") as f:
        salt = f.read(SALT_BYTES)
    if len(salt) < SALT_BYTES:
        raise ValueError("file too short to be a CareDesk database")
    return salt.hex()


def keyring_available() -> bool:
    backend = keyring.get_keyring()
    # The "fail" backend (and the chainer with nothing in it) has priority 0.
    try:
        return backend.priority > 0
    except Exception:  # a broken backend counts as none
        return False


def store_key(db_id: str, key: DatabaseKey) -> None:
    """File a raw key in the OS keyring.  Passphrases are never stored."""
    if key.raw is None:
        raise ValueError("only raw keys are stored in the keyring")
    try:
        keyring.set_password(KEYRING_SERVICE, db_id, key.raw.hex())
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"the keyring refused to store the key: {exc}") from None


def load_key(db_id: str) -> DatabaseKey | None:
    """The key filed for this database, or None when the keyring has no entry."""
    try:
        stored = keyring.get_password(KEYRING_SERVICE, db_id)
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None
    except keyring.errors.KeyringError:
        return None
    if not stored or not _HEX_KEY.match(stored):
        return None
    return DatabaseKey(raw=bytes.fromhex(stored))


def forget_key(db_id: str) -> None:
    try:
        keyring.delete_password(KEYRING_SERVICE, db_id)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.NoKeyringError as exc:
        raise KeyringUnavailable(str(exc)) from None


def passphrase_from_environment() -> DatabaseKey | None:
    """The CLI's fallback where there is no keyring: ``CAREDESK_PASSPHRASE``."""
    value = os.environ.get(PASSPHRASE_ENV)
    return parse_recovery_input(value) if value else None


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that forgets everything on exit.

    For the test suite, the screenshot script and the installer's self-test: the
    real keyring API end to end, without touching this computer's key store.
    """

    priority = 1  # type: ignore[assignment]
    #: Never chosen by keyring's own detection, only by ``keyring.set_keyring(MemoryKeyring())``:
    #: defining a backend class registers it, and a clinic created on a PC without a key store
    #: would otherwise file its key here and lose it when the program exits.
    viable = False

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None
