"""The citizen's map on the static read side, in Debian's Chromium: ``publish static`` into a
folder, nginx (Debian's, planning_gis/cluster.py's configuration) serving it under ``/pmtiles/``
with range requests, and a real gunicorn started with ``PLANNING_STATIC_TILES_URL`` pointing
there: on the same site (nginx in front of gunicorn) and on another origin (as object storage
or a CDN would be).

The map must draw the zones (and a scanned sheet) from the archives with the API's tile routes
never asked, while the tap's look-up still comes from the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from layers import static
from planning_gis.cluster import write_nginx_conf
from planning_gis.settings import PROJECT_ROOT
from tests.conftest import open_watched_page
from tests.ops.conftest import free_port
from tests.ops.test_cluster_faults import NGINX, _wait_port
from tiles import static as sheets_static

pytestmark = [pytest.mark.db, pytest.mark.browser]

TRACED_ZONE_SQL = text(
    """
    SELECT z.label, z.sheet_id, ST_X(pt) AS lon, ST_Y(pt) AS lat
      FROM land_use_zones z JOIN plans p ON p.id = z.plan_id
      JOIN map_sheets s ON s.id = z.sheet_id,
           LATERAL ST_Transform(ST_PointOnSurface(z.geom), 4326) AS pt
     WHERE p.kind = 'chi_tiet' AND s.state = 'published'
     ORDER BY z.area_m2 DESC LIMIT 1
    """
)


@pytest.fixture(scope="module")
def published(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static-site") / "static"
    static.publish_static(demo, out, max_zoom=16)
    sheets_static.publish_sheets(demo, out, max_tiles=5000)
    return out


@pytest.fixture(scope="module", params=["same-origin", "other-origin"])
def static_site(request, demo, published, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(the page's origin, where the archives are). Same origin: nginx serves ``/pmtiles/``
    and proxies the rest to gunicorn. Other origin (object storage or a CDN): the page comes
    from gunicorn itself and the archives from an nginx on another port, so the page's CSP
    and the archive server's CORS headers are part of what is tested."""
    root = tmp_path_factory.mktemp(request.param)
    app_port, proxy_port = free_port(), free_port()
    static_base = (f"http://127.0.0.1:{proxy_port}/pmtiles" if request.param == "other-origin"
                   else "/pmtiles")
    env = {**os.environ, "PLANNING_DATABASE_URL": demo.database_url,
           "PLANNING_DATA_DIR": demo.data_dir, "PLANNING_SECRET_KEY": demo.secret_key,
           "PLANNING_STATIC_TILES_URL": static_base, "PYTHONPATH": str(PROJECT_ROOT)}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    app = subprocess.Popen(
        [str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config", "--workers", "1",
         "--threads", "4", "--bind", f"127.0.0.1:{app_port}", "--log-level", "warning",
         "server:create_app()"], cwd=PROJECT_ROOT, env=env)
    prefix = root / "nginx"
    conf = write_nginx_conf(prefix, f"127.0.0.1:{proxy_port}", [f"127.0.0.1:{app_port}"],
                            static_dir=published)
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix), "-g", directives])
    try:
        _wait_port(app_port, app)
        _wait_port(proxy_port, nginx)
        if request.param == "other-origin":
            yield f"http://127.0.0.1:{app_port}", static_base
        else:
            yield f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.1:{proxy_port}/pmtiles"
    finally:
        for proc in (nginx, app):
            proc.terminate()
        for proc in (nginx, app):
            proc.wait(timeout=15)


def test_the_map_draws_from_pmtiles_and_the_tap_asks_the_api(browser, static_site, engine,
                                                               artifacts):
    site, archives_at = static_site
    with engine.connect() as c:
        traced = c.execute(TRACED_ZONE_SQL).one()
    page = open_watched_page(browser, viewport={"width": 1280, "height": 800})
    seen: dict[str, list] = {"api_tiles": [], "pmtiles": [], "lookup": []}

    def on_request(req) -> None:
        parts = urlsplit(req.url)
        path = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
        if req.url.startswith(archives_at + "/"):
            seen["pmtiles"].append((req.url[len(archives_at) + 1:], req.headers.get("range")))
        elif path.startswith("tiles/"):
            seen["api_tiles"].append(req.url)
        elif path.startswith("api/"):
            seen["lookup"].append(path)

    statuses: list[int] = []
    page.on("request", on_request)
    page.on("response", lambda r: statuses.append((r.status, r.url, r.request.headers.get("range")))
            if r.url.startswith(archives_at + "/") else None)
    try:
        page.goto(f"{site}/#z=17&c={traced.lat:.6f},{traced.lon:.6f}")
        assert page.get_attribute("#map", "data-tile-source") == "pmtiles"
        page.wait_for_selector("#map[data-first-zoning]", timeout=30000)
        page.wait_for_function(
            "() => Number(document.getElementById('map').dataset.zones || 0) > 0")
        # The tap: the look-up still answers from the API, with the zone the tiles drew.
        page.locator("#map").click()
        page.wait_for_selector("#panel[data-ready]", timeout=15000)
        assert traced.label in page.inner_text("#panel")
        # A scanned sheet from its archive: tiles are images made from blob: URLs.
        page.wait_for_selector(f"#sheet option[value='{traced.sheet_id}']", state="attached",
                               timeout=15000)
        page.select_option("#sheet", str(traced.sheet_id))
        layer = f".sheet-{traced.sheet_id}"
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{layer} img')].some("
            "i => i.src.startsWith('blob:') && i.complete && i.naturalWidth === 256)",
            timeout=20000)
        assert page.eval_on_selector(layer, "e => e.style.opacity") == "0.8"
        page.wait_for_load_state("networkidle")
        time.sleep(0.5)
        page.screenshot(path=str(artifacts / f"citizen-static-pmtiles-{site.rsplit(':', 1)[1]}.png"))
        zones_drawn = int(page.get_attribute("#map", "data-zones"))
        metrics = page.evaluate("window.citizenMetrics")
    finally:
        page.context.close()
    archives = {p for p, _ in seen["pmtiles"]}
    print(f"\narchives at {archives_at}: API tile requests: {len(seen['api_tiles'])}; "
          f"PMTiles range requests: {len(seen['pmtiles'])} over {sorted(archives)}; "
          f"API requests: {seen['lookup']}; "
          f"zones drawn {zones_drawn}; first zoning tile at {metrics['firstZoning']:.0f} ms, "
          f"panel {metrics['panelShown']:.0f} ms after the tap")
    assert seen["api_tiles"] == [], seen["api_tiles"][:5]
    assert "governing.pmtiles" in archives and f"sheets/{traced.sheet_id}.pmtiles" in archives
    assert all(rng and rng.startswith("bytes=") for _, rng in seen["pmtiles"])
    assert statuses and {s for s, _, _ in statuses} == {206}, [s for s in statuses if s[0] != 206]
    assert any(p.startswith("api/lookup?") for p in seen["lookup"]), seen["lookup"]
    assert page.console_errors == [] and page.foreign_requests == []
    assert page.csp_violations == []
