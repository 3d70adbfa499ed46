"""``python -m bench NAME [--db PATH] [--json]``: run one benchmark, or ``all`` of them.

With ``--json`` each benchmark prints exactly one JSON object on one line of
stdout (progress and notes go to stderr).  The exit status is 1 when a
benchmark could not run (its JSON line then carries an ``error``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench import calendar, cipher, open_db, record_open, search, startup

BENCHMARKS = {
    "startup": startup.run,
    "open": open_db.run,
    "cipher": cipher.run,
    "search": search.run,
    "record": record_open.run,
    "calendar": calendar.run,
    "availability": lambda args: __import__("bench.availability", fromlist=["run"]).run(args),
    "schedule": lambda args: __import__("bench.plans", fromlist=["x"]).run_schedule(args),
    "collections": lambda args: __import__("bench.plans", fromlist=["x"]).run_collections(args),
    "documents": lambda args: __import__("bench.documents", fromlist=["run"]).run(args),
    "move": lambda args: __import__("bench.move_to_server", fromlist=["run"]).run(args),
    "server": lambda args: __import__("bench.several_pcs", fromlist=["run"]).run(args),
    "today": lambda args: __import__("bench.today", fromlist=["run"]).run(args),
    "report": lambda args: __import__("bench.reports", fromlist=["run"]).run(args),
    "tasks": lambda args: __import__("bench.task_list", fromlist=["run"]).run(args),
    "referrals": lambda args: __import__("bench.referrals_page", fromlist=["run"]).run(args),
    "messages": lambda args: __import__("bench.messages", fromlist=["run"]).run(args),
    "backups": lambda args: __import__("bench.backups", fromlist=["run"]).run(args),
    "clinic_export": lambda args: __import__("bench.clinic_export", fromlist=["run"]).run(args),
    "moving": lambda args: __import__("bench.moving", fromlist=["run"]).run(args),
}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="CareDesk benchmarks on a large seeded clinic (made once, cached in "
        "bench/.cache/).",
    )
    parser.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark")
    parser.add_argument(
        "--db", type=Path, metavar="PATH", help="use this clinic instead of the seeded one"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per benchmark")
    parser.add_argument("--patients", type=_positive, default=100_000, help="default: 100000")
    parser.add_argument("--years", type=_positive, default=10, help="default: 10")
    parser.add_argument("--seed", type=int, default=7, help="default: 7")
    parser.add_argument("--runs", type=_positive, help="timed runs (default: per benchmark)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    failed = False
    for name in names:
        result = BENCHMARKS[name](args)
        failed = failed or "error" in result
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
