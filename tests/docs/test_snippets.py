"""Every shell and Python block of the README and the docs runs as written, top to bottom, against a real gunicorn
server on a fresh database; where the docs show a block's output (a ```text block right after it), it prints that.

A block that cannot run in a test (`make run`, `pip install`, an outside service) carries
`<!-- snippet: skip (why) -->` on the line before its fence: it is not a test case (CI skips nothing), and
test_blocks_that_cannot_run_say_why checks that it gives its reason and, in Python, compiles.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from backend.settings import PROJECT_ROOT
from tests.docs.markdown import PYTHON, SHELL, Block, blocks
from tests.servers import Server, migrate, server_env

pytestmark = pytest.mark.slow

# Walk-throughs: every block runs in order. The others' runnable blocks run too, each document on its own server.
WALKTHROUGHS = ("README.md", "docs/agents.md", "docs/api.md")
DOCUMENTS = (*WALKTHROUGHS, "docs/operations.md", "docs/security.md")
# The address the docs show; each document's blocks reach their own server instead.
DOCUMENTED_ADDRESS = re.compile(r"\b(?:localhost|127\.0\.0\.1):8000\b")
BLOCKS = [block for path in DOCUMENTS for block in blocks(path) if block.runnable and block.skip is None]
NOT_RUN = [block for path in DOCUMENTS for block in blocks(path) if block.runnable and block.skip is not None]
BLOCK_TIMEOUT_S = 120
DOCS_ADMIN_TOKEN = "docs-operator-token-0123456789"


class Walkthrough:
    """One document followed top to bottom, as a reader would: its own server and fresh database, blocks in order."""

    def __init__(self, path: str, directory):
        self.path = path
        self.blocks = [block for block in blocks(path) if block.runnable and block.skip is None]
        self.work = directory / "work"  # outside the checkout, as an agent's repository is
        self.work.mkdir(parents=True)
        # Blocks meant for the checkout name its venv by the relative path `.venv/bin/...`.
        (self.work / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        database_url = f"sqlite:///{directory / 'sessions.db'}"
        migrate(database_url)
        # The operator's blocks send $ADMIN_TOKEN, as an operator's shell holds it beside the server's setting.
        self.server = Server(database_url, directory / "server.log", ADMIN_TOKEN=DOCS_ADMIN_TOKEN).start()
        self.env = server_env(database_url, ADMIN_TOKEN=DOCS_ADMIN_TOKEN)
        self.env["PATH"] = os.pathsep.join([*self._commands(directory), self.env.get("PATH", "")])
        # The package as `pip install -e` makes it importable, from anywhere.
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), self.env.get("PYTHONPATH")]))
        self.results: dict[int, subprocess.CompletedProcess] = {}

    @staticmethod
    def _commands(directory) -> list[str]:
        """Where the blocks find python and `session-store`: the venv's, else (the package not installed into the
        venv, as after `make test`) a stand-in running the same entry point, `python -m backend`."""
        venv = os.path.dirname(sys.executable)
        if shutil.which("session-store", path=venv):
            return [venv]
        stand_in = directory / "bin" / "session-store"
        stand_in.parent.mkdir()
        stand_in.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m backend "$@"\n', encoding="utf-8")
        stand_in.chmod(0o755)
        return [venv, str(stand_in.parent)]

    def run(self, block: Block) -> subprocess.CompletedProcess:
        """`block`'s run, after every earlier block of the document not run yet (so one block can be run alone)."""
        for earlier in self.blocks:
            if earlier.line > block.line:
                break
            if earlier.line not in self.results:
                self.results[earlier.line] = self._execute(earlier)
        return self.results[block.line]

    def _execute(self, block: Block) -> subprocess.CompletedProcess:
        text = DOCUMENTED_ADDRESS.sub(f"127.0.0.1:{self.server.port}", block.text)
        if block.language in SHELL:
            command = ["bash", "-e", "-o", "pipefail", "-c", text]
        else:
            script = self.work / f"block_{block.line}.py"
            script.write_text(text, encoding="utf-8")
            command = [sys.executable, str(script)]
        return subprocess.run(
            command, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S
        )


@pytest.fixture(scope="module")
def walkthroughs(tmp_path_factory):
    """The Walkthrough of a document, started on first use and stopped when the module's tests are done."""
    started: dict[str, Walkthrough] = {}

    def walkthrough(path: str) -> Walkthrough:
        if path not in started:
            started[path] = Walkthrough(path, tmp_path_factory.mktemp(path.replace("/", "_")))
        return started[path]

    yield walkthrough
    for each in started.values():
        each.server.stop()


def same_in_substance(printed: str, documented: str) -> bool:
    """Line by line, blank lines and trailing spaces aside; `...` in the documented output stands for any text."""
    got = [line.rstrip() for line in printed.splitlines() if line.strip()]
    expected = [line.rstrip() for line in documented.splitlines() if line.strip()]
    patterns = [re.compile(".*?".join(re.escape(part) for part in line.split("..."))) for line in expected]
    return len(got) == len(expected) and all(p.fullmatch(line) for p, line in zip(patterns, got, strict=True))


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_the_block_runs_as_written(block, walkthroughs):
    result = walkthroughs(block.path).run(block)
    assert result.returncode == 0, (
        f"{block.id} exited with {result.returncode}\n--- block\n{block.text}--- stdout\n{result.stdout}"
        f"--- stderr\n{result.stderr}"
    )
    if block.output is not None:
        assert same_in_substance(result.stdout, block.output), (
            f"{block.id} printed\n{result.stdout}\nwhere the docs show\n{block.output}"
        )


def test_blocks_that_cannot_run_say_why_and_python_ones_compile():
    assert NOT_RUN, "no block is marked as not run: the marker parser may be broken"
    for block in NOT_RUN:
        assert len(block.skip) > 10, f"{block.id}: the reason it cannot run is missing"
        if block.language in PYTHON:
            compile(block.text, block.id, "exec")


def test_each_walkthrough_has_blocks_that_run():
    for path in WALKTHROUGHS:
        assert any(block.path == path for block in BLOCKS), f"{path}: no block runs"


def test_documented_output_is_matched_in_substance():
    assert same_in_substance('{"id":7,"timestamp":"2026-12-06T13:21:02+00:00"}\n\n', '{"id":7,"timestamp":"..."}')
    assert not same_in_substance('{"id":8,"timestamp":"2026"}', '{"id":7,"timestamp":"..."}')
    assert not same_in_substance("204\n", "204\n204\n")
