"""The clinic's database key, as the windows that ask for it see it.

The key itself is kept by the data layer (:mod:`app.data.keys`); the UI only needs to know
how long a passphrase must be, how to read a typed recovery key, whether this computer has
a keyring to remember it in, and (for screenshots and tests) a keyring held in memory.
"""

from __future__ import annotations

from app.data.keys import (
    MIN_PASSPHRASE_LENGTH,
    DatabaseKey,
    MemoryKeyring,
    keyring_available,
    parse_recovery_input,
)

__all__ = [
    "MIN_PASSPHRASE_LENGTH",
    "DatabaseKey",
    "MemoryKeyring",
    "keyring_available",
    "parse_recovery_input",
]
