"""Which automatic backups to keep: the newest N, then one a day, one a week, one a month.

The usual grandfather–father–son rotation.  With the defaults (24 hourly, 14 daily, 8
weekly, 12 monthly) a clinic can go back an hour, a day within two weeks, a week within two
months and a month within a year — about 58 files.  Only automatic and sign-out backups are
ever removed: one made by hand, before an upgrade or before a restore stays until a person
removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

#: The reasons whose backups the rotation may remove.
ROTATED_REASONS = frozenset({"automatic", "sign-out"})


@dataclass(frozen=True)
class KeepPolicy:
    hourly: int = 24
    daily: int = 14
    weekly: int = 8
    monthly: int = 12


@dataclass(frozen=True)
class KeptBackup:
    path: Path
    made_at: datetime
    reason: str


def backups_to_remove(
    backups: Sequence[KeptBackup], policy: KeepPolicy, zone: ZoneInfo
) -> list[Path]:
    """The backups the rotation no longer keeps (never the newest, never a hand-made one).
    Days, weeks and months are the clinic's, on its own clock."""
    rotated = sorted(
        (b for b in backups if b.reason in ROTATED_REASONS), key=lambda b: b.made_at, reverse=True
    )
    keep: set[Path] = {b.path for b in rotated[: max(policy.hourly, 1)]}

    def newest_of_each(period: Callable[[datetime], Hashable], count: int) -> None:
        seen: set[Hashable] = set()
        for backup in rotated:
            if len(seen) >= count:
                return
            key = period(backup.made_at.astimezone(zone))
            if key not in seen:
                seen.add(key)
                keep.add(backup.path)

    newest_of_each(lambda at: at.date(), policy.daily)
    newest_of_each(lambda at: at.isocalendar()[:2], policy.weekly)
    newest_of_each(lambda at: (at.year, at.month), policy.monthly)
    return [b.path for b in rotated if b.path not in keep]
