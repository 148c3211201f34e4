#!/usr/bin/env python3
"""The read side through a real ``./run.sh cluster``, side by side in one run; figures printed,
never asserted.

The script starts ``./run.sh cluster`` itself (its own ports, its own folder), waits for the
URLs it prints, measures, and stops it (nginx, the nodes, the worker and both PostgreSQL
servers) at the end, also on Ctrl-C or a failure:

    python bench/cluster.py --size demo               # the generated demo (one neighbourhood)
    python bench/cluster.py --size city --restore DIR # the city, from a backup folder
    python bench/cluster.py --size city               # the city, generated (demo load --size city)
        [--seconds 5] [--lookup-seconds 15] [--workdir DIR] [--fresh]

City data: ``--restore DIR`` takes a folder of ``import_maps.py backup create`` (pg_dump -Fc +
the data files; e.g. of the shared ``planning_city_bench``) and ``run.sh cluster --restore``
restores it into the private primary before the replica is made with ``pg_basebackup``;
without it the primary generates the city (``demo load --size city``). The folder
(``--workdir``, default ``var/bench-cluster-<size>``) is kept: a second run reuses the loaded
primary and replica (``--fresh`` starts from nothing); nginx's cache is emptied before each run.

Tiles: zone tiles at z14-16 (the demo: over all its zones; the city: over the inner districts,
as citizens browse), split in two disjoint halves so that each "cold" figure meets tiles
nobody asked for yet: half A on one node direct, half B through nginx. Cold = one pass over
every tile of the half, 16 clients (each tile rendered by the app; through nginx also stored in
its cache); warm = wrk for ``--seconds`` over the same half, 32 connections (the node answers
from its in-process edition cache, nginx from its disk cache). Static = half B read from
``publish static``'s ``zones.pmtiles`` (published by run.sh; on the city only the inner
districts, ``--bbox``) through nginx's ``/pmtiles/`` as a PMTiles client reads a tile: one HTTP
range request per tile (the directories fetched once per client and kept), wrk, 32
connections. Cold-tile storms: 16 clients at once on each of 24 vector tiles nobody asked yet
(z17), through the cluster's nginx (a tile's URL to one node, which renders it once for all;
nginx's lock 10 ms) and, as the reference in the same run, through a second nginx over the same
nodes configured the earlier way (any node, nginx's lock 15 s, whose waiters look again every
500 ms), each on tiles of its own; each request's latency and the renders counted by the nodes.
Look-up: first a cold pass, 2,000 points nobody asked yet, 64 clients through
nginx (each reaches a node, which reads the replica); then ``/api/lookup`` at 2,000 other
points inside random zones, h2load (Debian's nghttp2-client) with 64 connections for
``--lookup-seconds`` through nginx as deployed, twice (nginx keeps a public answer for the
minute its Cache-Control allows; how many came from its cache is printed, from its access log).
Each request's latency comes from h2load's own log, so its percentiles are per request (wrk's
were not at ~50,000 answers/s); beside it, other clients ask at random moments (open loop), and
the p99 of each 5 s of the run shows where a tail lies. wrk (tiles) runs with a 30 s timeout: a
slow answer counts in the latencies, not as an error.

Also printed: the CPU each piece (the nodes, the replica, the primary, nginx: every process,
from /proc) spent per request in each phase, and the capacity model computed from it
(``capacity``: concurrent citizens per 2-core machine of each kind, assumptions stated).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.city import lookup_points  # noqa: E402
from bench.common import p99_by_window, percentile  # noqa: E402
from bench.serving import (  # noqa: E402
    TMS,
    free_port,
    run_h2load,
    run_wrk,
    table,
    wait_port,
    zone_tiles,
)
from planning_gis.cluster import write_nginx_conf  # noqa: E402
from planning_gis.demo import city_size  # noqa: E402
from planning_gis.settings import Settings  # noqa: E402

PG_BIN = Path(os.environ.get("PLANNING_PG_BIN", "/usr/lib/postgresql/15/bin"))
ZOOMS = (14, 15, 16)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def archive_ranges(path: Path) -> dict[tuple[int, int, int], tuple[int, int]]:
    """Each tile of a PMTiles archive: its (offset, length) in the file, from the directories."""
    from pmtiles.reader import MemorySource
    from pmtiles.tile import deserialize_directory, deserialize_header, tileid_to_zxy

    get = MemorySource(path.read_bytes())
    header = deserialize_header(get(0, 127))
    out: dict[tuple[int, int, int], tuple[int, int]] = {}

    def walk(offset: int, length: int) -> None:
        for e in deserialize_directory(get(offset, length)):
            if e.run_length:
                for i in range(e.run_length):
                    out[tileid_to_zxy(e.tile_id + i)] = (header["tile_data_offset"] + e.offset,
                                                         e.length)
            else:
                walk(header["leaf_directory_offset"] + e.offset, e.length)

    walk(header["root_offset"], header["root_length"])
    return out


def timed_get(base: str, path: str) -> tuple[float, int]:
    """One GET on a new connection, as a browser's first request: (seconds, status; 0 when no
    HTTP answer came)."""
    host = urlsplit(base)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        resp.read()
        return time.perf_counter() - started, resp.status
    except OSError:
        return time.perf_counter() - started, 0
    finally:
        conn.close()


def one_pass(base: str, paths: list[str], clients: int = 16) -> dict[str, float]:
    """Each path once, ``clients`` at a time: tiles/s and latency percentiles (ms)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda path: timed_get(base, path), paths))
    wall = time.perf_counter() - started
    lat = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for _, status in results if status not in (200, 204))
    return {"rps": len(paths) / wall, "n": len(paths), "p50": lat[len(lat) // 2],
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "errors": errors}


def tile_storms(base: str, paths: list[str], clients: int = 16) -> dict[str, float]:
    """Each of ``paths`` (cold tiles) asked by ``clients`` at once, one tile after another, as
    when a map of a newly announced plan is opened by many: each request's latency (ms) from
    the moment they all start."""
    start = threading.Barrier(clients)

    def client(_: int) -> list[tuple[float, int]]:
        answers = []
        for path in paths:
            start.wait(120)
            answers.append(timed_get(base, path))
        return answers

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = [a for each in pool.map(client, range(clients)) for a in each]
    wall = time.perf_counter() - started
    times = [seconds * 1000 for seconds, _ in answers]
    return {"rps": len(times) / wall, "n": len(times), "p50": percentile(times, 50),
            "p99": percentile(times, 99), "max": max(times),
            "errors": sum(status not in (200, 204) for _, status in answers)}


@contextlib.contextmanager
def reference_nginx(cluster_dir: Path, node_ports: list[int]):
    """A second nginx in front of the same nodes, its vector tiles served as raster ones (any
    node, nginx's lock of 15 s: planning_gis/cluster.py's ``vector_tiles_by_url=False``), as
    the reference of the cold-tile storms; its base URL."""
    prefix = cluster_dir / "nginx-reference"
    shutil.rmtree(prefix, ignore_errors=True)
    port = free_port()
    conf = write_nginx_conf(prefix, f"127.0.0.1:{port}",
                            [f"127.0.0.1:{p}" for p in node_ports], vector_tiles_by_url=False)
    # As root, nginx's workers would run as nobody, who cannot write this folder.
    directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix), "-g", directives])
    try:
        wait_port(port, proc, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)


