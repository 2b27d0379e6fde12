"""The frameworks' own tests against our adapters: the pinned openai-agents and langchain-core releases' session
and history tests, from their source distributions on the registry (downloaded at test time, never copied here),
with SQLiteSession pointed at StoreSession and InMemoryChatMessageHistory at SessionChatMessageHistory by our
shims (tests/adapters/framework_suites)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # downloads a source distribution

SHIMS = Path(__file__).parent / "framework_suites"


def source_distribution(package: str, into: Path) -> Path:
    """The installed release's sdist, downloaded and unpacked into `into`; its folder."""
    version = importlib.metadata.version(package)
    download = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--quiet"]
    subprocess.run([*download, "--dest", str(into), f"{package}=={version}"], check=True, timeout=300)
    archive = next(into.glob(f"{package.replace('-', '_')}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / archive.name.removesuffix(".tar.gz")


@pytest.fixture(scope="module")
def openai_agents_release(tmp_path_factory):
    """The pinned openai-agents sdist, unpacked once for its session and its compaction tests."""
    return source_distribution("openai-agents", tmp_path_factory.mktemp("openai-agents"))


def run_suite(
    release: Path, shim_file: str, plugin: str, tests: list[str], *options: str
) -> tuple[int, int, int | None]:
    """Run `tests` of the unpacked `release` with our shim as plugin `plugin`: (passed, deselected, how many
    built our adapter when the shim counts them, else None)."""
    shim = Path(tempfile.mkdtemp(prefix=f"shim-{plugin}-", dir=release.parent))
    shutil.copy(SHIMS / shim_file, shim / f"{plugin}.py")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", plugin, "-q", "-s", *options]
    env = {"PYTHONPATH": f".:{shim}", "PATH": "/usr/bin:/bin", "HOME": str(release.parent)}
    run = subprocess.run([*command, *tests], cwd=release, env=env, capture_output=True, text=True, timeout=600)
    print(run.stdout[-4000:], run.stderr[-2000:])
    summary = re.search(r"(\d+) passed, (\d+) deselected", run.stdout)
    assert run.returncode == 0 and summary is not None
    built = re.search(r"(\d+) tests built a StoreSession", run.stdout)
    return int(summary[1]), int(summary[2]), None if built is None else int(built[1])


def test_the_openai_agents_session_tests_pass_against_store_session(openai_agents_release):
    tests = ["tests/memory/test_session.py", "tests/memory/test_session_limit.py"]
    # Every test but those of SQLiteSession's internals (listed with their reasons in the shim).
    assert run_suite(openai_agents_release, "openai_agents_shim.py", "store_session_shim", tests) == (53, 18, 47)


def test_the_openai_agents_compaction_tests_pass_against_store_session(openai_agents_release):
    """OpenAIResponsesCompactionSession over StoreSession: its automatic (suffix) and manual (whole history)
    replacement, with the model and the compaction endpoint scripted by the tests themselves (no network)."""
    tests = [
        "tests/memory/test_openai_responses_compaction_session.py",
        "tests/memory/test_compaction_suffix.py",
        "tests/memory/test_compaction_model_visibility.py",
    ]
    # The rest run over the SDK's in-memory or async SQLite sessions, or its mocks: 58 build ours.
    assert run_suite(openai_agents_release, "openai_agents_shim.py", "store_session_shim", tests) == (209, 12, 58)


def test_the_langchain_core_history_tests_pass_against_session_chat_message_history(tmp_path):
    release = source_distribution("langchain-core", tmp_path)
    tests = ["tests/unit_tests/chat_history/test_chat_history.py", "tests/unit_tests/runnables/test_history.py"]
    # --noconftest: their conftest only adds a blocking-call detector (blockbuster, a dev dependency of
    # theirs); -o addopts: their options name plugins of theirs (syrupy).
    options = ("--noconftest", "-o", "addopts=")
    assert run_suite(release, "langchain_shim.py", "history_shim", tests, *options) == (28, 1, None)
