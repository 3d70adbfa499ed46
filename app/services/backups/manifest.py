"""The manifest beside a backup (``<backup>.manifest.json``): what the backup holds and how to
tell it is whole, readable by people and by ``caredesk audit verify --seal``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from app.services.clinic.audit_seals import Seal

MANIFEST_FORMAT = "caredesk-backup-manifest-2"
#: The manifests of backups made before an upgrade by older versions: no rows, no SHA-256.
OLD_MANIFEST_FORMAT = "caredesk-backup-manifest-1"
MANIFEST_SUFFIX = ".manifest.json"


class ManifestError(ValueError):
    """A manifest that is missing, unreadable or not one of ours (the message says which)."""


@dataclass(frozen=True)
class Manifest:
    made_at: datetime
    program: str
    #: The schema revision of the backed-up database ("0011").
    schema: str
    #: "file" (an encrypted SQLCipher file) or "server" (an encrypted pg_dump).
    kind: str
    #: Why it was made: "automatic", "sign-out", "manual", "before restore", "before upgrade".
    reason: str
    clinic: str
    backup: str
    size: int | None = None
    sha256: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seal: Seal | None = None

    @property
    def trail(self) -> str | None:
        """Which clinic's trail this is (its first audit row's hash): the clinic's identity,
        the same after a move to the server or a restore."""
        return self.seal.trail if self.seal is not None else None

    def to_json(self) -> str:
        body = {
            "format": MANIFEST_FORMAT,
            "made_at": self.made_at.isoformat(),
            "program": self.program,
            "schema": self.schema,
            "kind": self.kind,
            "reason": self.reason,
            "clinic": self.clinic,
            "backup": self.backup,
            "size": self.size,
            "sha256": self.sha256,
            "rows": self.rows,
            "seal": json.loads(self.seal.to_json()) if self.seal is not None else None,
        }
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            body = json.loads(text)
        except ValueError:
            raise ManifestError("it is not a CareDesk backup manifest (not JSON)") from None
        if not isinstance(body, dict) or body.get("format") not in (
            MANIFEST_FORMAT,
            OLD_MANIFEST_FORMAT,
        ):
            raise ManifestError("it is not a CareDesk backup manifest")
        try:
            seal = body.get("seal")
            return cls(
                made_at=datetime.fromisoformat(body["made_at"]),
                program=str(body.get("program", "")),
                schema=str(body.get("schema", "")),
                kind=str(body.get("kind", "file")),
                reason=str(body.get("reason", "before upgrade")),
                clinic=str(body.get("clinic") or (seal or {}).get("clinic", "")),
                backup=str(body["backup"]),
                size=None if body.get("size") is None else int(body["size"]),
                sha256=None if body.get("sha256") is None else str(body["sha256"]),
                rows={str(k): int(v) for k, v in (body.get("rows") or {}).items()},
                seal=Seal.from_json(json.dumps(seal)) if isinstance(seal, dict) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"the manifest is damaged ({type(exc).__name__})") from None


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


def read_manifest(backup: Path) -> Manifest:
    """The manifest of the backup file ``backup``; ManifestError saying what is wrong."""
    path = manifest_path(Path(backup))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"its manifest ({path.name}) is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"its manifest ({path.name}) cannot be read: {exc}") from None
    return Manifest.from_json(text)
