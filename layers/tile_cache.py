"""Rendered vector tiles kept in each server process, keyed by the layer's edition.

A tile is a pure function of its layer's data, and that data changes only when someone edits a
plan; meanwhile many citizens look at the same few streets. So a rendered tile is kept (with its
ETag and gzip bytes, computed once) under ``(layer, grid, z, x, y, edition)``. The edition is a
counter that migration 0006's triggers bump in the same transaction as any write to the tables
the layer draws from, so reading it first (one indexed row) makes a stale answer impossible: a
writer's commit changes the key before any reader can see its data (layers/editions.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zlib_ng import gzip_ng


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
    gz = (gzip_ng.compress(body, compresslevel=gzip_level, mtime=0)
          if len(body) >= gzip_min_bytes else None)
    return CachedTile(body=body, gzipped=gz, etag=etag)


#: A kept tile in a file shared by a server's processes (layers/editions.SharedEditionCache):
#: its ETag (24 hex digits), the plain body's length (4 bytes), the body, then the gzip bytes
#: (none when the body was too small to compress; gzip's output is never empty).
_ETAG_CHARS = 24


def tile_to_bytes(tile: CachedTile) -> bytes:
    return b"".join((tile.etag.encode("ascii"), len(tile.body).to_bytes(4, "big"), tile.body,
                     tile.gzipped or b""))


def tile_from_bytes(raw: bytes) -> CachedTile:
    length = int.from_bytes(raw[_ETAG_CHARS:_ETAG_CHARS + 4], "big")
    start = _ETAG_CHARS + 4
    return CachedTile(body=raw[start:start + length], gzipped=raw[start + length:] or None,
                      etag=raw[:_ETAG_CHARS].decode("ascii"))
