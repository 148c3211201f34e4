"""Query-string arguments: whole numbers within bounds, refused the same way everywhere.

Every API and page that takes a count, a page, a year or an id reads it here, so a client gets
the same 400 wording (English and Vietnamese) whichever endpoint it called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planning_gis.errors import InvalidInput


def int_arg(args: Mapping[str, Any], name: str, default: int | None, low: int,
            high: int | None = None) -> int | None:
    """``args[name]`` as an int in ``low..high`` (no upper bound when None); absent or empty
    gives ``default``."""
    raw = str(args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number, got {raw!r}",
                           message_vi=f"{name} phải là số nguyên") from exc
    if high is None and value < low:
        raise InvalidInput(f"{name} must be at least {low}, got {value}",
                           message_vi=f"{name} phải lớn hơn hoặc bằng {low}")
    if high is not None and not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}",
                           message_vi=f"{name} phải từ {low} đến {high}")
    return value
