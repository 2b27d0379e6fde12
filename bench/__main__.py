"""`python -m bench [--smoke] [--json FILE] [--databases sqlite,postgresql] [--no-http]`: print the table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.cases import flat_history, operator_paths, service_vs_raw
from bench.fixtures import BenchDatabase


@dataclass(frozen=True)
class Size:
    """How big and how long each case runs."""

    rounds: int
    seconds: float
    repeats: int
    big_session: int
    other_messages: int
    many_sessions: int
    http_seconds: float
    turn_chats: int = 200
    slow_idle: int = 50
    slow_trickling: int = 50
    stream_chunks: int = 40


FULL = Size(
    rounds=5,
    seconds=1.0,
    repeats=200,
    big_session=1_000_000,
    other_messages=2_000_000,
    many_sessions=1_000_000,
    http_seconds=10,
)
SMOKE = Size(
    rounds=1,
    seconds=0.05,
    repeats=5,
    big_session=3_000,
    other_messages=2_000,
    many_sessions=2_000,
    http_seconds=1,
    turn_chats=10,
    slow_idle=2,
    slow_trickling=2,
    stream_chunks=5,
)


def run(kinds: list[str], size: Size, http: bool, postgres_url: str | None, only_turns: bool = False) -> list[dict]:
    """Every case on every database kind (or only the conversation-turn cases); rows of the report."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        for kind in kinds:

            def fresh():
                return BenchDatabase(kind, Path(workdir), postgres_url)

            if only_turns:
                from bench.turns import turn_cases

                db = fresh()
                try:
                    rows += [{"database": kind, **row} for row in turn_cases(db.url, size)]
                finally:
                    db.drop()
                continue

            for case in (service_vs_raw, flat_history):
                db = fresh()
                try:
                    rows += [{"database": kind, **row} for row in case(db, size)]
                finally:
                    db.drop()
            if kind == "sqlite":
                rows += [{"database": kind, **row} for row in _instruction_rows(size)]
            big, small = fresh(), fresh()
            try:
                rows += [{"database": kind, **row} for row in operator_paths(big, small, size)]
            finally:
                big.drop(), small.drop()
            if http:
                from bench.http import http_cases
                from bench.turns import turn_cases

                db = fresh()
                try:
                    rows += [{"database": kind, **row} for row in http_cases(db.url, size.http_seconds)]
                finally:
                    db.drop()
                if kind == "sqlite":
                    from bench.durability import sync_levels_over_http
                    from bench.peer_cpu import peer_cpu_cases

                    rounds = 3 if size.rounds > 1 else 1
                    # The peers serve SQLite only; every server at synchronous=NORMAL.
                    rows += [{"database": kind, **row} for row in peer_cpu_cases(size.http_seconds / 2, rounds)]
                    rows += [
                        {"database": kind, **row}
                        for row in sync_levels_over_http(size.http_seconds, rounds, Path(workdir))
                    ]
                db = fresh()
                try:
                    rows += [{"database": kind, **row} for row in turn_cases(db.url, size)]
                finally:
                    db.drop()
            print(f"[{kind} done]", file=sys.stderr)
    return rows


def _instruction_rows(size: Size) -> list[dict]:
    """Instructions per request under callgrind (bench.instructions); none, said so, without valgrind."""
    from bench.instructions import instruction_cases, missing_tools

    reason = missing_tools()
    if reason:
        print(f"instruction counts left out: {reason}", file=sys.stderr)
        return []
    return instruction_cases(requests=100 if size.rounds > 1 else 10, warm=50 if size.rounds > 1 else 5)


def render(rows: list[dict]) -> str:
    """A Markdown table of the rows."""
    header = "| database | case | candidate | reference | ratio | target | met |"
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        if "candidate_instructions" in row:
            cand, ref = f"{row['candidate_instructions']:,} instr", f"{row['reference_instructions']:,} instr"
        elif "candidate_ms" in row:
            cand, ref = f"{row['candidate_ms']} ms", f"{row['reference_ms']} ms"
        else:
            cand, ref = f"{row['candidate_per_s']}/s", f"{row['reference_per_s']}/s"
            if "p50_ms" in row:
                cand += f" (p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms)"
        if "detail" in row:
            cand += f" ({row['detail']})"
        lines.append(
            f"| {row['database']} | {row['case']} | {cand} | {ref} | {row['ratio']} | {row['target']} "
            f"| {'yes' if row['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="seconds-long run on small data (what the test suite runs)"
    )
    parser.add_argument("--json", type=Path, help="also write the rows and the machine as JSON here")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--only-turns", action="store_true", help="only the conversation-turn cases (bench/turns.py)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.databases.split(",") if k]
    postgres_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if "postgresql" in kinds and not postgres_url:
        print("no BENCH_DATABASE_URL or TEST_DATABASE_URL: PostgreSQL skipped", file=sys.stderr)
        kinds.remove("postgresql")
    size = SMOKE if args.smoke else FULL
    rows = run(kinds, size, http=not args.no_http, postgres_url=postgres_url, only_turns=args.only_turns)
    print(render(rows))
    if args.json:
        machine = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({"size": asdict(size), "machine": machine, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
