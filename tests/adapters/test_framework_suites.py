"""The frameworks' own tests against our adapters: the pinned openai-agents release's session tests, from its
source distribution on the registry (downloaded at test time, never copied here), with SQLiteSession pointed at
StoreSession by our shim (tests/adapters/framework_suites)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # downloads a source distribution

SHIMS = Path(__file__).parent / "framework_suites"
SESSION_TESTS = ["tests/memory/test_session.py", "tests/memory/test_session_limit.py"]


def source_distribution(package: str, into: Path) -> Path:
    """The installed release's sdist, downloaded and unpacked into `into`; its folder."""
    version = importlib.metadata.version(package)
    download = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--quiet"]
    subprocess.run([*download, "--dest", str(into), f"{package}=={version}"], check=True, timeout=300)
    archive = next(into.glob(f"{package.replace('-', '_')}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / archive.name.removesuffix(".tar.gz")


def test_the_openai_agents_session_tests_pass_against_store_session(tmp_path):
    release = source_distribution("openai-agents", tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    shutil.copy(SHIMS / "openai_agents_shim.py", shim / "store_session_shim.py")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "store_session_shim", "-q", "-s"]
    env = {"PYTHONPATH": f".:{shim}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([*command, *SESSION_TESTS], cwd=release, env=env, capture_output=True, text=True, timeout=600)
    print(run.stdout[-4000:], run.stderr[-2000:])
    summary = re.search(r"(\d+) passed, (\d+) deselected", run.stdout)
    assert run.returncode == 0 and summary is not None
    assert (int(summary[1]), int(summary[2])) == (53, 18)  # every test but those of SQLiteSession's internals
