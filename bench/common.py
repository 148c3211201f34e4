"""What the benchmarks share, so that two scripts that print the same figure compute it the
same way: a percentile and the latency line (p50, p95, max) of the search benchmarks.

A library of ``bench/``, not a benchmark: scripts import it as ``bench.common`` (each puts the
checkout's root on ``sys.path`` first)."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) as the nearest value of the sample itself (rank
    ``q/100 * (n-1)`` rounded), not an interpolation: a figure that was measured."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def latency(times_ms: list[float]) -> str:
    """``p50 … ms  p95 … ms  max … ms``: the latency figures of a list of timings (ms)."""
    return (f"p50 {statistics.median(times_ms):6.1f} ms  "
            f"p95 {percentile(times_ms, 95):6.1f} ms  max {max(times_ms):6.1f} ms")
