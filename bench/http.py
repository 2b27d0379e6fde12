"""Over HTTP: gunicorn with 2 workers on loopback, driven by wrk; ratios to a trivial JSON route."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

from backend.settings import PROJECT_ROOT

POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"role": "user", "content": "hello over http"}'
"""


def ensure_wrk() -> str:
    """The wrk binary, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True)
    return shutil.which("wrk")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wrk(wrk: str, url: str, seconds: float, script: str | None) -> dict:
    args = [wrk, "-t2", "-c16", f"-d{max(1, int(seconds))}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script or "")
    args[1:1] = ["-s", handle.name]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    os.unlink(handle.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentile = lambda p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def http_cases(database_url: str, seconds: float) -> list[dict]:
    """POST/GET messages vs GET /healthz under the same gunicorn configuration."""
    wrk = ensure_wrk()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "APP_ENV": "production",
    }
    env.pop("ADMIN_TOKEN", None)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "config/gunicorn.conf.py",
            "--access-logfile",
            "/dev/null",
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base)
        session_id = requests.post(f"{base}/api/v1/sessions", json={}, timeout=10).json()["session_id"]
        messages = f"{base}/api/v1/sessions/{session_id}/messages"
        for i in range(100):
            requests.post(messages, json={"role": "user", "content": f"seed {i}"}, timeout=10)
        ceiling = _wrk(wrk, f"{base}/healthz", seconds, None)
        post = _wrk(wrk, messages, seconds, POST_SCRIPT)
        get = _wrk(wrk, f"{messages}?limit=50", seconds, None)
        ceiling_after = _wrk(wrk, f"{base}/healthz", seconds, None)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ceiling_rps = (ceiling["rps"] + ceiling_after["rps"]) / 2
    rows = []
    for name, result in (("POST .../messages", post), ("GET .../messages?limit=50", get)):
        ratio = round(result["rps"] / ceiling_rps, 3)
        rows.append(
            {
                "case": f"HTTP {name} vs GET /healthz",
                "target": ">= 0.5",
                "candidate_per_s": round(result["rps"]),
                "reference_per_s": round(ceiling_rps),
                "ratio": ratio,
                "p50_ms": result["p50_ms"],
                "p99_ms": result["p99_ms"],
                "non_2xx": result["non_2xx"],
                "ok": ratio >= 0.5 and result["non_2xx"] == 0,
            }
        )
    return rows


def _wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")
