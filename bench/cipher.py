"""``cipher``: what encryption costs — SQLCipher against plain SQLite on one workload.

The workload: a fresh file with the app's pragmas (WAL, synchronous FULL, foreign
keys, temp store in memory), a patients-like table with two indexes, 10,000 rows
inserted in one transaction, then the reads a front desk makes (count, 300 name
prefix searches, 300 phone look-ups, a page deep in the name order, an aggregate).
SQLCipher is keyed with a raw key (as the app is when the keyring holds it).
The plain side is the standard library's ``sqlite3``; the same SQLCipher build
without a key is reported too, which separates encryption from build differences.
"""

from __future__ import annotations

import random
import secrets
import sqlite3
import time
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher

from bench.common import CACHE_DIR, emit, log, median_ms, p95_ms

ROWS = 10_000
TARGET_RATIO = 1.3
PRAGMAS = (
    "PRAGMA temp_store = MEMORY",
    "PRAGMA foreign_keys = ON",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
)
SCHEMA = (
    "CREATE TABLE patients (id INTEGER PRIMARY KEY, chart TEXT NOT NULL UNIQUE,"
    " last TEXT NOT NULL, first TEXT NOT NULL, search TEXT NOT NULL, born TEXT,"
    " phone TEXT NOT NULL, email TEXT NOT NULL, notes TEXT NOT NULL, balance INTEGER NOT NULL)",
    "CREATE INDEX ix_patients_search ON patients (search)",
    "CREATE INDEX ix_patients_phone ON patients (phone)",
)
_SYLLABLES = ("an", "be", "ca", "do", "el", "fa", "gu", "ho", "is", "ju", "ka", "lo", "ma",
              "ne", "or", "pa", "qui", "ro", "sa", "te", "ur", "va", "wi", "xo", "ya")  # fmt: skip


def _rows() -> list[tuple]:
    rng = random.Random(7)

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).title()

    rows = []
    for i in range(1, ROWS + 1):
        last, first = word(), word()
        rows.append(
            (
                i,
                f"P{i:06d}",
                last,
                first,
                f"{last} {first}".lower(),
                f"19{rng.randint(30, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                f"+1512555{rng.randint(0, 9999):04d}",
                f"{first}.{last}{i}@example.com".lower(),
                "Prefers mornings. " * rng.randint(0, 6),
                rng.randint(0, 250_000),
            )
        )
    return rows


def _workload(connect, path: Path, rows: list[tuple], key_pragma: str | None) -> float:
    rng = random.Random(11)
    prefixes = [r[4][:3] for r in rng.sample(rows, 300)]
    phones = [r[6] for r in rng.sample(rows, 300)]
    start = time.perf_counter()
    conn = connect(str(path), isolation_level=None)
    if key_pragma:
        conn.execute(key_pragma)
        conn.execute("PRAGMA cipher_compatibility = 4")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    for pragma in PRAGMAS:
        conn.execute(pragma)
    conn.execute("BEGIN")
    for statement in SCHEMA:
        conn.execute(statement)
    conn.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == ROWS
    for prefix in prefixes:
        conn.execute(
            "SELECT id, last, first FROM patients WHERE search >= ? AND search < ?"
            " ORDER BY search LIMIT 20",
            (prefix, prefix + "\uffff"),
        ).fetchall()
    for phone in phones:
        conn.execute("SELECT id FROM patients WHERE phone = ?", (phone,)).fetchall()
    conn.execute("SELECT * FROM patients ORDER BY search LIMIT 50 OFFSET 5000").fetchall()
    conn.execute(
        "SELECT substr(last, 1, 1), count(*), sum(balance) FROM patients GROUP BY 1"
    ).fetchall()
    conn.close()
    return time.perf_counter() - start


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def run(args) -> dict:
    runs = args.runs or 9
    folder = CACHE_DIR / "cipher"
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows()
    key = f"PRAGMA key = \"x'{secrets.token_hex(32)}'\""
    sides = {
        "sqlcipher": (sqlcipher.connect, key),
        "sqlite": (sqlite3.connect, None),
        "sqlcipher_unkeyed": (sqlcipher.connect, None),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    log(f"cipher: {runs} rounds of the {ROWS:,}-row workload on each side…")
    # Interleaved rounds, so a slow moment of the machine hits every side alike.
    for round_number in range(runs + 1):
        for name, (connect, pragma) in sides.items():
            path = folder / f"{name}.db"
            _fresh(path)
            elapsed = _workload(connect, path, rows, pragma)
            _fresh(path)
            if round_number:  # the first round warms caches and imports
                times[name].append(elapsed)
    cipher_ms = median_ms(times["sqlcipher"])
    plain_ms = median_ms(times["sqlite"])
    unkeyed_ms = median_ms(times["sqlcipher_unkeyed"])
    result = {
        "bench": "cipher",
        "n": runs,
        "rows": ROWS,
        "p50_ms": cipher_ms,
        "p95_ms": p95_ms(times["sqlcipher"]),
        "plain_p50_ms": plain_ms,
        "unkeyed_p50_ms": unkeyed_ms,
        "ratio_vs_sqlite": round(cipher_ms / plain_ms, 2),
        "ratio_vs_unkeyed": round(cipher_ms / unkeyed_ms, 2),
        "target_ratio": TARGET_RATIO,
    }
    human = (
        f"cipher ({ROWS:,} rows insert + queries, {runs} runs each): SQLCipher median "
        f"{cipher_ms} ms, plain sqlite3 {plain_ms} ms → ratio {result['ratio_vs_sqlite']}× "
        f"(target ≤ {TARGET_RATIO}×)\n"
        f"  same SQLCipher build without a key: {unkeyed_ms} ms "
        f"→ encryption alone {result['ratio_vs_unkeyed']}×"
    )
    emit(result, human, args.json)
    if not any(folder.iterdir()):
        folder.rmdir()
    return result
