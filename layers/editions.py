"""Editions of the published data, and a cache keyed by them.

Migration 0006 keeps a counter per "layer" (``zones``, ``redlines``, ``plans``, ``units`` for the
vector tiles, ``lookup`` for the point look-up) that statement triggers bump in the same
transaction as any write to a table the layer reads. A cached answer keyed by the edition read
*before* the answer is computed can therefore never be served after the data changed: the
writer's commit changes the key before any reader can see the new rows. The worst case is the
harmless one: an answer computed from rows newer than its key.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import lmdb
from sqlalchemy import Connection, text

_log = logging.getLogger(__name__)

_EDITION_OF = "SELECT edition FROM layer_editions WHERE layer = "
EDITION_SQL = text(_EDITION_OF + ":layer")
#: The same statement for a plain psycopg connection (the cached-tile fast path).
EDITION_PSYCOPG = _EDITION_OF + "%s"


def layer_edition(conn: Connection, layer: str) -> int | None:
    """The layer's current edition, or None for a layer the triggers do not track."""
    return conn.execute(EDITION_SQL, {"layer": layer}).scalar_one_or_none()


class EditionCache:
    """A thread-safe LRU bounded by bytes (0 turns it off), one per app and purpose.

    Keys must contain the edition they were computed under; values are shared between
    requests, so they must be immutable (bytes, frozen dataclasses).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.joined = 0
        self._making: dict[tuple, threading.Event] = {}

    def get(self, key: tuple) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: tuple, value: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def _peek(self, key: tuple) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def get_or_make(self, key: tuple, make: Callable[[], tuple[Any, int | None]],
                    asked: bool = False) -> Any:
        """The value kept under ``key``, or the one ``make`` returns, made once at a time.

        ``make`` returns the value and its size, or a size of None for a value that must not be
        kept (its data changed meanwhile). Concurrent askers of a key being made wait for the
        maker instead of making it again: one link opened by many at once (a plan announced,
        a post shared) is computed once per process. A waiter whose maker failed or kept
        nothing makes its own value. ``asked``: the caller already looked this key up with
        :meth:`get` for this request (a fast path in front of it), so it is not counted twice.
        """
        value = self._peek(key) if asked else self.get(key)
        if value is not None:
            return value
        with self._lock:
            event = self._making.get(key)
            leader = event is None
            if leader:
                event = self._making[key] = threading.Event()
        if not leader:
            event.wait(timeout=30)
            value = self._peek(key)
            if value is not None:
                with self._lock:
                    self.joined += 1
                return value
            value, size = make()
            if size is not None:
                self.put(key, value, size)
            return value
        try:
            # Made and kept by a leader that finished between our look-up and our leadership.
            value = self._peek(key)
            if value is not None:
                return value
            value, size = make()
            if size is not None:
                self.put(key, value, size)
            return value
        finally:
            with self._lock:
                self._making.pop(key, None)
            event.set()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def stats(self) -> dict[str, int | float | None]:
        """Entries, bytes against the bound, hits and misses since start, and the hit rate."""
        with self._lock:
            asked = self.hits + self.misses
            return {"entries": len(self._items), "bytes": self._bytes,
                    "max_bytes": self.max_bytes, "hits": self.hits, "misses": self.misses,
                    "joined": self.joined,
                    "hit_rate": round(self.hits / asked, 4) if asked else None}

    def __len__(self) -> int:
        return len(self._items)


class SharedEditionCache(EditionCache):
    """An :class:`EditionCache` whose values live in one LMDB file that every worker process
    of a server shares (``PLANNING_SHARED_CACHE_DIR``, made per gunicorn instance).

    Why: with a cache per process, a point asked again was computed again in each worker the
    request landed on: on 2 workers, of the first 3,200 look-ups of 2,000 new city points,
    2,900 were computed. Shared, a point asked again is kept for every worker of the server.
    Values are bytes (``encode``/``decode`` turn them into the caller's objects); keys are
    hashed. Bounded by ``max_bytes`` in two generations (LMDB keeps no LRU): new values go into
    the current one; when it holds half the bound, the older one is emptied and becomes the
    current one. A read looks in both, so the newest half to whole of the bound stays.
    :meth:`get_or_make` makes a value once for the whole server: besides the threads of one
    process, the makers of its processes take turns on a lock of the key's slot in a file beside
    the cache (``making.lock``, POSIX record locks, which the kernel drops with a process that
    dies); one that waited reads the value its forerunner kept. LMDB is crash-safe
    (copy-on-write pages; readers that died are cleared on open), so a worker killed
    mid-write leaves nothing half-written. Its handles must not cross a fork: each process
    opens its own on first use (gunicorn's master never uses the cache).
    """

    _GENERATIONS = (b"generation-0", b"generation-1")
    _CURRENT = b"current"

    def __init__(self, max_bytes: int, path: str, encode: Callable[[Any], bytes],
                 decode: Callable[[bytes], Any]) -> None:
        super().__init__(max_bytes)
        self.path = path
        self.encode, self.decode = encode, decode
        self._env = None
        self._dbs: tuple = ()
        self._pid = 0
        self._opening = threading.Lock()
        self._making_fd: int | None = None

    def _lmdb(self):
        """This process's handle and its two generations, opened on first use."""
        if self._env is not None and self._pid == os.getpid():
            return self._env
        # One opening per process, whatever the number of threads asking at once: a second
        # handle on the same file in one process breaks LMDB's locking (the first bench run
        # of this cache deadlocked in the warm-up, four threads opening it together).
        with self._opening:
            if self._env is None or self._pid != os.getpid():
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                # Freed pages are reused only once no reader holds them: room beyond the bound.
                env = lmdb.open(self.path, map_size=2 * self.max_bytes + (8 << 20),
                                subdir=True, max_dbs=2, max_readers=512, sync=False,
                                metasync=False, lock=True, readahead=False, meminit=False,
                                mode=0o700)
                env.reader_check()
                # In a write transaction of our own: its begin waits for another process's
                # writer without holding the GIL, where open_db's own would hold it.
                with env.begin(write=True) as txn:
                    self._dbs = tuple(env.open_db(name, txn=txn)
                                      for name in self._GENERATIONS)
                # Never closed while the process lives: closing any descriptor of a file drops
                # every POSIX lock the process holds on it.
                self._making_fd = os.open(os.path.join(self.path, "making.lock"),
                                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._env, self._pid = env, os.getpid()
        return self._env

    #: Slots of the making lock (a byte each): keys of one slot take turns, rarely (2^16).
    MAKING_SLOTS = 1 << 16
    #: How long a maker waits for another process's maker of the same slot before it makes
    #: the value itself (a stalled database, say): the wait is bounded, the answer still comes.
    MAKING_WAIT_S = 10.0

    def _take_slot(self, slot: int) -> tuple[bool, bool]:
        """Lock the slot's byte: (held, waited). Not held: the file could not be locked, or
        another maker held it past ``MAKING_WAIT_S``."""
        try:
            self._lmdb()
            fd = self._making_fd
            deadline, waited = time.monotonic() + self.MAKING_WAIT_S, False
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)
                    return True, waited
                except (BlockingIOError, PermissionError):
                    if time.monotonic() > deadline:
                        return False, True
                    waited = True
                    time.sleep(0.0005)
        except (lmdb.Error, OSError) as err:
            _log.warning("shared cache %s: making lock unusable: %s", self.path, err)
            return False, False

    def get_or_make(self, key: tuple, make: Callable[[], tuple[Any, int | None]],
                    asked: bool = False) -> Any:
        """As :meth:`EditionCache.get_or_make`, made once across the server's processes."""
        def make_once() -> tuple[Any, int | None]:
            slot = int.from_bytes(self._key(key)[:4], "big") % self.MAKING_SLOTS
            held, waited = self._take_slot(slot)
            try:
                if waited:  # another process made it meanwhile, most likely
                    value = self._read(key)
                    if value is not None:
                        with self._lock:
                            self.joined += 1
                        return value, None
                value, size = make()
                if size is not None:
                    self.put(key, value, size)  # before the slot is let go: waiters read it
                return value, None
            finally:
                if held:
                    with contextlib.suppress(OSError):
                        fcntl.lockf(self._making_fd, fcntl.LOCK_UN, 1, slot)

        return super().get_or_make(key, make_once, asked)

    @staticmethod
    def _key(key: tuple) -> bytes:
        return hashlib.blake2b(repr(key).encode(), digest_size=16).digest()

    def _current(self, txn) -> int:
        return 1 if txn.get(self._CURRENT) == b"1" else 0

    def _read(self, key: tuple) -> Any | None:
        """The value, or None: also when the file cannot be read (a cache never fails the
        request it was asked for; the answer is then computed)."""
        k = self._key(key)
        try:
            with self._lmdb().begin() as txn:
                current = self._current(txn)
                raw = txn.get(k, db=self._dbs[current])
                if raw is None:
                    raw = txn.get(k, db=self._dbs[1 - current])
        except (lmdb.Error, OSError) as err:
            _log.warning("shared cache %s unreadable: %s", self.path, err)
            return None
        return None if raw is None else self.decode(raw)

    def get(self, key: tuple) -> Any | None:
        value = self._read(key)
        with self._lock:
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
        return value

    def _peek(self, key: tuple) -> Any | None:
        return self._read(key)

    @staticmethod
    def _db_bytes(txn, db) -> int:
        st = txn.stat(db)
        return st["psize"] * (st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"])

    def put(self, key: tuple, value: Any, size: int) -> None:
        raw = self.encode(value)
        if len(raw) > self.max_bytes // 8:
            return
        for attempt in range(2):
            try:
                env = self._lmdb()
                with env.begin(write=True) as txn:
                    current = self._current(txn)
                    if attempt:  # the map was full: start again from nothing
                        for db in self._dbs:
                            txn.drop(db, delete=False)
                    elif self._db_bytes(txn, self._dbs[current]) + len(raw) > self.max_bytes // 2:
                        current = 1 - current
                        txn.drop(self._dbs[current], delete=False)
                        txn.put(self._CURRENT, str(current).encode())
                    txn.put(self._key(key), raw, db=self._dbs[current])
                return
            except lmdb.MapFullError:
                continue
            except (lmdb.Error, OSError) as err:  # a full disk, say: the value is not kept
                _log.warning("shared cache %s not written: %s", self.path, err)
                return

    def clear(self) -> None:
        env = self._lmdb()
        with env.begin(write=True) as txn:
            for db in self._dbs:
                txn.drop(db, delete=False)

    def _sizes(self) -> tuple[int, int]:
        """(entries, bytes) over both generations."""
        env = self._lmdb()
        with env.begin() as txn:
            return (sum(txn.stat(db)["entries"] for db in self._dbs),
                    sum(self._db_bytes(txn, db) for db in self._dbs))

    @property
    def bytes_used(self) -> int:
        return self._sizes()[1]

    def stats(self) -> dict[str, int | float | None]:
        entries, used = self._sizes()
        with self._lock:
            asked = self.hits + self.misses
            return {"entries": entries, "bytes": used, "max_bytes": self.max_bytes,
                    "hits": self.hits, "misses": self.misses, "joined": self.joined,
                    "hit_rate": round(self.hits / asked, 4) if asked else None,
                    "shared": True}

    def __len__(self) -> int:
        return self._sizes()[0]
