"""The hot paths stay within their instruction budget (bench/instruction_budget.json, plus 10%): counted by
callgrind on the app in-process (and a whole turn through ChatService), so the check is exact whatever else the
machine runs. When a change makes a path deliberately cheaper or dearer, `make budget` rewrites the file
(docs/performance.md, "Instruction budget")."""

import os

import pytest

from bench.instructions import BUDGET_CASES, count, missing_tools, over_budget, read_budget


def test_every_hot_path_has_a_budget():
    assert set(read_budget()) == set(BUDGET_CASES)


def test_a_path_more_than_ten_percent_over_its_budget_is_named():
    budget = {"post": 1_000_000, "healthz": 500_000}
    assert over_budget({"post": 1_099_000, "healthz": 500_000}, budget) == {}
    assert set(over_budget({"post": 1_101_000, "healthz": 400_000}, budget)) == {"post"}


@pytest.mark.slow  # one python process under valgrind, about 30 s
def test_the_hot_paths_stay_within_their_instruction_budget():
    reason = missing_tools()
    if reason and not os.environ.get("CI"):
        pytest.skip(f"instructions cannot be counted here: {reason} (.ci/run installs it)")
    assert reason is None, reason  # CI must count
    counts = count(BUDGET_CASES)
    assert all(counts[case] > 100_000 for case in BUDGET_CASES), counts  # a request was counted, not nothing
    assert over_budget(counts, read_budget()) == {}