def view_renders(node_ports: list[int]) -> float:
    """Vector tiles the nodes' views rendered so far (their /metrics)."""
    total = 0.0
    for port in node_ports:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        for m in re.finditer(r'planning_http_request_duration_seconds_count\{[^}]*route='
                             r'"/tiles/<layer>/<z>/<x>/<y>\.mvt"[^}]*\} (\S+)', body):
            total += float(m.group(1))
    return total


class Cluster:
    """``./run.sh cluster`` in a process group of its own, its output echoed with a prefix.

    Stopped with TERM to its group (run.sh's trap stops nginx, the nodes, the worker and, with
    pg_ctl, the PostgreSQL servers, which pg_ctl started in a session of their own); if run.sh
    is gone or stuck, the servers are stopped here with pg_ctl all the same."""

    def __init__(self, args: list[str], env: dict[str, str], cluster_dir: Path) -> None:
        self.cluster_dir = cluster_dir
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self.proc = subprocess.Popen(["bash", str(ROOT / "run.sh"), "cluster", *args], cwd=ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.started = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = _ANSI.sub("", raw.rstrip("\n"))
            print(f"  | {line}", flush=True)
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_up(self, timeout: float) -> float:
        """Seconds until run.sh printed "cluster up"."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"./run.sh cluster not up after {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=min(left, 5))
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"./run.sh cluster exited ({self.proc.wait()}) before it was up")
            if "cluster up:" in line:
                return time.monotonic() - self.started

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        # Whatever run.sh could not stop (killed before its trap ran): the servers by pg_ctl.
        for name in ("replica", "primary"):
            data = self.cluster_dir / name
            if (data / "postmaster.pid").exists():
                owner = data.stat().st_uid
                as_owner = ["setpriv", f"--reuid={owner}", f"--regid={data.stat().st_gid}",
                            "--clear-groups"] if os.geteuid() == 0 and owner != 0 else []
                subprocess.run([*as_owner, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                                "fast", "-w", "stop"], capture_output=True, timeout=120)
        left = [n for n in ("replica", "primary")
                if (self.cluster_dir / n / "postmaster.pid").exists()]
        print(f"cluster stopped{': still running: ' + ', '.join(left) if left else ''}",
              flush=True)

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float, float]]:
    """pid: (parent pid, own CPU seconds, CPU seconds of its reaped children)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        f = stat[stat.rindex(")") + 2:].split()
        # fields after the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
        out[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / _TICK,
                            (int(f[13]) + int(f[14])) / _TICK)
    return out


def cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each piece: its root processes, their reaped children and
    every live descendant (PostgreSQL backends, gunicorn workers, nginx workers)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, pids in roots.items():
        total, todo, seen = 0.0, list(pids), set()
        for r in pids:
            if r in table:
                total += table[r][2]
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in table:
                continue
            seen.add(pid)
            total += table[pid][1]
            todo += children.get(pid, [])
        out[name] = total
    return out


def piece_roots(cluster_dir: Path, node_ports: list[int]) -> dict[str, list[int]]:
    """The root process of each piece: the two nodes' gunicorn masters, nginx, both servers."""
    def pidfile(path: Path) -> list[int]:
        with contextlib.suppress(OSError, ValueError):
            return [int(path.read_text().split()[0])]
        return []

    masters = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "gunicorn" in cmd and any(f"127.0.0.1:{p} " in cmd + " " for p in node_ports):
                    masters.append(int(d.name))
    return {"app nodes": masters, "replica": pidfile(cluster_dir / "replica" / "postmaster.pid"),
            "primary": pidfile(cluster_dir / "primary" / "postmaster.pid"),
            "nginx": pidfile(cluster_dir / "nginx" / "nginx.pid")}


def wait_ready(base: str, timeout: float = 120) -> None:
    host = urlsplit(base)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=5)
            conn.request("GET", "/api/ready")
            if conn.getresponse().status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{base}/api/ready not 200 after {timeout:.0f} s")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("demo", "city"), default="demo")
    parser.add_argument("--restore", type=Path, default=None,
                        help="city: a backup folder (import_maps.py backup create) restored into "
                             "the primary instead of generating the city")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="the cluster's data folder (default var/bench-cluster-SIZE), kept")
    parser.add_argument("--fresh", action="store_true", help="remove --workdir first")
    parser.add_argument("--seconds", type=int, default=5, help="each wrk tile run")
    parser.add_argument("--lookup-seconds", type=int, default=15)
    parser.add_argument("--up-timeout", type=float, default=3600)
    args = parser.parse_args()
    if args.restore is not None and args.size != "city":
        parser.error("--restore is for --size city")
    work = (args.workdir or ROOT / "var" / f"bench-cluster-{args.size}").resolve()
    if args.fresh and work.exists():
        shutil.rmtree(work)
    cluster_dir = work / "cluster"
    # Cold means cold: nginx's cache of an earlier run is emptied (the nodes' caches are in
    # their processes, new at each start).
    shutil.rmtree(cluster_dir / "nginx" / "cache", ignore_errors=True)
    ports = {"CLUSTER_PG_PORT": free_port(), "CLUSTER_REPLICA_PORT": free_port(),
             "CLUSTER_PORT": free_port()}
    nodes = [free_port(), free_port()]
    assert len({*ports.values(), *nodes}) == 5 and all(map(_port_free, nodes))
    env = {**os.environ, **{k: str(v) for k, v in ports.items()},
           "CLUSTER_NODE_PORTS": " ".join(map(str, nodes)), "PLANNING_DATA_DIR": str(work)}
    for k in ("PLANNING_DATABASE_URL", "PLANNING_READ_DATABASE_URL"):
        env.pop(k, None)
    # run.sh uses the virtual environment this script runs in (not a new one of the checkout).
    # It is set up already (this script imports its packages): run.sh installs nothing.
    env.setdefault("PLANNING_VENV", str(Path(sys.executable).parent.parent))
    env.setdefault("PLANNING_SKIP_SETUP", "1")
    if args.size == "city":
        # The inner districts to z16 (the bench's tiles); every layer of the whole city to
        # z16 would be hours of rendering on this machine.
        env["CLUSTER_STATIC"] = ("--layer zones --max-zoom 16 --bbox "
                                 + ",".join(map(str, city_size.INNER_LONLAT)))
        run_args = ["--restore", str(args.restore)] if args.restore else ["--size", "city"]
    else:
        run_args = ["--size", "full"]
    proxy = f"http://127.0.0.1:{ports['CLUSTER_PORT']}"
    print(f"bench/cluster.py --size {args.size}: ./run.sh cluster {' '.join(run_args)} in "
          f"{work} (nginx {proxy}, nodes {nodes}, primary {ports['CLUSTER_PG_PORT']}, replica "
          f"{ports['CLUSTER_REPLICA_PORT']}); load average {os.getloadavg()[0]:.1f}", flush=True)

    def on_term(signum, frame):  # noqa: ARG001 - a TERM stops the cluster as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C even when started in the background by a script (which ignores SIGINT for it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cluster = Cluster(run_args, env, cluster_dir)
    try:
        up = cluster.wait_up(args.up_timeout)
        wait_ready(proxy)
        print(f"cluster up in {up:.0f} s", flush=True)
        settings = Settings.from_env(
            database_url=("postgresql+psycopg://planning:planning@127.0.0.1:"
                          f"{ports['CLUSTER_PG_PORT']}/planning"), secret_key="x" * 48)
        if args.size == "city":
            w, s, e, n = city_size.INNER_LONLAT
            tiles = list(TMS.tiles(w, s, e, n, zooms=list(ZOOMS)))
        else:
            tiles = zone_tiles(settings, ZOOMS)
        settle(settings, ports["CLUSTER_REPLICA_PORT"])
        measure(args, settings, tiles, nodes, proxy, cluster_dir, up, cluster.log)
    except KeyboardInterrupt:
        print("interrupted: stopping the cluster", flush=True)
        return 130
    finally:
        cluster.stop()
    return 0


