"""Editions of the published data, and a cache keyed by them.

Migration 0006 keeps a counter per "layer" (``zones``, ``redlines``, ``plans``, ``units`` for the
vector tiles, ``lookup`` for the point look-up) that statement triggers bump in the same
transaction as any write to a table the layer reads. A cached answer keyed by the edition read
*before* the answer is computed can therefore never be served after the data changed: the
writer's commit changes the key before any reader can see the new rows. The worst case is the
harmless one: an answer computed from rows newer than its key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

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
