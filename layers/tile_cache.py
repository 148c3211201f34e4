"""Rendered vector tiles kept in each server process, keyed by the layer's edition.

A tile is a pure function of its layer's data, and that data changes only when someone edits a
plan; meanwhile many citizens look at the same few streets. So a rendered tile is kept (with its
ETag and gzip bytes, computed once) under ``(layer, grid, z, x, y, edition)``. The edition is a
counter that migration 0006's triggers bump in the same transaction as any write to the tables
the layer draws from, so reading it first (one indexed row) makes a stale answer impossible: a
writer's commit changes the key before any reader can see its data.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection, text

EDITION_SQL = text("SELECT edition FROM layer_editions WHERE layer = :layer")


@dataclass(frozen=True)
class CachedTile:
    """One tile's bytes, plain and gzipped, with the ETag of the plain bytes."""

    body: bytes
    gzipped: bytes | None
    etag: str

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 200


def encode_tile(body: bytes, gzip_level: int, gzip_min_bytes: int) -> CachedTile:
    """Hash and compress a tile once; the same rules as the HTTP layer's for other bodies."""
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    gz = (gzip.compress(body, compresslevel=gzip_level, mtime=0)
          if len(body) >= gzip_min_bytes else None)
    return CachedTile(body=body, gzipped=gz, etag=etag)


def layer_edition(conn: Connection, layer: str) -> int | None:
    """The layer's current edition, or None for a layer the triggers do not track."""
    return conn.execute(EDITION_SQL, {"layer": layer}).scalar_one_or_none()


class TileCache:
    """A thread-safe LRU of rendered tiles bounded by bytes (0 turns it off)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, CachedTile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> CachedTile | None:
        with self._lock:
            tile = self._items.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple, tile: CachedTile) -> None:
        if tile.size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._items[key] = tile
            self._bytes += tile.size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
