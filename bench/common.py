"""What the benchmarks share, so that two scripts that print the same figure compute it the
same way: a percentile and the latency line (p50, p95, max) of the search benchmarks, and the
scratch database the document and search benchmarks import into.

A library of ``bench/``, not a benchmark: scripts import it as ``bench.common`` (each puts the
checkout's root on ``sys.path`` first)."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from planning_gis import db, legend, migrate
from planning_gis.settings import Settings


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) as the nearest value of the sample itself (rank
    ``q/100 * (n-1)`` rounded), not an interpolation: a figure that was measured."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def p99_by_window(starts_s: list[float], times_ms: list[float],
                  width_s: float = 5.0) -> list[tuple[float, float, int]]:
    """The p99 of the requests started in each ``width_s`` of a run, as (start, p99 ms, how
    many): where in the run a tail lies (its first seconds, or throughout)."""
    by: dict[int, list[float]] = {}
    for at, ms in zip(starts_s, times_ms, strict=True):
        by.setdefault(int(at // width_s), []).append(ms)
    return [(k * width_s, percentile(v, 99), len(v)) for k, v in sorted(by.items())]


def latency(times_ms: list[float]) -> str:
    """``p50 … ms  p95 … ms  max … ms``: the latency figures of a list of timings (ms)."""
    return (f"p50 {statistics.median(times_ms):6.1f} ms  "
            f"p95 {percentile(times_ms, 95):6.1f} ms  max {max(times_ms):6.1f} ms")


@contextlib.contextmanager
def scratch_database(label: str, keep: bool = False) -> Iterator[tuple[Settings, Path]]:
    """A new database ``planning_bench_<label>_<pid>`` (migrated, with the legend) and a work
    folder for one run: the settings (data under the folder) and the folder. Both are dropped
    after the run, whatever happened, unless ``keep`` (then where they are is printed)."""
    admin = make_url(os.environ.get("PLANNING_DATABASE_URL", Settings().database_url))
    name = f"planning_bench_{label}_{os.getpid()}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    url = admin.set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    settings = Settings.from_env(database_url=url, data_dir=str(work / "data"))
    try:
        migrate.upgrade("head", settings)
        with db.session_scope(settings) as s:
            legend.load_legend(s)
        yield settings, work
    finally:
        db.dispose_engines()
        if keep:
            print(f"kept database {name} and files in {work}")
        else:
            eng = create_engine(admin, isolation_level="AUTOCOMMIT")
            with eng.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            eng.dispose()
            shutil.rmtree(work, ignore_errors=True)
