"""A keyring backend that files keys in ``bench/.cache/keyring.json``.

Benchmarks need the production path (a raw 256-bit key from a keyring, no key
derivation) on machines without a keyring, and must never fill a developer's
real keyring with keys of throw-away databases.  The file holds keys of
benchmark databases only, whose every record is made up.

Child processes (``caredesk seed``, the GUI start-up) select it with
``PYTHON_KEYRING_BACKEND=bench.keystore.FileKeyring``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
KEY_FILE = CACHE_DIR / "keyring.json"


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(KEY_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self, data: dict[str, str]) -> None:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = KEY_FILE.with_suffix(".tmp")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, KEY_FILE)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)
