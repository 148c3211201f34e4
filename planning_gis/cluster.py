"""The reverse proxy in front of the app nodes: nginx's configuration, made by code.

``./run.sh cluster`` and the fault tests (tests/ops/test_cluster_faults.py) write the same file,
so what is tested is what an operator runs. Why each piece:

* ``upstream`` with both app nodes and ``proxy_next_upstream error timeout http_502 http_504``:
  a node that is killed refuses connections (or cuts the one in flight before any byte was
  sent), and nginx sends the request to the other node; ``max_fails=1 fail_timeout=5s`` leaves
  a dead node out for 5 s at a time instead of trying it on every request.
* ``proxy_cache`` for tiles and static files, honouring our headers: the app's Cache-Control
  decides how long an answer is fresh, then nginx revalidates it with our ETag
  (``proxy_cache_revalidate``: a 304 from the app refreshes the stored copy without a body).
  ``proxy_cache_lock``: a storm of requests for one cold tile renders it once; the others wait
  for that answer. The key holds the normalised Accept-Encoding (gzip or not) instead of
  honouring ``Vary`` itself: every browser spells Accept-Encoding its own way and each spelling
  would otherwise be a variant of its own.
* The point look-up (``GET /api/lookup``) is cached the same way: its answer is public for a
  minute (``PLANNING_API_CACHE_CONTROL``) and tagged, so a point many citizens ask at once (an
  announced plan's site, a shared link) is computed once per minute for all of them, then
  revalidated by ETag (a 304 when the plans there did not change). nginx caches GET and HEAD
  only: a plot's look-up (POST) always reaches the app. Measured on the city with 64 clients:
  see bench/cluster.py.
* A look-up URL and a vector tile's URL go to one node each (``hash $request_uri consistent``,
  failing over to the next node as the other upstream does), and nginx's lock holds a storm on
  a new point or a cold vector tile for 10 ms only (``MADE_ONCE_LOCK_WAIT``): nginx's lock
  waiters look again only every 500 ms (with a long lock, the requests that waited on a new
  point took 500 ms where making it took a few), while past 10 ms the node, which is making
  the answer, hands it to every request that asks it meanwhile (layers/editions.py,
  ``get_or_make``, once across the node's processes). The two nodes' caches keep different
  answers instead of the same ones twice. Raster tiles keep nginx's long lock: the app keeps
  no rendered raster tile to hand over.
* A request with our session cookie (a planner) bypasses the cache and is not stored: the app
  reads it from the primary, and what it answers is that planner's own fresh view.
* ``/pmtiles/``: the folder ``import_maps.py publish static`` writes (PMTiles + TileJSON),
  served as files; nginx answers HTTP range requests on files by itself, which is all a
  PMTiles client asks. Revalidated by ETag (a republished layer is a new file), CORS open.

On separate machines the same file names the app nodes by their addresses (see README).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SESSION_COOKIE = "qh_session"
#: How long a look-up or a vector tile waits for another request's answer to the same URL
#: before nginx passes it on to the URL's node (which is making it, and hands it over when
#: made): nginx's lock waiters look again only at this or every 500 ms, and a new point or a
#: cold tile takes a few ms.
MADE_ONCE_LOCK_WAIT = "10ms"
#: Vector tiles, which the app keeps and makes once per node (raster tiles are rendered anew).
VECTOR_TILE_LOCATION = r"~ ^/tiles/[a-z_0-9]+/[0-9]+/[0-9]+/[0-9]+\.mvt$"


def _cached(upstream: str, lock_wait: str) -> str:
    """A location's body: proxied to ``upstream`` through the cache, honouring our headers; a
    storm of requests for one cold answer waits up to ``lock_wait`` for the first one's."""
    lock_lines = f"""
      proxy_cache_lock on;
      proxy_cache_lock_timeout {lock_wait};
      proxy_cache_lock_age 15s;"""
    return f"""
      proxy_pass http://{upstream};
      proxy_cache answers;
      proxy_cache_key $scheme$request_uri$gzip_ok;
      proxy_ignore_headers Vary;{lock_lines}
      proxy_cache_revalidate on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_cache_background_update on;
      proxy_cache_bypass $cookie_{SESSION_COOKIE};
      proxy_no_cache $cookie_{SESSION_COOKIE};
      add_header X-Cache $upstream_cache_status always;"""


