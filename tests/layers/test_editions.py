"""The caches keyed by editions: the one a server's worker processes share (LMDB)."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from layers.editions import SharedEditionCache
from layers.tile_cache import encode_tile, tile_from_bytes, tile_to_bytes
from planning_gis.crs import vn2000_to_lonlat
from planning_gis.web.lookup import (
    AnswerAtPoint,
    _decode_answer,
    _decode_documents,
    _encode_answer,
    _encode_documents,
)
from planning_gis.web.ops import FAST_LOOKUP_ROUTE, FAST_TILE_ROUTE
from tiles.grid import get_tms


def _shared(path: Path, max_bytes: int = 1 << 20) -> SharedEditionCache:
    return SharedEditionCache(max_bytes, str(path), lambda v: v, lambda raw: raw)


def _put_in_child(path: str, key: tuple, value: bytes) -> None:
    _shared(Path(path)).put(key, value, len(value))


def test_a_value_put_by_one_process_is_read_by_another(tmp_path):
    cache = _shared(tmp_path / "c")
    assert cache.get(("at", 1, 105.8)) is None
    # spawn: a process of its own (LMDB handles must not cross a fork; gunicorn's workers open
    # theirs after it, the master never opens one)
    child = multiprocessing.get_context("spawn").Process(
        target=_put_in_child, args=(str(tmp_path / "c"), ("at", 1, 105.8), b"answer"))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert cache.get(("at", 1, 105.8)) == b"answer"
    assert cache.get(("at", 2, 105.8)) is None  # another edition: another key
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)


def _hammer(path: str, seed: int) -> None:
    """8 threads using a cache nobody opened yet in this process, all at once."""
    cache = _shared(Path(path), max_bytes=64 * 1024)
    barrier = threading.Barrier(8)

    failed: list[BaseException] = []

    def work(t: int) -> None:
        barrier.wait()
        try:
            for i in range(200):
                key = ("at", seed, t, i % 37)
                if cache.get(key) is None:
                    cache.put(key, os.urandom(500 + i), 500 + i)
        except BaseException as err:  # noqa: BLE001 - reported by the assert below
            failed.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failed, failed


def test_threads_and_processes_opening_the_file_together_do_not_deadlock(tmp_path):
    """The first use of a server's cache: each worker's threads at once (the warm-up). Two
    handles on the file in one process, or a named database opened while holding the GIL,
    deadlocked here once."""
    spawn = multiprocessing.get_context("spawn")
    for round_ in range(5):
        path = str(tmp_path / f"c{round_}")
        children = [spawn.Process(target=_hammer, args=(path, k)) for k in range(2)]
        for child in children:
            child.start()
        _hammer(path, 2)
        for child in children:
            child.join(60)
        assert [child.exitcode for child in children] == [0, 0]


def test_the_shared_file_is_bounded_and_refuses_a_value_too_big(tmp_path):
    cache = _shared(tmp_path / "c", max_bytes=256 * 1024)
    for i in range(400):
        cache.put(("at", i), os.urandom(2000), 2000)
        assert cache.bytes_used <= 256 * 1024
    assert 0 < len(cache) < 400
    # The newest quarter of the bound at least (half of a generation) is always there.
    assert all(cache.get(("at", i)) is not None for i in range(380, 400))
    assert cache.get(("at", 0)) is None
    cache.put(("big",), b"x" * 100_000, 100_000)  # more than an eighth of the bound
    assert cache.get(("big",)) is None
    cache.clear()
    assert len(cache) == 0


def test_the_folder_is_private(tmp_path):
    cache = _shared(tmp_path / "c")
    cache.put(("k",), b"v", 1)
    assert (tmp_path / "c").stat().st_mode & 0o077 == 0
    assert all(f.stat().st_mode & 0o077 == 0 for f in (tmp_path / "c").iterdir())


def test_one_process_makes_a_value_once_for_concurrent_askers(tmp_path):
    cache = _shared(tmp_path / "c")
    made: list[int] = []
    gate = threading.Event()

    def make() -> tuple[bytes, int]:
        gate.wait(5)
        made.append(1)
        return b"value", 5

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get_or_make, ("k",), make) for _ in range(8)]
        gate.set()
        assert {f.result() for f in futures} == {b"value"}
    assert len(made) == 1


def _make_in_child(path: str, log: str, barrier, threads: int, hold_s: float) -> None:
    """``threads`` threads of a process of its own ask one key at once; each making is
    logged (one line) in ``log``."""
    cache = _shared(Path(path))

    def make() -> tuple[bytes, int]:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(hold_s)
        return b"value", 5

    def ask(_: int) -> bytes:
        barrier.wait(30)
        return cache.get_or_make(("new point",), make)

    with ThreadPoolExecutor(threads) as pool:
        assert set(pool.map(ask, range(threads))) == {b"value"}


def test_the_processes_of_a_server_make_a_value_once(tmp_path):
    """Two processes, four threads each, ask a new key at the same instant: one makes it, the
    seven others read what it kept (a cache per process made it once in each)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    log = tmp_path / "made.log"
    children = [ctx.Process(target=_make_in_child,
                            args=(str(tmp_path / "c"), str(log), barrier, 4, 0.3))
                for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    assert len(log.read_text().splitlines()) == 1


def test_a_maker_killed_mid_way_does_not_hold_the_others(tmp_path):
    """The kernel drops the lock of a process killed while making: the next asker makes the
    value itself instead of waiting for one that will never come."""
    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "made.log"
    barrier = ctx.Barrier(1)
    child = ctx.Process(target=_make_in_child,
                        args=(str(tmp_path / "c"), str(log), barrier, 1, 60))
    child.start()
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text()):  # the child is making, holding the lock
        assert time.monotonic() < deadline and child.is_alive()
        time.sleep(0.01)
    cache = _shared(tmp_path / "c")
    cache.MAKING_WAIT_S = 600  # only the kernel's release can let this one through
    child.kill()
    child.join(30)
    got: list[bytes] = []
    asker = threading.Thread(target=lambda: got.append(
        cache.get_or_make(("new point",), lambda: (b"mine", 4))))
    asker.start()
    asker.join(30)
    assert not asker.is_alive() and got == [b"mine"]


