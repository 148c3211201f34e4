"""The web package: Flask lives here and nowhere else (blueprints, request parameters, errors as
HTTP, caching and security headers). Below it, ``layers/``, ``tiles/`` and the services take plain
arguments and never import this package."""

#: URL prefixes of machine clients (APIs, OGC, tiles): JSON errors whatever Accept says, and the
#: ETag/304 and Cache-Control rules of caching.py. Written once, read by errors.py and caching.py.
MACHINE_PREFIXES = ("/api/", "/ogc", "/tiles/")
