"""Which database a public read goes to: a streaming replica that answers and is current, or
the primary.

Why a router of our own and not a proxy (pgpool, HAProxy): the service must know *which*
server a request reads from, for two reasons.

* Edition-keyed caches (layers/editions.py) are correct because the edition is read *before*
  the data, from a server whose visible state only moves forward: the data can then only be
  newer than its key, the harmless case. A request therefore reads every statement (the fast
  path's edition on its hot connection, the view's tile or look-up on the request connection)
  from the one server chosen for it (:func:`ReadRouter.read_url`), never the edition from one
  server and the data from another, which may lag behind the first.
* A planner must see their own edit at once (read-your-writes): a request that carries the
  session cookie reads from the primary (planning_gis/web/db.py and the tile fast path).

Lag is measured without privileges (``pg_stat_wal_receiver`` hides its columns from a role
without ``pg_read_all_stats``): each check samples the primary's WAL position
(``pg_current_wal_lsn()``) and compares each replica's replayed position
(``pg_last_wal_replay_lsn()``) with the samples. A replica's lag is the time since the primary
first passed the position the replica has replayed: 0 when it has replayed the newest sample,
otherwise accurate to one check interval. ``pg_last_xact_replay_timestamp()`` alone would call
an idle, fully caught-up replica "behind" (it is the time of the last *transaction*).

While the primary does not answer, lag cannot be measured: a replica that answers is used
(reads go on during a primary restart; writes answer 503 meanwhile).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

#: Seconds a check waits for a server to connect or answer.
CHECK_TIMEOUT_S = 2
PRIMARY_SQL = "SELECT pg_current_wal_lsn()"
REPLICA_SQL = ("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),"
               " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8")


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as libpq (psycopg) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def lsn_int(lsn: str | None) -> int | None:
    """``'16/B374D848'`` as a byte position."""
    if lsn is None:
        return None
    hi, lo = str(lsn).split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def safe_url(url: str) -> str:
    """Host, port and database of a URL, without its password (for logs, metrics, /ready)."""
    return url.split("@")[-1]


@dataclass
class ReplicaState:
    """What the last check found about one replica."""

    url: str
    usable: bool = False
    lag_seconds: float | None = None
    #: Seconds since the replica last replayed a transaction (for the metrics).
    replay_age_seconds: float | None = None
    checked_at: float = 0.0
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"server": safe_url(self.url), "usable": self.usable,
                "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
                "error": self.error or None}


class ReadRouter:
    """The read targets of one server process: replicas checked in the background, the primary
    as the fallback. Thread-safe; one per (primary, replicas) and process (:func:`router_for`)."""

    def __init__(self, primary_url: str, replica_urls: tuple[str, ...], max_lag_s: float,
                 check_s: float) -> None:
        self.primary_url = primary_url
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self.states = {url: ReplicaState(url) for url in replica_urls}
        #: (monotonic time first seen, primary WAL position), oldest first; one per position.
        self._samples: deque[tuple[float, int]] = deque()
        #: Samples are kept this long, and one older (see :meth:`_sample`).
        self._window_s = max_lag_s + 5 * check_s
        self.primary_ok: bool | None = None
        self._conns: dict[str, psycopg.Connection] = {}
        self._rr = itertools.count()
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._checked_once = False

    # -- choosing -------------------------------------------------------------------------------
    def read_url(self) -> str:
        """A usable replica (in turn), or the primary when none is."""
        if not self._checked_once:
            self.check()
        self._ensure_monitor()
        usable = [s.url for s in self.states.values() if s.usable]
        if not usable:
            return self.primary_url
        return usable[next(self._rr) % len(usable)]

    def mark_failed(self, url: str, error: str) -> None:
        """A request could not use this replica: leave it out until a check finds it well."""
        state = self.states.get(url)
        if state is not None and state.usable:
            log.warning("replica %s left out of the reads: %s", safe_url(url), error)
            state.usable = False
            state.error = error

    # -- checking -------------------------------------------------------------------------------
    def _query(self, url: str, sql: str) -> tuple:
        conn = self._conns.get(url)
        if conn is None or conn.closed:
            conn = psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=CHECK_TIMEOUT_S,
                                   options=f"-c statement_timeout={CHECK_TIMEOUT_S * 1000}")
            self._conns[url] = conn
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.Error:
            conn.close()
            self._conns.pop(url, None)
            raise
        assert row is not None
        return row

    def check(self) -> None:
        """One round: sample the primary's WAL position, then each replica's replay position."""
        with self._check_lock:
            now = time.monotonic()
            try:
                (lsn,) = self._query(self.primary_url, PRIMARY_SQL)
                self._sample(now, lsn_int(lsn) or 0)
                self.primary_ok = True
            except (psycopg.Error, OSError):
                self.primary_ok = False
            for state in self.states.values():
                self._check_replica(state, now)
            self._checked_once = True

    def _sample(self, now: float, lsn: int) -> None:
        """Keep the primary's position when it moved, and drop samples past the window but the
        newest of those: a replica that has not replayed even that one is at least that far
        behind, which is past the limit (the window is longer than the limit)."""
        if not self._samples or self._samples[-1][1] != lsn:
            self._samples.append((now, lsn))
        while len(self._samples) > 1 and self._samples[1][0] < now - self._window_s:
            self._samples.popleft()

    def _check_replica(self, state: ReplicaState, now: float) -> None:
        try:
            in_recovery, replayed, replay_age = self._query(state.url, REPLICA_SQL)
        except (psycopg.Error, OSError) as err:
            if state.usable:
                log.warning("replica %s left out of the reads: %s", safe_url(state.url), err)
            state.usable, state.lag_seconds = False, None
            state.error = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
            state.checked_at = now
            return
        state.replay_age_seconds = replay_age
        state.lag_seconds = self._lag(bool(in_recovery), lsn_int(replayed), now)
        was = state.usable
        state.usable = state.lag_seconds is None or state.lag_seconds <= self.max_lag_s
        state.error = "" if state.usable else (
            f"{state.lag_seconds:.1f} s behind the primary (limit {self.max_lag_s:g} s)")
        first, state.checked_at = state.checked_at == 0.0, now
        if state.usable != was and not (first and state.usable):
            log.warning("replica %s %s", safe_url(state.url),
                        "back in the reads" if state.usable else "left out: " + state.error)

    def _lag(self, in_recovery: bool, replayed: int | None, now: float) -> float | None:
        if not in_recovery:
            return 0.0  # promoted, or a primary named as a read server: it is current
        if not self.primary_ok or not self._samples or replayed is None:
            return None  # cannot tell while the primary does not answer
        if replayed >= self._samples[-1][1]:
            return 0.0
        for t, lsn in self._samples:
            if lsn > replayed:
                return now - t
        return 0.0  # unreachable: the newest sample is past ``replayed``

    def _ensure_monitor(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="replica-monitor",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception:  # never let the monitor die: the reads would stay where they are
                log.exception("replica check failed")

    def close(self) -> None:
        self._stop.set()
        for conn in list(self._conns.values()):
            conn.close()
        self._conns.clear()

    def status(self) -> dict[str, object]:
        return {"primary_reachable": self.primary_ok,
                "max_lag_seconds": self.max_lag_s,
                "replicas": [s.as_dict() for s in self.states.values()]}


_routers: dict[tuple, ReadRouter] = {}
_routers_lock = threading.Lock()


def router_for(primary_url: str, replica_urls: tuple[str, ...], max_lag_s: float,
               check_s: float) -> ReadRouter | None:
    """This process's router for these servers; None without replicas (every read on the
    primary, as before). A forked worker makes its own (threads and sockets do not survive a
    fork)."""
    if not replica_urls:
        return None
    key = (os.getpid(), primary_url, replica_urls, max_lag_s, check_s)
    router = _routers.get(key)
    if router is None:
        with _routers_lock:
            router = _routers.get(key)
            if router is None:
                router = _routers[key] = ReadRouter(primary_url, replica_urls, max_lag_s, check_s)
    return router


def close_routers() -> None:
    """Stop every monitor of this process (tests drop their databases afterwards)."""
    with _routers_lock:
        for router in _routers.values():
            router.close()
        _routers.clear()
