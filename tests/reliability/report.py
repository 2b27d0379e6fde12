"""Rerun the reliability suite and write docs/reliability.md from the figures each test records.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.reliability.report

Extra arguments go to pytest (e.g. `-k load`). Without TEST_DATABASE_URL the PostgreSQL half is skipped
(outside CI) and the document says so.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from backend.settings import PROJECT_ROOT

DOCUMENT = PROJECT_ROOT / "docs" / "reliability.md"
COMMAND = (
    "TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.reliability.report"
)
SKIP = {"test", "module", "doc", "database", "outcome"}

INTRO = """# Reliability: figures from the last run

Every number below was written by the tests of `tests/reliability/` while they ran against real gunicorn
servers (2 workers, loopback) on SQLite and on PostgreSQL; this file is generated, do not edit it by hand.
Regenerate it (reruns the whole suite, about {minutes} minutes here) with:

```
{command}
```

Run: {when}, commit `{commit}`, Python {python}, {machine}. pytest: `{summary}`.
"""

NOTES = """
## What the tests found, and what was fixed

Each was fixed in the code, and the test named beside it fails without the fix.

| finding | fix | caught by |
| --- | --- | --- |
| A connection opened while the SQLite file was read-only stayed read-only in the pool: after the file was writable again every write on it still answered 503, until a restart. | `backend/db.py`: a connection opened on a file this process may not write is marked, and replaced at checkout once the file is writable (one `access()` call, only for such connections); SQLITE_READONLY is treated as a disconnect | `test_faults.py::test_database_going_away_...[sqlite]` |
| PostgreSQL connections that died while idle in the pool (database restart, failover, cut link) each failed one request with 503 after the database was back (no pre-ping since the performance work, and errors on the driver's cursor bypassed SQLAlchemy's disconnect handling). | `backend/db.py`: at checkout a `poll()` on the socket (no round trip) discards a connection the server closed; `backend/services/driver.py` + `invalidate_if_unusable`: a connection that fails with a disconnect leaves the pool at once | `test_faults.py::test_database_going_away_...[postgresql]` ("writes_after_idle_blip") |
| A lone surrogate in any JSON string (`"\\ud800"`, legal in JSON, not in UTF-8) reached the driver: 500 on every route. | `backend/services/validation.py`: refused as 422 naming the field | `test_hostile_input.py` corpus, `test_service_properties.py::test_text_the_database_cannot_encode...` |
| `before` (or a service `limit`) past 2^63 - 1: OverflowError on SQLite, out of range on PostgreSQL: 500. | `backend/services/session.py`: such a bound excludes nothing, read as none | `test_service_properties.py::test_history_bounds_past_64_bits...` |
| An integer literal over Python's 4,300-digit limit in a body: ValueError from `json.loads`: 500. | `backend/api/blueprint.py`: 400 like any invalid JSON | corpus: "number over 4300 digits" |
| A chunked body (no Content-Length) over MAX_CONTENT_LENGTH was cut at the limit by Werkzeug and parsed as if whole: 400, or accepted when the cut happened to be valid JSON. | `backend/api/blueprint.py`: 413 | corpus: "chunked valid JSON padded past the limit"; `test_security.py::test_the_body_size_limit...` |

## Notes on method

- **SQLite "database goes away"**: we run as root, which ignores permissions, so that test serves as `nobody`
  (`gunicorn --preload --user nobody --group nogroup`) over a directory of its own, then makes the file and the
  directory read-only. A worker that already has the file open keeps writing to it (POSIX: permissions are checked
  at open), so the test replaces the workers, as a crash or a max-requests recycle would. Recovery is then by
  itself: no restart.
- **PostgreSQL "database goes away"**: a TCP proxy of the test's own on loopback sits between gunicorn and
  127.0.0.1:5432 and is cut (every connection dropped, new ones closed at once), then restored. The machine's
  PostgreSQL is never stopped.
- **Load**: 16 client threads for 8 s: appends to one shared session and to 64 sessions of their own, history
  reads, and get-or-create of a new id every 250 ms raced by all clients. Afterwards the store is read directly
  (not through the API): every 201-acknowledged message must be there once, unaltered, and every session's
  `message_count` must equal its rows. The request rate is bounded by this 2-core machine running clients and
  servers together.
- **Kill**: requests cut by a SIGKILL are not acknowledged, so they may or may not be stored; only acknowledged
  ones must be. "transport errors" are those cut requests and the connection refusals while the server was down.
"""


def run_suite(report_path: Path, pytest_args: list[str]) -> tuple[int, str, float]:
    """Run pytest on tests/reliability with RELIABILITY_REPORT set; its exit code, last line and duration."""
    env = {**os.environ, "RELIABILITY_REPORT": str(report_path)}
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability", *pytest_args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(process.stdout[-5000:])
    sys.stderr.write(process.stderr[-5000:])
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else "no output"
    return process.returncode, summary, time.monotonic() - started


def cell(value) -> str:
    """A figure as table text."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value).replace("|", "\\|")


def render(lines: list[dict], summary: str, seconds: float) -> str:
    """The whole document."""
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    parts = [
        INTRO.format(
            minutes=max(1, round(seconds / 60)),
            command=COMMAND,
            commit=commit,
            when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            python=platform.python_version(),
            machine=f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}",
            summary=summary,
        )
    ]
    if not any(line["database"] == "postgresql" for line in lines):
        parts.append("\n**PostgreSQL was not part of this run** (TEST_DATABASE_URL unset).\n")
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in lines:
        grouped[(line["module"], line["test"])].append(line)
    for (module, test), rows in grouped.items():
        parts.append(f"\n## `{module}.py::{test}`\n\n{rows[0]['doc']}\n")
        keys = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in SKIP]
        parts.append("| database | outcome | " + " | ".join(keys) + " |")
        parts.append("| --- | --- | " + " | ".join("---" for _ in keys) + " |")
        for row in rows:
            parts.append(
                f"| {row['database']} | {row['outcome']} | " + " | ".join(cell(row.get(k, "")) for k in keys) + " |"
            )
    parts.append(NOTES)
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    """Rerun, then write docs/reliability.md; the suite's exit code."""
    with tempfile.TemporaryDirectory() as directory:
        report_path = Path(directory) / "figures.jsonl"
        code, summary, seconds = run_suite(report_path, argv)
        lines = [json.loads(line) for line in report_path.read_text().splitlines()] if report_path.exists() else []
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(render(lines, summary, seconds), encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(PROJECT_ROOT)} ({len(lines)} test runs)")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
