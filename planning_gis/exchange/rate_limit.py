"""Rate limits of anonymous posts, counted in PostgreSQL.

Why not a memory counter (or Flask-Limiter's default memory storage): gunicorn runs several
workers and the service several nodes; a per-process counter lets a client post N times per
worker. Flask-Limiter's shared storages are Redis, Memcached or MongoDB, none of which this
service runs; the database every worker already shares does the same job with one UPSERT per
post (a fixed window per client key; posts are rare next to reads, so the write is cheap).
The client key is a keyed hash of the address, never the address itself (personal data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import Connection, text

from planning_gis.errors import RateLimited

_HIT = text("""
INSERT INTO rate_counters (key, window_start, hits) VALUES (:key, :start, 1)
ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_counters.hits + 1
RETURNING hits""")
_PRUNE = text("DELETE FROM rate_counters WHERE window_start < :before")


def client_key(secret: str, address: str | None) -> str:
    """A stable pseudonym of the client's address (the app's secret key is the HMAC key)."""
    return hmac.new(secret.encode(), (address or "?").encode(), hashlib.sha256).hexdigest()[:32]


def hit(conn: Connection, key: str, limits: list[tuple[int, int]],
        now: dt.datetime | None = None) -> None:
    """Count one post of ``key`` in each (limit, window seconds); RateLimited when over one.

    Runs in its own committed statement (the caller passes an autocommit connection), so the
    count stands even when the post itself is then refused for another reason: a robot that
    sends bad posts is limited too.
    """
    now = now or dt.datetime.now(dt.UTC)
    for limit, seconds in limits:
        epoch = int(now.timestamp())
        start = dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)
        hits = conn.execute(_HIT, {"key": f"{key}:{seconds}", "start": start}).scalar_one()
        if hits > limit:
            retry = int((start + dt.timedelta(seconds=seconds) - now).total_seconds()) + 1
            span_vi = "phút" if seconds <= 60 else "giờ" if seconds <= 3600 else "ngày"
            raise RateLimited(
                f"too many posts from this client: at most {limit} per {seconds} s; try again "
                f"in {retry} s",
                message_vi=f"Bạn đã gửi quá nhiều lần (tối đa {limit} lần mỗi {span_vi}). "
                           f"Vui lòng thử lại sau {retry} giây.", retry_after=retry)


def prune(conn: Connection, older_than: dt.timedelta = dt.timedelta(days=2)) -> int:
    return conn.execute(_PRUNE, {"before": dt.datetime.now(dt.UTC) - older_than}).rowcount