def nginx_conf(prefix: Path, listen: str, upstreams: list[str], cache_max: str = "2g",
               worker_processes: int = 1, static_dir: Path | None = None,
               vector_tiles_by_url: bool = True) -> str:
    """nginx.conf for a proxy on ``listen`` in front of ``upstreams`` (host:port each), with its
    pid, logs, temporary files and cache under ``prefix``; ``static_dir`` (the output of
    ``publish static``) is served under ``/pmtiles/``. ``vector_tiles_by_url`` False: vector
    tiles as raster ones (any node, nginx's long lock), bench/cluster.py's reference."""
    prefix = prefix.resolve()
    static = "" if static_dir is None else f"""
    location /pmtiles/ {{
      alias {static_dir.resolve()}/;
      types {{ application/vnd.pmtiles pmtiles; application/json json; }}
      add_header Cache-Control "public, max-age=60, must-revalidate" always;
      add_header Access-Control-Allow-Origin "*" always;
      add_header Access-Control-Allow-Headers "Range, If-Match" always;
      add_header Access-Control-Expose-Headers "ETag, Content-Range" always;
    }}"""
    servers = "\n".join(f"    server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    temp = prefix / "tmp"
    cached = _cached("app", "15s")
    by_url = _cached("app_by_url", MADE_ONCE_LOCK_WAIT)
    vector_tiles = f"""
    location {VECTOR_TILE_LOCATION} {{{by_url}
    }}""" if vector_tiles_by_url else ""
    return f"""# Written by planning_gis/cluster.py: edit that, not this file.
worker_processes {worker_processes};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}

http {{
  include /etc/nginx/mime.types;
  log_format json escape=json '{{"time":"$time_iso8601","remote":"$remote_addr",'
      '"method":"$request_method","path":"$uri","status":$status,'
      '"bytes":$body_bytes_sent,"seconds":$request_time,"upstream":"$upstream_addr",'
      '"upstream_status":"$upstream_status","cache":"$upstream_cache_status"}}';
  access_log {prefix}/access.log json buffer=64k flush=1s;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  client_max_body_size 2g;
  proxy_request_buffering off;
  keepalive_timeout 30s;
  keepalive_requests 10000;

  proxy_cache_path {prefix}/cache levels=1:2 keys_zone=answers:32m max_size={cache_max}
                   inactive=7d use_temp_path=off;

  # gzip or not: the only two variants the app makes (see web/caching.py).
  map $http_accept_encoding $gzip_ok {{
    default "";
    "~*gzip" "gzip";
  }}

  upstream app {{
{servers}
  }}
  upstream app_by_url {{
    hash $request_uri consistent;
{servers}
  }}

  server {{
    listen {listen};
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Accept-Encoding $gzip_ok;
    proxy_connect_timeout 1s;
    proxy_read_timeout 120s;
    proxy_next_upstream error timeout http_502 http_504;
    proxy_next_upstream_tries 2;

    location /tiles/ {{{cached}
    }}{vector_tiles}
    location /static/ {{{cached}
    }}
    location = /api/lookup {{{by_url}
    }}
    location / {{
      proxy_pass http://app;
    }}{static}
  }}
}}
"""


def write_nginx_conf(prefix: Path, listen: str, upstreams: list[str],
                     static_dir: Path | None = None, vector_tiles_by_url: bool = True) -> Path:
    """Write the configuration and make the folders nginx needs; the file's path."""
    for sub in ("tmp", "cache"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    if static_dir is not None:
        static_dir.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(nginx_conf(prefix, listen, upstreams, static_dir=static_dir,
                               vector_tiles_by_url=vector_tiles_by_url), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planning_gis.cluster",
                                     description="write nginx.conf for the app nodes")
    parser.add_argument("prefix", type=Path, help="folder of nginx.conf, logs, cache")
    parser.add_argument("--listen", required=True, help="address:port nginx listens on")
    parser.add_argument("--upstream", action="append", required=True,
                        help="an app node's host:port (repeat)")
    parser.add_argument("--static", type=Path, default=None,
                        help="the folder of publish static, served under /pmtiles/")
    args = parser.parse_args(argv)
    print(write_nginx_conf(args.prefix, args.listen, args.upstream, args.static))
    return 0


if __name__ == "__main__":
    sys.exit(main())
