"""The package installs on its own and serves an agent process outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from backend.settings import PROJECT_ROOT
from backend.store.engines import create_engine
from backend.store.migrations import upgrade_to_head

pytestmark = pytest.mark.slow

# The README's Python snippet, as an agent process in another repository would run it.
SNIPPET = textwrap.dedent("""
    import backend
    from backend.services.session import SessionService

    service = SessionService()
    session = service.get_or_create_session(session_id="abc123", metadata={"client": "web"})
    message_id = service.save_message(session_id="abc123", role="user", content="Hello!")
    history = service.get_chat_history(session_id="abc123", limit=50)
    stats = service.get_session_stats(session_id="abc123")
    print(backend.__file__, message_id, [m.content for m in history], stats.message_count)
""")


def test_an_installed_package_serves_the_readme_snippet_from_another_directory(tmp_path):
    source, target, elsewhere = tmp_path / "source", tmp_path / "site", tmp_path / "agent"
    elsewhere.mkdir()
    # A copy of what a checkout holds, so the build's own files land outside the checkout.
    shutil.copytree(PROJECT_ROOT / "backend", source / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    # With build isolation pip brings the setuptools that pyproject.toml asks for (a new venv's own is too old).
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    # Only the package's own name is installed: no generic top-level module such as `config`.
    top_level = sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info"))
    assert top_level == ["backend"]
    database = tmp_path / "agent.db"
    upgrade_to_head(create_engine(f"sqlite:///{database}"))
    run = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(target), "DATABASE_URL": f"sqlite:///{database}", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    location, message_id, contents, count = run.stdout.split(" ", 3)
    assert location.startswith(str(target)) and message_id == "1"
    assert contents.strip() + " " + count.strip() == "['Hello!'] 1"