def settle(settings: Settings, replica_port: int, timeout: float = 1800) -> None:
    """Wait for the work the cluster does on its own after start-up: the job worker rebuilds
    the zones' tile coverage when it is stale (a restored backup of another day is: the plans
    in force depend on the date), which took a core of the primary for minutes and was in
    every figure (the primary's "unexplained" CPU per look-up of an earlier run); then for the
    replica to replay all of it."""
    from sqlalchemy import text

    from layers import coverage
    from planning_gis import db

    started = time.perf_counter()
    engine = db.get_engine(settings)
    # Takes the rebuild's lock: waits for the worker's rebuild, or rebuilds if none ran yet.
    done = coverage.refresh_if_stale(engine, settle_seconds=0)
    with engine.connect() as conn:
        lsn = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
    replica = settings.database_url.rsplit(":", 1)[0] + f":{replica_port}/planning"
    with db.get_engine(settings, replica).connect() as conn:
        while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"),
                               {"l": lsn}).scalar_one():
            if time.perf_counter() - started > timeout:
                raise SystemExit("the replica did not catch up")
            time.sleep(0.5)
            conn.rollback()
    print(f"settled in {time.perf_counter() - started:.0f} s (coverage "
          f"{'rebuilt by us' if done else 'current'}, replica at {lsn}); load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def measure(args: argparse.Namespace, settings: Settings, tiles: list, node_ports: list[int],
            proxy: str, cluster_dir: Path, up: float, log: list[str]) -> None:
    node = f"http://127.0.0.1:{node_ports[0]}"
    paths = [f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt" for t in tiles]
    a, b = paths[0::2], paths[1::2]
    zooms = "-".join(str(z) for z in (ZOOMS[0], ZOOMS[-1]))
    print(f"{len(paths)} zone tiles z{zooms}: {len(a)} on one node, {len(b)} through nginx; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = [("path", "tiles/s", "p50 ms", "p99 ms", "errors", "× one node rendering")]
    results: dict[str, dict[str, float]] = {}
    roots = piece_roots(cluster_dir, node_ports)
    cpu: dict[str, dict[str, float]] = {}

    def timed(key: str, fn, *fargs) -> dict[str, float]:
        """Run one phase; note the CPU each piece spent on it per request."""
        before, started = cpu_seconds(roots), time.perf_counter()
        r = fn(*fargs)
        wall = time.perf_counter() - started
        after = cpu_seconds(roots)
        n = r.get("n") or r["rps"] * wall
        cpu[key] = {k: (after[k] - before[k]) * 1000 / max(n, 1) for k in roots}
        return r

    def row(key: str, name: str, r: dict[str, float]) -> None:
        results[key] = r
        base = results.get("cold")
        ratio = f"{r['rps'] / base['rps']:.0f}×" if base else ""
        rows.append((name, f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                     int(r["errors"]), ratio if key != "cold" else "1×"))
        print(f"  {name}: {r['rps']:.0f} tiles/s, p99 {r['p99']:.1f} ms", flush=True)

    row("cold", "one node direct, cold (renders each tile)", timed("cold", one_pass, node, a))
    row("node_warm", "one node direct, warm (its edition cache)",
        timed("node_warm", run_wrk, node, a, args.seconds, 32, 2, "30s"))
    row("nginx_cold", "2 nodes behind nginx, cold cache", timed("nginx_cold", one_pass, proxy, b))
    row("nginx_warm", "2 nodes behind nginx, warm cache",
        timed("nginx_warm", run_wrk, proxy, b, args.seconds, 32, 2, "30s"))
    archive = cluster_dir / "static" / "zones.pmtiles"
    if archive.is_file():
        where = archive_ranges(archive)
        half_b = [t for t in tiles[1::2] if (t.z, t.x, t.y) in where]
        ranges = [f"/pmtiles/zones.pmtiles\tbytes={o}-{o + n - 1}"
                  for o, n in (where[(t.z, t.x, t.y)] for t in half_b)]
        if ranges:
            row("static", f"static PMTiles through nginx (range requests, {len(ranges)} of "
                          f"{len(b)} tiles in the archive)",
                timed("static", run_wrk, proxy, ranges, args.seconds, 32, 2, "30s"))
    else:
        print(f"no {archive}: publish static did not write it (see run.sh's output)")
    table(f"Tiles through ./run.sh cluster ({args.size}; one 2-core machine: client, nginx, "
          "two nodes, two PostgreSQL servers)", rows)
    cold = results["cold"]["rps"]
    for key, label in (("nginx_warm", "warm nginx cache"), ("static", "static PMTiles")):
        if key in results:
            ratio = results[key]["rps"] / cold
            print(f"bar: {label} ≥ 10× one node rendering: {ratio:.0f}× "
                  f"({'met' if ratio >= 10 else 'NOT met'})")
    storms(tiles, node_ports, proxy, cluster_dir)
    # Look-ups. nginx keeps a public answer for the minute its Cache-Control allows
    # (planning_gis/cluster.py), so two figures: a cold pass over points nobody asked yet
    # (every request reaches a node, which reads the replica), then h2load's 64 clients over
    # 2,000 points for --lookup-seconds as deployed (the points new at the start), and again;
    # with how many answers came from nginx's cache. Latencies three ways: each request as
    # its client saw it (h2load's log), other clients at random moments meanwhile (Probe:
    # what a 65th citizen arriving at any moment waits), and nginx's own time per request.
    def mark(ms: float) -> str:
        return "met" if ms < 50 else "NOT met"

    look = [("path", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "from nginx's cache")]
    fresh = [f"/api/lookup?lon={x:.6f}&lat={y:.6f}"
             for x, y in lookup_points(settings, 2000, seed=8)]
    r = timed("lookup_cold", one_pass, proxy, fresh, 64)
    cold_p99 = r["p99"]
    look.append(("look-up, cold: 2,000 new points once each, 64 clients", f"{r['rps']:.0f}",
                 f"{r['p50']:.1f}", f"{r['p99']:.1f}", "", int(r["errors"]), "0 (all new)"))
    points = [f"/api/lookup?lon={x:.6f}&lat={y:.6f}" for x, y in lookup_points(settings, 2000)]
    access = cluster_dir / "nginx" / "access.log"
    runs = {}
    for key, label in (("lookup", "as deployed, the 2,000 points new at the start"),
                       ("lookup_warm", "again, the same points (answers in nginx's cache)")):
        seen = access.stat().st_size if access.is_file() else 0
        probe = Probe(proxy, points)
        probe.start()
        r = runs[key] = timed(key, functools.partial(run_h2load, finished=probe.stop), proxy,
                              points, args.lookup_seconds, 64)
        r["probe"] = probe.percentiles()
        time.sleep(1.5)  # nginx writes its access log buffer at least every second
        statuses, times = lookup_log(access, seen)
        hits = statuses.get("HIT", 0)
        times.sort()
        at = {q: times[min(len(times) - 1, int(len(times) * q))] if times else float("nan")
              for q in (0.5, 0.99, 0.999)}
        look.append((f"look-up, h2load -c64 {args.lookup_seconds} s, {label}",
                     f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                     f"{r['p999']:.1f}", int(r["errors"]),
                     f"{hits / max(sum(statuses.values()), 1):.1%} "
                     f"({', '.join(f'{k} {v:,}' for k, v in sorted(statuses.items()))})"))
        r["log_p99"] = at[0.99]
        pr = r["probe"]
        print(f"  {label}: each of h2load's {r['requests']:,} requests: p50 {r['p50']:.1f} ms, "
              f"p99 {r['p99']:.1f} ms, p99.9 {r['p999']:.1f} ms, max {r['max']:.0f} ms "
              f"(mean x rate = {r['mean'] / 1000 * r['rps']:.0f} in flight on 64 connections); "
              "p99 by 5 s of the run: "
              + ", ".join(f"{a:.0f}-{a + 5:.0f} s {q:.0f} ms ({n:,})" for a, q, n in r["windows"]),
              flush=True)
        print(f"  {label}: other clients beside h2load, a look-up due every 5 ms (open loop): "
              f"{pr['n']:,} answers, p50 {pr['p50']:.1f} ms, p99 {pr['p99']:.1f} "
              f"ms, max {pr['max']:.0f} ms, {pr['errors']} errors; p99 by 5 s of the run: "
              + ", ".join(f"{a:.0f}-{a + 5:.0f} s {q:.0f} ms" for a, q, _ in pr["windows"]),
              flush=True)
        print(f"  {label}: nginx's access log, each of {len(times):,} requests: p50 "
              f"{at[0.5]:.0f} ms, p99 {at[0.99]:.0f} ms, p99.9 {at[0.999]:.0f} ms", flush=True)
    r, warm = runs["lookup"], runs["lookup_warm"]
    first_5s = r["probe"]["windows"][0][1] if r["probe"]["windows"] else float("nan")
    table("Look-up through nginx, 2 nodes + replica (points inside random zones)", look)
    print(f"bar: look-up p99 < 50 ms at 64 connections through nginx, per request as the 64 "
          f"clients saw them: {r['p99']:.1f} ms with the points new at the start "
          f"({mark(r['p99'])}), {warm['p99']:.1f} ms once nginx keeps them ({mark(warm['p99'])})"
          f". Other clients meanwhile, at any moment (open loop): {r['probe']['p99']:.1f} ms "
          f"({mark(r['probe']['p99'])}; its first 5 s: {first_5s:.0f} ms) "
          f"and {warm['probe']['p99']:.1f} ms ({mark(warm['probe']['p99'])}). Every point new "
          f"(the cold pass, 2,000 requests): {cold_p99:.0f} ms ({mark(cold_p99)})")
    capacity(cpu, results, r)
    steps = [line.split("] ", 1)[-1] for line in log
             if re.search(r"restored in|in the primary after|replica copied in|"
                          r"static publication:|static: zones", line)]
    print(f"\ncluster start-up {up:.0f} s" + ("".join(f"\n  {s}" for s in steps)))


def storms(tiles: list, node_ports: list[int], proxy: str, cluster_dir: Path,
           clients: int = 16, per_side: int = 24) -> None:
    """Cold-tile storms: ``clients`` at once on each of ``per_side`` vector tiles nobody asked
    yet (z17 children of the bench's tiles), through the cluster's nginx (a tile's URL to one
    node, nginx's lock 10 ms, the node renders once for all its askers) and through a reference
    nginx over the same nodes (any node, nginx's lock 15 s, whose waiters look again every
    500 ms), each on tiles of its own."""
    deepest = [t for t in tiles if t.z == max(ZOOMS)]
    spread = deepest[::max(1, len(deepest) // (2 * per_side))]
    cold = [f"/tiles/zones/{c.z}/{c.x}/{c.y}.mvt" for t in spread
            for c in TMS.children(t)[:1]][: 2 * per_side]
    ours_paths, reference_paths = cold[0::2], cold[1::2]
    rows = [("nginx in front", "tiles", "requests", "p50 ms", "p99 ms", "max ms", "errors",
             "rendered by the app")]
    results = {}
    with reference_nginx(cluster_dir, node_ports) as reference:
        for key, base, paths, label in (
                ("reference", reference, reference_paths,
                 "reference: any node, nginx's lock 15 s"),
                ("ours", proxy, ours_paths, "as deployed: the tile's node, nginx's lock 10 ms")):
            before = view_renders(node_ports)
            r = results[key] = tile_storms(base, paths, clients)
            time.sleep(0.5)  # a worker records a request after its last byte
            rendered = view_renders(node_ports) - before
            rows.append((label, len(paths), r["n"], f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                         f"{r['max']:.0f}", int(r["errors"]), f"{rendered:g}"))
    table(f"Cold-tile storms: {clients} clients at once on each cold vector tile, through "
          "nginx to the 2 nodes", rows)
    ours, ref = results["ours"], results["reference"]
    print(f"cold-tile storms: p50 {ref['p50'] / max(ours['p50'], 1e-3):.0f}× and p99 "
          f"{ref['p99'] / max(ours['p99'], 1e-3):.1f}× shorter than the reference "
          f"({ours['p50']:.1f} / {ours['p99']:.1f} ms against {ref['p50']:.1f} / "
          f"{ref['p99']:.1f} ms)", flush=True)


class Probe:
    """Clients beside the load: a look-up due every 5 ms, open loop (each one sent when due,
    whatever the others are doing, from a pool of threads with a kept-alive connection each),
    each timed from when it was due: what a 65th, 66th... citizen arriving at any moment
    waits. The load's clients (closed loop) weigh each second by the requests answered in it,
    these by its length: a slow first second counts for a hundredth of a 100 s run here."""

    def __init__(self, base: str, paths: list[str], every_s: float = 0.005,
                 clients: int = 16) -> None:
        self.host = urlsplit(base)
        self.paths, self.every_s = paths, every_s
        self.times: list[float] = []
        self.at: list[float] = []  # when each was due, seconds after the start
        self.errors = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(clients)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.perf_counter()

    def start(self) -> None:
        self._start = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self._pool.shutdown(wait=True)

    def _ask(self, path: str, due: float) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(
                self.host.hostname, self.host.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except OSError:
            ok = False
            conn.close()
            self._local.conn = None
        with self._lock:
            self.times.append((time.perf_counter() - due) * 1000)
            self.at.append(due - self._start)
            self.errors += not ok

    def _run(self) -> None:
        due, i = self._start, 0
        while not self._stop.is_set():
            self._pool.submit(self._ask, self.paths[(i * 7919) % len(self.paths)], due)
            i += 1
            due += self.every_s
            time.sleep(max(0.0, due - time.perf_counter()))

    def percentiles(self) -> dict[str, float]:
        t = sorted(self.times) or [float("nan")]
        return {"n": len(self.times), "p50": t[len(t) // 2],
                "p99": t[min(len(t) - 1, int(len(t) * 0.99))], "max": t[-1],
                "errors": self.errors, "windows": self.windows()}

    def windows(self, width_s: float = 5.0) -> list[tuple[float, float, int]]:
        """p99 of the answers due in each ``width_s`` of the run."""
        return p99_by_window(self.at, self.times, width_s)


def lookup_log(access: Path, offset: int) -> tuple[dict[str, int], list[float]]:
    """nginx's cache status of each look-up logged after ``offset`` bytes of its JSON log, and
    each one's ``$request_time`` (ms; from its first byte read to its last byte sent)."""
    counts: dict[str, int] = {}
    times: list[float] = []
    if not access.is_file():
        return counts, times
    with access.open("rb") as f:
        f.seek(offset)
        for line in f:
            m = re.search(rb'"path":"/api/lookup".*"seconds":([0-9.]+).*"cache":"([A-Z]*)"',
                          line)
            if m:
                key = m.group(2).decode() or "none"
                counts[key] = counts.get(key, 0) + 1
                times.append(float(m.group(1)) * 1000)
    return counts, times


# The capacity model's assumptions (README, Cluster: capacity): what one citizen asks per
# minute while looking at the map, the share of tiles the cache answers, and how busy a
# machine's cores may run.
TILES_PER_MINUTE = 60      # ~4 pans or zooms a minute, ~15 new 256-px tiles each
LOOKUPS_PER_MINUTE = 2     # taps on a parcel
CACHE_HIT = 0.9            # tiles answered by nginx (or a CDN) without a node
BUSY = 0.7                 # of each core, leaving room for peaks
CORES = 2                  # per machine (this one's)


def capacity(cpu: dict[str, dict[str, float]], results: dict, lookup: dict) -> None:
    """CPU per request of each piece, measured here, turned into concurrent citizens per
    machine of ``CORES`` cores under the assumptions above."""
    pieces = ["app nodes", "replica", "primary", "nginx"]
    rows = [("phase", *[f"{p} CPU ms/req" for p in pieces])]
    for key, label in (("cold", "one node, cold render"), ("node_warm", "one node, warm"),
                       ("nginx_cold", "nginx cold (renders)"), ("nginx_warm", "nginx warm cache"),
                       ("static", "static PMTiles"), ("lookup_cold", "look-up, new points"),
                       ("lookup", "look-up, as deployed (nginx cache)"),
                       ("lookup_warm", "look-up, points kept by nginx")):
        if key in cpu:
            rows.append((label, *[f"{cpu[key][p]:.2f}" for p in pieces]))
    table("CPU per request of each piece (all its processes, /proc; client's own CPU excluded)",
          rows)
    # A look-up the cache cannot answer: the cold pass (each one reaches a node).
    render, look = cpu["cold"], cpu.get("lookup_cold", cpu["lookup"])
    tile_s, look_s = TILES_PER_MINUTE / 60, LOOKUPS_PER_MINUTE / 60
    budget = CORES * BUSY * 1000  # CPU ms per second one machine gives

    def citizens(per_citizen_ms: float) -> str:
        return f"{budget / per_citizen_ms:,.0f}" if per_citizen_ms > 0 else "n/a"

    node_ms = tile_s * (1 - CACHE_HIT) * render["app nodes"] + look_s * look["app nodes"]
    replica_ms = tile_s * (1 - CACHE_HIT) * render["replica"] + look_s * look["replica"]
    nginx_ms = tile_s * CACHE_HIT * cpu["nginx_warm"]["nginx"] + \
        tile_s * (1 - CACHE_HIT) * cpu["nginx_cold"]["nginx"] + look_s * look["nginx"]
    static_ms = tile_s * cpu.get("static", cpu["nginx_warm"])["nginx"]
    no_cache_ms = tile_s * render["app nodes"] + look_s * look["app nodes"]
    print(f"\n## Capacity model ({CORES}-core machines at {BUSY:.0%}; a citizen: "
          f"{TILES_PER_MINUTE} tiles + {LOOKUPS_PER_MINUTE} look-ups a minute; "
          f"{CACHE_HIT:.0%} of tiles from the cache)")
    print(f"concurrent citizens per app node:        {citizens(node_ms)}"
          f"  (without a cache: {citizens(no_cache_ms)})")
    print(f"concurrent citizens per replica:         {citizens(replica_ms)}")
    print(f"concurrent citizens per nginx cache:     {citizens(nginx_ms)}")
    print(f"static PMTiles, citizens per file server: {citizens(static_ms)} (tiles only; "
          "look-ups still reach the nodes)")
    print(f"look-ups alone: {look['app nodes']:.1f} ms node + {look['replica']:.1f} ms replica "
          f"CPU each: {budget / max(look['app nodes'], 1e-9):,.0f}/s per node machine, "
          f"{budget / max(look['replica'], 1e-9):,.0f}/s per replica machine "
          f"(measured {lookup['rps']:.0f}/s with everything on one machine)")


if __name__ == "__main__":
    sys.exit(main())
