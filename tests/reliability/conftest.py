"""Fixtures of the reliability tests: real servers that always stop, and figures for docs/reliability.md."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa

OUTCOME = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember whether the test itself passed, for the figures."""
    report = yield
    if report.when == "call":
        item.stash[OUTCOME] = report.outcome
    return report


@pytest.fixture
def kind(database_url) -> str:
    """'sqlite' or 'postgresql': which database this run of the test is on."""
    return sa.make_url(database_url).get_backend_name()


@pytest.fixture
def figures(request, kind):
    """Record this test's figures; appended as one JSON line to $RELIABILITY_REPORT when it is set."""
    recorded: dict = {}
    yield recorded
    path = os.environ.get("RELIABILITY_REPORT")
    if path and recorded:
        line = {
            "test": request.node.originalname,
            "module": request.node.module.__name__.rsplit(".", 1)[-1],
            "doc": (request.node.function.__doc__ or "").strip(),
            "database": kind,
            "outcome": request.node.stash.get(OUTCOME, "error"),
            **recorded,
        }
        with open(path, "a", encoding="utf-8") as report:
            report.write(json.dumps(line, default=str) + "\n")
