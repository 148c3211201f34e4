"""A change said in words, Vietnamese first: "Năm 2021, ô C.3-2 chuyển từ đất ở sang đất
trường học (QĐ 1234/QĐ-UBND)". Plain text: it reaches pages as text, never as HTML."""

from __future__ import annotations

import datetime as dt
from typing import Any

from planning_gis.history.compare import Change, Legend


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def _num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{int(v):,}".replace(",", ".")


def _m2(v: float) -> str:
    return f"{round(v):,}".replace(",", ".") + " m²"


def _year(decision: dict[str, Any]) -> str | None:
    iso = decision.get("effective_on") or decision.get("date")
    return iso[:4] if iso else None


def _decision_vi(decision: dict[str, Any]) -> str:
    if decision.get("number"):
        day = decision.get("date") or decision.get("effective_on")
        when = f" ngày {dt.date.fromisoformat(day).strftime('%d/%m/%Y')}" if day else ""
        return f" (QĐ {decision['number']}{when})"
    if decision.get("user"):
        return f" (sửa bởi {decision['user']})"
    return ""


def _decision_en(decision: dict[str, Any]) -> str:
    if decision.get("number"):
        return f" (decision {decision['number']})"
    if decision.get("user"):
        return f" (edited by {decision['user']})"
    return ""


def _labels(zones) -> str:
    return ", ".join(z.label for z in zones)


def sentence(change: Change, legend: Legend) -> tuple[str, str]:
    """The change in one Vietnamese and one English sentence."""
    year = _year(change.decision)
    pre_vi = f"Năm {year}, " if year else ""
    pre_en = f"In {year}, " if year else ""
    dec_vi, dec_en = _decision_vi(change.decision), _decision_en(change.decision)
    a, b = change.a, change.b
    if change.kind == "added":
        vi = f"thêm ô {_labels(b)} ({_lower_first(legend.vi(b[0].function_code))})"
        en = f"zone {_labels(b)} was added ({legend.en(b[0].function_code).lower()})"
    elif change.kind == "removed":
        vi = f"bỏ ô {_labels(a)} ({_lower_first(legend.vi(a[0].function_code))})"
        en = f"zone {_labels(a)} was removed ({legend.en(a[0].function_code).lower()})"
    elif change.kind == "split":
        parts_vi = "; ".join(f"{z.label} ({_lower_first(legend.vi(z.function_code))})" for z in b)
        parts_en = "; ".join(f"{z.label} ({legend.en(z.function_code).lower()})" for z in b)
        vi = f"ô {a[0].label} được tách thành {len(b)} ô: {parts_vi}"
        en = f"zone {a[0].label} was split into {len(b)}: {parts_en}"
    elif change.kind == "merged":
        vi = (f"các ô {_labels(a)} được gộp thành ô {b[0].label} "
              f"({_lower_first(legend.vi(b[0].function_code))})")
        en = (f"zones {_labels(a)} were merged into {b[0].label} "
              f"({legend.en(b[0].function_code).lower()})")
    elif change.kind == "reshaped":
        vi = f"các ô {_labels(a)} được sắp xếp lại thành {_labels(b)}"
        en = f"zones {_labels(a)} were redrawn as {_labels(b)}"
    else:
        za, zb = a[0], b[0]
        bits_vi, bits_en = [], []
        name = za.label if za.label == zb.label else f"{za.label} (nay là {zb.label})"
        name_en = za.label if za.label == zb.label else f"{za.label} (now {zb.label})"
        if "function" in change.what:
            bits_vi.append(f"chuyển từ {_lower_first(legend.vi(za.function_code))} sang "
                           f"{_lower_first(legend.vi(zb.function_code))}")
            bits_en.append(f"changed from {legend.en(za.function_code).lower()} to "
                           f"{legend.en(zb.function_code).lower()}")
        if "indicators" in change.what:
            bits_vi.append("chỉ tiêu " + ", ".join(
                f"{i['name_vi']} {_num(i['old'])} → {_num(i['new'])}" for i in change.indicators))
            bits_en.append("indicators " + ", ".join(
                f"{i['name_en']} {_num(i['old'])} → {_num(i['new'])}" for i in change.indicators))
        if "geometry" in change.what:
            bits_vi.append(f"ranh giới thay đổi (thêm {_m2(change.gained_m2)}, "
                           f"bớt {_m2(change.lost_m2)})")
            bits_en.append(f"outline changed (+{_m2(change.gained_m2)}, "
                           f"−{_m2(change.lost_m2)})")
        if change.what == ["label"]:
            bits_vi.append(f"đổi ký hiệu thành {zb.label}")
            bits_en.append(f"relabelled {zb.label}")
        vi = f"ô {name} " + "; ".join(bits_vi)
        en = f"zone {name_en} " + "; ".join(bits_en)
    vi = pre_vi + vi if pre_vi else vi[:1].upper() + vi[1:]
    en = pre_en + en if pre_en else en[:1].upper() + en[1:]
    return vi + dec_vi + ".", en + dec_en + "."