def test_a_maker_past_its_wait_makes_the_value_itself(tmp_path):
    """Another process holding the key's slot for longer than ``MAKING_WAIT_S`` (a stalled
    database) delays an asker by that long at most: it then makes its own value."""
    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "made.log"
    barrier = ctx.Barrier(1)  # held here: the child's copy needs the parent's alive
    child = ctx.Process(target=_make_in_child,
                        args=(str(tmp_path / "c"), str(log), barrier, 1, 60))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text()):
            assert time.monotonic() < deadline and child.is_alive()
            time.sleep(0.01)
        cache = _shared(tmp_path / "c")
        cache.MAKING_WAIT_S = 0.2
        assert cache.get_or_make(("new point",), lambda: (b"mine", 4)) == b"mine"
    finally:
        child.kill()
        child.join(30)


def test_the_lookup_values_survive_the_file():
    answer = AnswerAtPoint(gzipped=b"\x1f\x8b gz", etag="0123456789abcdef01234567")
    assert _decode_answer(_encode_answer(answer)) == answer
    assert _decode_documents(_encode_documents((b'[{"id":1}]', 126))) == (b'[{"id":1}]', 126)


@pytest.mark.parametrize("body", [b"", b"\x1a\x05small", bytes(range(256)) * 40])
def test_the_vector_tiles_survive_the_file(body):
    """A tile with its gzip bytes, one too small to compress, and an empty one (a 204)."""
    tile = encode_tile(body, 5, 100)
    assert (tile.gzipped is None) is (len(body) < 100)
    assert tile_from_bytes(tile_to_bytes(tile)) == tile


