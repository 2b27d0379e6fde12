"""Peak RSS of one gunicorn worker serving the worst history page: 500 messages of 400 kB of emoji, GET limit=500.

    python -m bench.page_memory [--root DIR]

--root runs another checkout of the project (for example the commit before bounded pages) on
the same data. Prints the response size and the worker's VmHWM / VmRSS before and after the GET.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.servers import free_port

MESSAGES, EMOJI_PER_MESSAGE = 500, 100_000  # 100,000 x 4 bytes = 400 kB of UTF-8 each


def build(root: Path, path: Path) -> None:
    """Migrate an empty SQLite file with `root`'s Alembic, then fill one session with the worst case."""
    env = {**os.environ, "SESSION_DB_PATH": str(path)}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=root, env=env, check=True, capture_output=True
    )
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO sessions (session_id, message_count) VALUES ('worst', ?)", (MESSAGES,))
    content = "😀" * EMOJI_PER_MESSAGE
    conn.executemany(
        "INSERT INTO chat_history (session_id, role, content) VALUES ('worst', 'user', ?)", [(content,)] * MESSAGES
    )
    conn.commit()
    conn.close()


def memory(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of `pid`, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) // 1024 for name in ("VmHWM", "VmRSS")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sessions.db"
        build(root, path)
        port = free_port()
        env = {
            **os.environ,
            "SESSION_DB_PATH": str(path),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
        }
        env.pop("DATABASE_URL", None)
        master = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if requests.get(f"{base}/healthz", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            worker = int(Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()[0])
            before = memory(worker)
            started = time.monotonic()
            response = requests.get(f"{base}/api/v1/sessions/worst/messages", params={"limit": 500}, timeout=600)
            elapsed = time.monotonic() - started
            after = memory(worker)
            body = response.json()
            print(
                json.dumps(
                    {
                        "root": str(root),
                        "status": response.status_code,
                        "response_bytes": len(response.content),
                        "messages_in_page": len(body["messages"]),
                        "next_before": body["next_before"],
                        "seconds": round(elapsed, 2),
                        "worker_mb_before": before,
                        "worker_mb_after": after,
                    }
                )
            )
        finally:
            master.terminate()
            master.wait(30)


if __name__ == "__main__":
    main()
