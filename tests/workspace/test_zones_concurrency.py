"""No overlap within a plan holds under concurrent imports: two real transactions on two real
connections, started together by a barrier, round after round."""

from __future__ import annotations

import json
import threading

import pytest
from shapely.geometry import box
from sqlalchemy import text

from planning_gis import db
from planning_gis.errors import PlanningError
from planning_gis.zones_import import import_zones
from tests.conftest import scratch_plan

pytestmark = pytest.mark.db
E0, N0 = 593000.0, 2332000.0
ROUNDS = 6


def _file(path, *rects, prefix="C"):
    feats = [{"type": "Feature", "properties": {"label": f"{prefix}{i}", "function_code": "OM"},
              "geometry": box(*r).__geo_interface__} for i, r in enumerate(rects)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


@pytest.fixture
def plan_id(demo):
    with scratch_plan(demo, "Đồ án thử nhập đồng thời") as pid:
        yield pid


def _race(settings, plan_id, paths) -> list[object]:
    """Import each path in its own thread, connection and transaction, all released at once."""
    barrier = threading.Barrier(len(paths))
    results: list[object] = [None] * len(paths)

    def work(i, path):
        try:
            with db.session_scope(settings) as s:
                s.execute(text("SELECT 1"))  # connection checked out before the start line
                barrier.wait(timeout=30)
                results[i] = import_zones(s, path, plan_id, "EPSG:5897").inserted
        except PlanningError as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i, p)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _count(settings, plan_id) -> int:
    with db.session_scope(settings) as s:
        return s.execute(text("SELECT count(*) FROM land_use_zones WHERE plan_id = :p"),
                         {"p": plan_id}).scalar()


def test_two_overlapping_files_at_once_one_is_refused(demo, plan_id, tmp_path):
    for r in range(ROUNDS):
        x = E0 + r * 200
        a = _file(tmp_path / f"a{r}.geojson", (x, N0, x + 50, N0 + 50), prefix="A")
        b = _file(tmp_path / f"b{r}.geojson", (x + 25, N0, x + 75, N0 + 50), prefix="B")
        results = _race(demo, plan_id, [a, b])
        accepted = [v for v in results if v == 1]
        refused = [v for v in results if isinstance(v, PlanningError)]
        assert len(accepted) == 1 and len(refused) == 1, f"round {r}: {results}"
        assert "overlaps zone" in str(refused[0])
    assert _count(demo, plan_id) == ROUNDS


def test_the_same_file_twice_at_once_makes_no_duplicate(demo, plan_id, tmp_path):
    for r in range(ROUNDS):
        x = E0 + 5000 + r * 200
        path = _file(tmp_path / f"same{r}.geojson", (x, N0, x + 50, N0 + 50),
                     (x + 60, N0, x + 110, N0 + 50))
        results = _race(demo, plan_id, [path, path])
        accepted = [v for v in results if v == 2]
        refused = [v for v in results if isinstance(v, PlanningError)]
        assert len(accepted) == 1 and len(refused) == 1, f"round {r}: {results}"
        assert "overlaps zone" in str(refused[0])
        assert _count(demo, plan_id) == 2 * (r + 1), f"round {r}: {results}"