def _routes(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    counts: dict[str, float] = {}
    for m in re.finditer(r'planning_http_request_duration_seconds_count\{[^}]*route="([^"]*)"'
                         r'[^}]*\} (\S+)', body):
        counts[m.group(1)] = counts.get(m.group(1), 0) + float(m.group(2))
    return counts


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc (procps may be absent)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


#: The routes of a look-up and of a vector tile answered by making it, and answered kept
#: (asked before, or made meanwhile by another request of the server).
LOOKUP_ROUTES = ("/api/lookup", FAST_LOOKUP_ROUTE)
TILE_ROUTES = ("/tiles/<layer>/<z>/<x>/<y>.mvt", FAST_TILE_ROUTE)


@pytest.mark.db
@pytest.mark.parametrize("kind", ["look-up", "vector tile"])
def test_the_workers_of_a_server_make_an_answer_once(demo, city, kind):
    """Two gunicorn workers: a new point, or a cold vector tile, asked once and then by 23
    clients at once (spread over both workers), is made once; it is in the instance's shared
    file, which goes with the server."""
    from tests.ops.conftest import free_port, start_gunicorn

    port = free_port()
    proc = start_gunicorn(demo, port, workers=2, threads=2)
    e, n = city.point_detailed
    if kind == "look-up":
        path, routes, name = (f"/api/lookup?x_north={n + 0.5}&y_east={e + 0.5}",
                              LOOKUP_ROUTES, "lookup-answers")
    else:
        t = get_tms("WebMercatorQuad").tile(*vn2000_to_lonlat(e, n), 17)
        path, routes, name = f"/tiles/zones/{t.z}/{t.x}/{t.y}.mvt", TILE_ROUTES, "vector-tiles"
    try:
        def ask(_: int) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            out = resp.status, resp.read()
            conn.close()
            return out

        # Each worker warms up once it is forked, which may be after the port opens: 2
        # look-ups and a tile per thread (web/warmup.py). Counted, they would blur the figures.
        deadline = time.monotonic() + 30
        while (sum((before := _routes(port)).get(r, 0) for r in LOOKUP_ROUTES) < 2 * 2 * 2
               or sum(before.get(r, 0) for r in TILE_ROUTES) < 2 * 2):
            assert time.monotonic() < deadline, before
            time.sleep(0.1)
        first = ask(0)
        with ThreadPoolExecutor(23) as pool:
            answers = [first, *pool.map(ask, range(23))]
        assert {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1 and answers[0][1]
        deadline = time.monotonic() + 5  # a worker records a request after its last byte
        after = _routes(port)

        def delta(route: str) -> float:
            return after.get(route, 0) - before.get(route, 0)

        while sum(delta(r) for r in routes) < 24:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            after = _routes(port)

        # Made once, by whichever worker took the first; the 23 others, spread over both
        # workers (each takes 2 connections at a time), found it kept.
        assert (delta(routes[0]), delta(routes[1])) == (1, 23)
        pids = _children(proc.pid)
        assert len(pids) == 2
        # The file both workers map (the environment gunicorn set is not in /proc's copy).
        maps = {line.split()[-1] for pid in pids
                for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
                if line.endswith(f"/{name}/data.mdb")}
        assert len(maps) == 1
        folder = str(Path(maps.pop()).parent.parent)
        assert folder.startswith(tempfile.gettempdir() + "/planning-shared-cache-")
        assert len(_shared(Path(folder) / name, 16 << 20)) >= 1
    finally:
        proc.terminate()
        proc.wait(30)
    assert not Path(folder).exists()  # removed with the server


def test_a_file_that_cannot_be_opened_fails_no_request(tmp_path):
    """A cache is an optimisation: a folder it cannot write (gone, read-only, a full disk) is a
    miss and an unkept value, never an error for the request that asked."""
    blocked = tmp_path / "file"
    blocked.write_bytes(b"not a folder")
    cache = _shared(blocked / "c")
    assert cache.get(("k",)) is None
    cache.put(("k",), b"v", 1)
    assert cache.get_or_make(("k",), lambda: (b"made", 4)) == b"made"
    assert cache.misses == 2
