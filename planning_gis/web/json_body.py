"""JSON request bodies read once, bounded, and parsed strictly.

Why not ``request.get_json()`` as it comes: Python's ``json`` accepts ``NaN`` and ``Infinity``
(not JSON; they reach shapely and PostGIS as NaN and fail there with a 500), turns ``1e400`` into
an infinity, recurses once per nesting level (5 000 ``[`` raise ``RecursionError``: a 500 that
costs a thread), and lets ``\\u0000`` through into strings that PostgreSQL cannot store. And a
body with no limit let one anonymous 41 MB polygon hold a worker's thread for 13 s.

So: the body is read under ``PLANNING_MAX_JSON_BYTES`` (checked from Content-Length before
reading, and while reading a chunked body), its nesting depth is measured on the raw bytes without
recursion before ``json.loads`` sees it, constants and non-finite numbers are refused while
parsing, and NUL characters are refused in every key and string. Every refusal is a 4xx
``{code, detail, detail_vi}``. The app's JSON provider uses the same parser, so every
``request.get_json()`` in the app is strict too.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from planning_gis.errors import InvalidInput, TooLarge

#: Nesting a client may send: a GeoJSON Feature of a MultiPolygon is 6 deep.
MAX_DEPTH = 64

#: A JSON string (escapes included), or an unterminated one up to the end; possessive, so an
#: unterminated string costs one linear scan, never a quadratic one.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(raw: bytes) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text, measured without recursion.

    Brackets inside strings do not count: strings are cut out first. Malformed text gives some
    number; ``json.loads`` refuses it afterwards.
    """
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(_DELTA[b] for b in brackets), default=0)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _check_strings(doc: Any, error: type[InvalidInput]) -> None:
    """Refuse a NUL character in any key or string (PostgreSQL text cannot hold one)."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise error("a string in the JSON body contains a NUL character (\\u0000)",
                            message_vi="Dữ liệu JSON chứa ký tự NUL (\\u0000) không hợp lệ")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(raw: bytes | str, error: type[InvalidInput] = InvalidInput) -> Any:
    """Strict JSON: UTF-8, at most :data:`MAX_DEPTH` deep, finite numbers, no NUL in strings.

    ``error`` is the 400 to raise (the look-up says ``invalid_geometry`` for a bad plot).
    """
    if isinstance(raw, str):
        text, raw = raw, raw.encode("utf-8", "surrogatepass")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error("the JSON body is not UTF-8 text",
                        message_vi="Dữ liệu JSON phải được mã hóa UTF-8") from exc
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        raise error(f"the JSON body is nested {depth} levels deep; at most {MAX_DEPTH}",
                    message_vi=f"Dữ liệu JSON lồng nhau quá sâu (tối đa {MAX_DEPTH} cấp)")
    try:
        doc = json.loads(text.removeprefix("\ufeff"), parse_constant=_reject_constant,
                         parse_float=_finite_float)
    except RecursionError as exc:  # the depth scan should have caught it; never a 500
        raise error("the JSON body is nested too deeply",
                    message_vi="Dữ liệu JSON lồng nhau quá sâu") from exc
    except ValueError as exc:
        raise error(f"the body is not valid JSON: {exc}",
                    message_vi="Dữ liệu gửi lên không phải JSON hợp lệ") from exc
    _check_strings(doc, error)
    return doc


def _read_at_most(stream: Any, limit: int) -> bytes | None:
    """The stream's bytes, or None as soon as there are more than ``limit`` of them.

    Read here rather than by ``get_data``: werkzeug cuts a chunked body at the limit silently
    (the client would get "not valid JSON" for a body that is too large).
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(64 * 1024, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


def read_json_body(error: type[InvalidInput] = InvalidInput) -> Any:
    """The request's JSON body, read under ``max_json_bytes`` and parsed by :func:`parse_json`.

    Any content type is read as JSON (``curl -d`` sends a form type): the endpoint says JSON.
    """
    limit = current_app.config["SETTINGS"].max_json_bytes
    too_large = TooLarge(f"the request body is over the {limit} bytes a JSON request may have",
                         message_vi=f"Dữ liệu gửi lên quá lớn (tối đa {limit} byte)")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    request.max_content_length = limit
    try:
        raw = _read_at_most(request.stream, limit)
    except RequestEntityTooLarge:
        raw = None
    if raw is None:
        raise too_large
    if not raw.strip():
        raise error("the request body is empty: send JSON",
                    message_vi="Chưa có dữ liệu gửi lên: hãy gửi JSON")
    return parse_json(raw, error)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`parse_json` for reading, so that every
    ``request.get_json()`` in the app refuses NaN, deep nesting and NUL with a 400."""

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)
