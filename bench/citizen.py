#!/usr/bin/env python3
"""Citizen's map figures on a slow phone: time to the first map tile and to the first *zoning*
tile, to the panel with the red-line answer after a tap by a planned road, to the map centred on a
street typed in the search box, and the JS/CSS bytes the page ships. Printed, never asserted (the
bars are issue 14's: first zoning tile <= 2.5 s, tap -> red-line panel <= 1 s, street -> map
centred <= 1 s; issue 11's: JS+CSS < 500 kB gzip).

Debian's Chromium through Playwright, throttled through the DevTools protocol: CPU 4× slower
(Emulation.setCPUThrottlingRate) and DevTools' "Fast 3G" network (Network.emulateNetworkConditions:
562.5 ms latency, 1.44 Mbit/s down, 675 kbit/s up). Each run is a cold browser context, so nothing
is cached. The server is gunicorn on 127.0.0.1 over the database at PLANNING_DATABASE_URL with the
demo loaded (``python import_maps.py demo load``).

    python bench/citizen.py [--runs 5] [--workers 2] [--street "Xuân Thủy"]
    python bench/citizen.py --waterfall     # one cold load: every request until the first zoning
                                            # tile, its start, end and bytes on the wire; long tasks
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from planning_gis.db import get_engine  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402

FAST_3G = {"offline": False, "latency": 562.5, "downloadThroughput": 1.6 * 1024 * 1024 / 8 * 0.9,
           "uploadThroughput": 750 * 1024 / 8 * 0.9}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([str(gunicorn), "-c", "python:planning_gis.web.gunicorn_config",
                             "--workers", str(workers), "--threads", "4", "--bind",
                             f"127.0.0.1:{port}", "--log-level", "warning", "server:create_app()"],
                            cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def demo_point(settings: Settings) -> tuple[float, float]:
    """A house by a planned road (what a citizen would tap to ask "am I cut by the red line?"):
    a point inside the reserve of the longest red-line section, near its middle."""
    with get_engine(settings).connect() as c:
        row = c.execute(text(
            "SELECT ST_Y(pt), ST_X(pt) FROM red_lines r,"
            " LATERAL ST_Transform(ST_PointOnSurface(r.reserve), 4326) pt"
            " WHERE r.reserve IS NOT NULL ORDER BY ST_Area(r.reserve) DESC LIMIT 1")).one()
    return float(row[0]), float(row[1])


def asset_bytes(base: str) -> tuple[list[tuple[str, int, int]], int, int]:
    """(url, raw bytes, gzip -6 bytes) for every script and stylesheet the page links."""
    html = urllib.request.urlopen(base + "/", timeout=10).read().decode()
    urls = re.findall(r'<(?:script[^>]+src|link[^>]+rel="stylesheet"[^>]+href)="([^"]+)"', html)
    out = []
    for u in urls:
        body = urllib.request.urlopen(base + u, timeout=10).read()
        out.append((u, len(body), len(gzip.compress(body, 6))))
    return out, sum(r for _, r, _ in out), sum(g for _, _, g in out)


def one_run(browser, base: str, lat: float, lon: float, viewport: dict,
            street: str) -> dict[str, float]:
    context = browser.new_context(viewport=viewport, locale="vi-VN", is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", FAST_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.goto(f"{base}/#z=17&c={lat:.6f},{lon:.6f}", wait_until="commit")
    page.wait_for_selector("#map[data-first-tile]", timeout=60000)
    first_tile = page.evaluate("window.citizenMetrics.firstTile")
    page.wait_for_selector("#map[data-first-zoning]", timeout=60000)
    first_zoning = page.evaluate("window.citizenMetrics.firstZoning")
    box = page.locator("#map").bounding_box()
    t0 = time.perf_counter()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#panel[data-ready] [data-field=redline]", timeout=60000)
    wall = (time.perf_counter() - t0) * 1000
    in_page = page.evaluate("window.citizenMetrics.panelShown")
    # A second tap once the map has finished loading (the usual case: one looks, then taps).
    page.wait_for_load_state("networkidle", timeout=60000)
    page.evaluate("document.getElementById('panel').removeAttribute('data-ready')")
    page.touchscreen.tap(box["x"] + box["width"] / 2 + 12, box["y"] + box["height"] / 4)
    page.wait_for_selector("#panel[data-ready]", timeout=60000)
    idle = page.evaluate("window.citizenMetrics.panelShown")
    # A street typed, then Enter: from the submit to the map centred on it.
    page.fill("#q", street)
    t0 = time.perf_counter()
    page.press("#q", "Enter")
    page.wait_for_selector("#map[data-jumped^='street:']", timeout=60000)
    street_wall = (time.perf_counter() - t0) * 1000
    centred = page.evaluate("window.citizenMetrics.centred")
    context.close()
    return {"first_tile_ms": first_tile, "first_zoning_ms": first_zoning, "panel_ms": in_page,
            "panel_wall_ms": wall, "panel_idle_ms": idle, "street_ms": centred,
            "street_wall_ms": street_wall}


def waterfall(browser, base: str, lat: float, lon: float, viewport: dict) -> None:
    """One cold, throttled load: what is fetched before the first zoning tile is drawn, in what
    order, how many bytes on the wire, and the main thread's long tasks (script parse and run)."""
    context = browser.new_context(viewport=viewport, locale="vi-VN", is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    reqs: dict[str, dict] = {}
    cdp.on("Network.requestWillBeSent", lambda e: reqs.setdefault(e["requestId"], {
        "url": e["request"]["url"], "start": e["timestamp"], "prio": e["request"].get("initialPriority")}))
    cdp.on("Network.responseReceived", lambda e: reqs.get(e["requestId"], {}).update(
        ttfb=e["timestamp"], status=e["response"]["status"]))
    cdp.on("Network.loadingFinished", lambda e: reqs.get(e["requestId"], {}).update(
        end=e["timestamp"], wire=e["encodedDataLength"]))
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", FAST_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.add_init_script("""window.__long = []; try { new PerformanceObserver((l) => { for (const e of
        l.getEntries()) window.__long.push([e.startTime, e.duration]); }).observe({type: 'longtask',
        buffered: true}); } catch (_e) {}""")
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 200})
    cdp.send("Profiler.start")
    page.goto(f"{base}/#z=17&c={lat:.6f},{lon:.6f}", wait_until="commit")
    page.wait_for_selector("#map[data-first-zoning]", timeout=60000)
    zoning = page.evaluate("window.citizenMetrics.firstZoning")
    # The tap, as the bench makes it (at once): what its requests waited for.
    box = page.locator("#map").bounding_box()
    tapped = page.evaluate("performance.now()")
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#panel[data-ready] [data-field=redline]", timeout=60000)
    shown = page.evaluate("window.citizenMetrics.panelShown")
    profile = cdp.send("Profiler.stop")["profile"]
    longs = page.evaluate("window.__long")
    page.wait_for_timeout(500)
    # Resource timing: the page's own clock, the one the first zoning tile is measured on.
    entries = page.evaluate("""[{name: location.href, startTime: 0, responseEnd:
        performance.getEntriesByType('navigation')[0].responseEnd,
        transferSize: performance.getEntriesByType('navigation')[0].transferSize}].concat(
        performance.getEntriesByType('resource').map((e) => ({name: e.name, startTime: e.startTime,
        responseEnd: e.responseEnd, transferSize: e.transferSize})))""")
    prio = {r["url"]: r.get("prio") for r in reqs.values()}
    print(f"== one cold load: first zoning tile at {zoning:.0f} ms (page clock, ms since navigation)")
    for e in sorted(entries, key=lambda e: e["startTime"]):
        if e["startTime"] > zoning:
            continue
        print(f"  {e['startTime']:6.0f} -> {e['responseEnd']:6.0f}  {e['transferSize']:>8,} B  "
              f"{prio.get(e['name']) or '':<8} {e['name'].replace(base, '')[:90]}")
    print("  long tasks (start+duration ms): " + ", ".join(f"{s:.0f}+{d:.0f}" for s, d in longs))
    after = page.evaluate(f"""performance.getEntriesByType('resource').filter((e) => e.responseEnd >
        {tapped}).map((e) => [e.name, e.startTime, e.requestStart, e.responseEnd])""")
    print(f"== the tap at {tapped:.0f} ms: panel with the red-line answer {shown:.0f} ms later "
          "(start / request sent / end, ms after the tap)")
    for name, start, sent, end in after:
        if start - tapped <= shown:
            print(f"  {start - tapped:6.0f} {sent - tapped:6.0f} {end - tapped:6.0f}  "
                  f"{name.replace(base, '')[:90]}")
    # CPU time by script until the panel (throttled; sampled): parse, run, draw.
    nodes = {n["id"]: n for n in profile["nodes"]}
    per: dict[str, float] = {}
    for nid, dt in zip(profile["samples"], profile["timeDeltas"][1:] + [0], strict=True):
        frame = nodes[nid]["callFrame"]
        key = frame["url"].replace(base, "") or f"({frame['functionName'] or 'program'})"
        per[key] = per.get(key, 0.0) + dt / 1000
    print("  main-thread CPU by script until the panel (ms): " + ", ".join(
        f"{k} {v:.0f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 5))
    context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--street", default="Xuân Thủy", help="the street typed in the search box")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--waterfall", action="store_true", help="one cold load, request by request")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.conftest import chromium_path

    settings = Settings.from_env()
    lat, lon = demo_point(settings)
    port = free_port()
    proc = start_server(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        assets, raw, gz = asset_bytes(base)
        print("== JS/CSS shipped by the citizen's map (bytes)")
        for url, r, g in assets:
            print(f"  {url:<70} raw {r:>8,}  gzip {g:>7,}")
        print(f"  total{'':<65} raw {raw:>8,}  gzip {gz:>7,}   (bar: gzip < 500 kB)")
        print("   note: the service sends CSS/JS gzipped itself (web/caching.py); the gzip column is "
              "about what goes on the wire")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            if args.waterfall:
                phone = {"width": 390, "height": 844}
                one_run(browser, base, lat, lon, phone, args.street)  # warm the server
                waterfall(browser, base, lat, lon, phone)
                browser.close()
                return
            phone = {"width": 390, "height": 844}
            one_run(browser, base, lat, lon, phone, args.street)  # warm the server
            runs = [one_run(browser, base, lat, lon, phone, args.street) for _ in range(args.runs)]
            browser.close()
        print(f"== 390×844 phone, CPU 4× slower, Fast 3G, cold cache; {args.runs} runs at "
              f"{lat:.5f}, {lon:.5f}")
        for key, label, bar in (("first_tile_ms", "first map tile (any layer) after navigation", 3000),
                                ("first_zoning_ms", "first zoning tile after navigation", 2500),
                                ("panel_ms", "red-line panel after the tap (in page)", 1000),
                                ("panel_wall_ms", "red-line panel after the tap (wall)", 1000),
                                ("panel_idle_ms", "panel, tap after the map loaded", 1000),
                                ("street_ms", f"street '{args.street}' -> map centred (in page)", 1000),
                                ("street_wall_ms", "street -> map centred (wall)", 1000)):
            vals = [r[key] for r in runs]
            print(f"  {label:<46} median {statistics.median(vals):7.0f} ms   runs "
                  + ", ".join(f"{v:.0f}" for v in vals) + f"   (bar < {bar} ms)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
