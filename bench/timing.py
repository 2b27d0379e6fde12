"""Interleaved timing: the candidate and its reference alternate, so machine noise hits both."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of `operation`, run for about `seconds`."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            operation()
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def latency(operation: Callable[[], object], repeats: int) -> float:
    """Median seconds of one call over `repeats` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compare_rates(candidate, reference, *, rounds: int, seconds: float) -> dict:
    """Median ops/s of each over alternating rounds, and their ratio."""
    candidate_rates, reference_rates = [], []
    for _ in range(rounds):
        reference_rates.append(rate(reference, seconds))
        candidate_rates.append(rate(candidate, seconds))
    cand, ref = statistics.median(candidate_rates), statistics.median(reference_rates)
    return {"candidate_per_s": round(cand), "reference_per_s": round(ref), "ratio": round(cand / ref, 3)}


def compare_latencies(candidate, reference, *, rounds: int, repeats: int) -> dict:
    """Median latency of each over alternating rounds, and candidate/reference (lower is better)."""
    candidate_s, reference_s = [], []
    for _ in range(rounds):
        reference_s.append(latency(reference, repeats))
        candidate_s.append(latency(candidate, repeats))
    cand, ref = statistics.median(candidate_s), statistics.median(reference_s)
    return {"candidate_ms": round(cand * 1e3, 4), "reference_ms": round(ref * 1e3, 4), "ratio": round(cand / ref, 3)}
