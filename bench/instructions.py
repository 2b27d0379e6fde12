"""Instructions per request of the hot paths, counted by valgrind's callgrind on the app in-process (bench/inproc.py).

Counts are exact and repeatable to a fraction of a percent whatever else the machine runs, so a test may assert
them: tests/bench/test_instruction_budget.py fails when a hot path takes more than BUDGET_TOLERANCE over
bench/instruction_budget.json. `make budget` (python -m bench.instructions --write-budget) counts again and
rewrites that file: run it when a change makes a path deliberately cheaper (lower the budget, so that the next
change cannot take the gain back) or dearer (say why in the commit).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.inproc import SERVICE_CASES, TURN_CASES, WSGI_CASES

BENCH = Path(__file__).parent
BUDGET_FILE = BENCH / "instruction_budget.json"
COUNTER_SOURCE = BENCH / "callgrind_control.c"
BUDGET_TOLERANCE = 0.10
# The hot paths: the three routes through the WSGI app, a whole turn through ChatService (an instant agent: the
# turn's two writes, its runner and agent-call threads), and a resume's read of a turn's events.
BUDGET_CASES = WSGI_CASES + TURN_CASES
CALLGRIND_HEADER = Path("/usr/include/valgrind/callgrind.h")
# What the measured process inherits: nothing that configures the app (ADMIN_TOKEN, AUTH_MODE, rate limits...).
# A fixed hash seed, so that set and dict orders (and the instructions they take) are the same in every run.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


class CannotCount(RuntimeError):
    """valgrind, its header or a C compiler is missing."""


def missing_tools() -> str | None:
    """Why instructions cannot be counted on this machine, or None when they can."""
    if shutil.which("valgrind") is None or not CALLGRIND_HEADER.exists():
        return "valgrind is not installed (Debian: apt-get install valgrind)"
    if shutil.which("gcc") is None:
        return "gcc is not installed"
    return None


def build_counter(directory: Path) -> Path:
    """bench/callgrind_control.c as a shared library in `directory`."""
    library = directory / "libcallgrind_control.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(COUNTER_SOURCE)], check=True)
    return library


def count(cases: tuple[str, ...] = BUDGET_CASES, requests: int = 100, warm: int = 50) -> dict[str, int]:
    """Instructions per call of each case (bench.inproc), in one process under callgrind."""
    reason = missing_tools()
    if reason:
        raise CannotCount(reason)
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as workdir:
        work = Path(workdir)
        library = build_counter(work)
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update(PYTHONHASHSEED="0", PYTHONPATH=str(BENCH.parent))
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",  # only between the client requests: not the imports, the seeding, the warm-up
            f"--callgrind-out-file={work / 'callgrind.out'}",
            f"--log-file={work / 'valgrind.log'}",
            sys.executable,
            "-m",
            "bench.inproc",
            f"--requests={requests}",
            f"--warm={warm}",
            f"--counter={library}",
            *cases,
        ]
        with open(work / "app.log", "wb") as log:
            finished = subprocess.run(command, cwd=BENCH.parent, env=env, stdout=subprocess.PIPE, stderr=log)
        if finished.returncode != 0:
            tail = (work / "app.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"bench.inproc under callgrind exited with {finished.returncode}:\n{tail}")
        totals = _dumped_totals(work)
    missing = set(cases) - set(totals)
    if missing:
        raise RuntimeError(f"no callgrind dump for {sorted(missing)}")
    return {case: totals[case] // requests for case in cases}


def _dumped_totals(work: Path) -> dict[str, int]:
    """{label: instructions} of every callgrind dump a client request made (callgrind.out.1, .2, ...)."""
    totals = {}
    for dump in work.glob("callgrind.out.*"):
        text = dump.read_text(errors="replace")
        label = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE)
        total = re.search(r"^totals: (\d+)", text, re.MULTILINE)
        if label and total:
            totals[label.group(1).strip()] = int(total.group(1))
    return totals


def read_budget() -> dict[str, int]:
    """The budget: instructions per request of each hot path."""
    return json.loads(BUDGET_FILE.read_text())["instructions_per_request"]


def write_budget(counts: dict[str, int]) -> None:
    """Rewrite bench/instruction_budget.json with these counts."""
    document = {
        "about": (
            "Instructions per request of the hot paths (callgrind, in-process, bench/inproc.py). "
            "tests/bench/test_instruction_budget.py fails above these plus 10%. Rewrite with `make budget`."
        ),
        "measured_on": date.today().isoformat(),
        "instructions_per_request": counts,
    }
    BUDGET_FILE.write_text(json.dumps(document, indent=2) + "\n")


def over_budget(counts: dict[str, int], budget: dict[str, int]) -> dict[str, str]:
    """The cases that take more than their budget plus BUDGET_TOLERANCE, with what they took."""
    return {
        case: f"{counts[case]:,} instructions per request, budget {budget[case]:,} (+{BUDGET_TOLERANCE:.0%})"
        for case in counts
        if counts[case] > budget[case] * (1 + BUDGET_TOLERANCE)
    }


def instruction_cases(requests: int = 100, warm: int = 50) -> list[dict]:
    """Rows of the bench report: each hot path against its budget, and the raw sqlite3 reference against the service
    doing the same work (issue 23's targets: append >= 0.5x, read-50 >= 0.75x), in one process under callgrind."""
    counts = count(BUDGET_CASES + SERVICE_CASES, requests, warm)
    budget = read_budget()
    rows = []
    for case in BUDGET_CASES:
        ratio = round(counts[case] / budget[case], 3)
        rows.append(
            {
                "case": f"instructions per request, {case}, vs the budget",
                "target": f"<= {1 + BUDGET_TOLERANCE:.1f}",
                "candidate_instructions": counts[case],
                "reference_instructions": budget[case],
                "ratio": ratio,
                "ok": ratio <= 1 + BUDGET_TOLERANCE,
            }
        )
    for work, target in (("append", 0.5), ("read-50", 0.75)):
        service, raw = counts[f"service-{work}"], counts[f"raw-{work}"]
        ratio = round(raw / service, 3)  # the share of the service's instructions the same work needs
        rows.append(
            {
                "case": f"instructions: raw sqlite3 vs the service, {work}",
                "target": f">= {target}",
                "candidate_instructions": raw,
                "reference_instructions": service,
                "ratio": ratio,
                "ok": ratio >= target,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--write-budget", action="store_true", help="rewrite bench/instruction_budget.json")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    counts = count(BUDGET_CASES, args.requests)
    budget = read_budget() if BUDGET_FILE.exists() else {}
    for case, instructions in counts.items():
        allowed = budget.get(case)
        versus = f"budget {allowed:,} ({instructions / allowed:.3f}x)" if allowed else "no budget"
        print(f"{case:10} {instructions:>12,} instructions per request, {versus}")
    if args.write_budget:
        write_budget(counts)
        print(f"wrote {BUDGET_FILE.relative_to(BENCH.parent)}")
    return 1 if not args.write_budget and over_budget(counts, budget) else 0


if __name__ == "__main__":
    sys.exit(main())
