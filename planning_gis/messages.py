"""The message catalogue: every engine message in Vietnamese, English as the second language.

The georeferencing engine, and GDAL, PROJ and rasterio beneath it, speak English. A planner
reads Vietnamese. Rather than a translation beside every ``raise``, the English messages are
matched here, in one place, by pattern, and rendered from a Vietnamese template with the same
numbers and names; :class:`planning_gis.errors.PlanningError` asks this catalogue for its
Vietnamese message when the raiser gave none. A message no entry matches keeps its English text
after a Vietnamese lead-in, so nothing is lost, and the tests list the engine's messages that
must match.

Compound messages (``auto``'s reason: the choice, then "among ...", then "; not considered:
...") are split at their joints and each part translated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_NUM = r"[-+]?\d+(?:\.\d+)?"

METHOD_VI = {
    "helmert": "Helmert (đồng dạng)",
    "affine": "affine",
    "poly2": "đa thức bậc 2",
    "poly3": "đa thức bậc 3",
    "projective": "xạ ảnh",
    "tps": "spline mỏng (TPS)",
    "tps-smooth": "spline mỏng làm trơn",
}

DESCRIPTIONS_VI = {
    "helmert": "đồng dạng (Helmert): dịch chuyển, xoay, một tỉ lệ",
    "affine": "affine: dịch chuyển, xoay, hai tỉ lệ, xiên",
    "poly2": "đa thức bậc 2",
    "poly3": "đa thức bậc 3",
    "projective": "xạ ảnh (homography)",
    "tps": "spline mỏng (đi qua mọi điểm)",
    "tps-smooth": "spline mỏng làm trơn (uốn theo tờ giấy, không theo sai số đọc từng điểm; "
    "mức làm trơn chọn theo sai số bỏ-một-điểm)",
}

CAUSES_VI = {
    "swapped X/Y": "nhầm thứ tự X/Y",
    "wrong grid cross": "nhầm mắt lưới",
    "typo in easting": "gõ sai tọa độ Đông (Y)",
    "typo in northing": "gõ sai tọa độ Bắc (X)",
    "misplaced point": "đặt sai vị trí điểm",
}

_DIR_VI = {"east": "về phía Đông", "west": "về phía Tây", "north": "về phía Bắc",
           "south": "về phía Nam"}


def _m(name: str) -> str:
    return METHOD_VI.get(name, name)


def _dirs(text: str) -> str:
    return re.sub(r"(\d+) m (east|west|north|south)", lambda g: f"{g[1]} m {_DIR_VI[g[2]]}",
                  text).replace(" and ", " và ")


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

#: (pattern on the whole English message, Vietnamese rendering). First match wins.
_RULES: list[Rule] = [(re.compile(p, re.S), f) for p, f in [
    # --- the fit and the automatic choice -------------------------------------------------
    (r"at least 2 enabled control points are needed, (\d+) given",
     lambda g: f"Cần ít nhất 2 điểm khống chế đang dùng, hiện có {g[1]}."),
    (r"(\S+) needs at least (\d+) control points, (\d+) given",
     lambda g: f"Phép biến đổi {_m(g[1])} cần ít nhất {g[2]} điểm khống chế, có {g[3]}."),
    (r"auto wants at least (\d+) points, (\d+) given",
     lambda g: f"chế độ tự động cần ít nhất {g[1]} điểm, có {g[2]}"),
    (r"leave-one-out error cannot be computed",
     lambda g: "không tính được sai số bỏ-một-điểm"),
    (r"points cover (\d+)% of the (map area|image), (\d+)% needed .*",
     lambda g: f"các điểm chỉ phủ {g[1]}% {'vùng bản đồ' if g[2] == 'map area' else 'ảnh'}, "
     f"cần {g[3]}% (phép này uốn rất mạnh ở xa các điểm)"),
    (r"no transformation can be chosen from (\d+) control points: (.*)",
     lambda g: f"Không chọn được phép biến đổi nào từ {g[1]} điểm khống chế: "
     + "; ".join(_method_reason(p) for p in g[2].split("; "))),
    (r"(\S+) has the lowest leave-one-out error \((" + _NUM + r") m\)(.*)",
     lambda g: f"{_m(g[1])} có sai số bỏ-một-điểm thấp nhất ({g[2]} m){_smoothing(g[3])}"),
    (r"(\S+) \((" + _NUM + r") m\) is within (\d+)% of the lowest leave-one-out error "
     r"\((\S+) (" + _NUM + r") m\) and simpler(.*)",
     lambda g: f"{_m(g[1])} ({g[2]} m) chỉ kém sai số bỏ-một-điểm thấp nhất ({_m(g[4])} {g[5]} m)"
     f" trong vòng {g[3]}% và đơn giản hơn{_smoothing(g[6])}"),
    (r"(\S+) \((" + _NUM + r") m\) is within one standard error of the lowest leave-one-out "
     r"error \((\S+) (" + _NUM + r") m\) and simpler(.*)",
     lambda g: f"{_m(g[1])} ({g[2]} m) chỉ kém sai số bỏ-một-điểm thấp nhất ({_m(g[3])} {g[4]} m)"
     f" trong vòng một sai số chuẩn và đơn giản hơn{_smoothing(g[5])}"),
    (r"(\S+) was asked for(.*)",
     lambda g: f"người dùng chọn {_m(g[1])}{_smoothing(g[2])}"),
    (r"(\d+) blunder\(s\) left out of the fit \(--drop-blunders\)",
     lambda g: f"{g[1]} điểm sai thô đã bị loại khỏi phép nắn"),
    (r"(\d+) blunder\(s\) kept in the fit: use --drop-blunders to leave them out",
     lambda g: f"{g[1]} điểm sai thô vẫn được dùng: tắt các điểm đó hoặc chọn loại điểm sai thô"),
    (r"(\d+) check point\(s\) left out of the fit: independent error (" + _NUM + r") m RMSE",
     lambda g: f"{g[1]} điểm kiểm tra không tham gia phép nắn: sai số độc lập RMSE {g[2]} m"),
    (r"too few points to look for blunders \((\d+) needed\)",
     lambda g: f"quá ít điểm để tìm điểm sai thô (cần {g[1]})"),
    (r"unknown method '([^']*)': choose (?:auto or )?(.*)",
     lambda g: f"Không có phép biến đổi '{g[1]}': hãy chọn tự động hoặc {g[2]}."),
    # --- blunder causes ------------------------------------------------------------------
    (r"easting and northing are swapped: X \(northing\) (" + _NUM + r") and Y \(easting\) ("
     + _NUM + r") fit the other points the other way round",
     lambda g: f"X và Y bị đảo: X (Bắc) {g[1]} và Y (Đông) {g[2]} khớp với các điểm khác khi "
     "đổi chỗ cho nhau"),
    (r"the typed coordinates are (.*) of the cross under the pixel \(grid step (\d+) m\): the "
     r"pixel is on a neighbouring grid cross, near E (" + _NUM + r"), N (" + _NUM + r")",
     lambda g: f"tọa độ đã nhập lệch {_dirs(g[1])} so với mắt lưới tại điểm ảnh (bước lưới "
     f"{g[2]} m): điểm ảnh nằm ở mắt lưới bên cạnh, gần Y (Đông) {g[3]}, X (Bắc) {g[4]}"),
    (r"(easting|northing) (" + _NUM + r") is (" + _NUM + r") m from where the other points put "
     r"it \((" + _NUM + r")\): (.*)",
     lambda g: f"{'Y (Đông)' if g[1] == 'easting' else 'X (Bắc)'} {g[2]} lệch {g[3]} m so với "
     f"vị trí các điểm khác cho ({g[4]}): {_digits(g[5])}"),
    (r"the point is (" + _NUM + r") m from where the other points put it \(E (" + _NUM
     + r"), N (" + _NUM + r")\): pixel clicked on the wrong feature or both coordinates wrong",
     lambda g: f"điểm lệch {g[1]} m so với vị trí các điểm khác cho (Y {g[2]}, X {g[3]}): bấm "
     "nhầm vị trí trên ảnh hoặc sai cả hai tọa độ"),
    # --- geometry of the points ------------------------------------------------------------
    (r"control points (\S+) and (\S+) are at the same pixel \(duplicate point\)",
     lambda g: f"Điểm khống chế {g[1]} và {g[2]} trùng vị trí trên ảnh (điểm lặp)."),
    (r"control points (\S+) and (\S+) have the same map coordinates \(duplicate point\)",
     lambda g: f"Điểm khống chế {g[1]} và {g[2]} có cùng tọa độ bản đồ (điểm lặp)."),
    (r"the control points are collinear on the scan.*",
     lambda g: "Các điểm khống chế thẳng hàng trên ảnh: hãy chọn điểm rải khắp tờ bản đồ."),
    (r"control point\(s\) (.*) lie outside the (\d+) x (\d+) px image.*",
     lambda g: f"Điểm khống chế {g[1]} nằm ngoài ảnh {g[2]} × {g[3]} px (hàng điểm ảnh tăng "
     "xuống dưới; tệp .points của QGIS lưu số âm)."),
    (r"(\S+): the control points do not determine this transformation.*",
     lambda g: f"{_m(g[1])}: các điểm khống chế không xác định được phép biến đổi này "
     "(điểm lặp hoặc thẳng hàng?)."),
    (r"(?:smoothing )?thin-plate spline cannot be fitted.*",
     lambda g: "Không dựng được spline mỏng (điểm lặp hoặc thẳng hàng?)."),
    (r"the (\S+) fit folds the sheet over itself.*",
     lambda g: f"Phép {_m(g[1])} làm tờ bản đồ gập lên chính nó: hãy chọn phép cứng hơn hoặc "
     "thêm điểm khống chế gần mép."),
    (r"control points are in a geographic CRS \(EPSG:(\d+)\).*",
     lambda g: f"Điểm khống chế đang ở hệ tọa độ địa lý (EPSG:{g[1]}): hãy dùng hệ phẳng tính "
     "bằng mét, ví dụ EPSG:5897."),
    (r"place control points before publishing",
     lambda g: "Cần đặt điểm khống chế trước khi công bố."),
    (r"(.*): no control points found", lambda g: f"{g[1]}: không tìm thấy điểm khống chế."),
    (r"the CSV is empty", lambda g: "Tệp CSV trống."),
    (r"the \.points file has no header line and no points",
     lambda g: "Tệp .points không có dòng tiêu đề và không có điểm nào."),
    (r"(.*): the GeoTIFF has no embedded control points \(GCPs\)",
     lambda g: f"{g[1]}: tệp GeoTIFF không chứa điểm khống chế (GCP)."),
    (r"EPSG:(\d+) has no area of use: the points' position is not checked",
     lambda g: f"EPSG:{g[1]} không có vùng sử dụng: vị trí các điểm không được kiểm tra"),
    (r"map columns read by name: easting, northing",
     lambda g: "cột tọa độ đọc theo tên: easting (Đông), northing (Bắc)"),
    (r"map columns X, Y read in the Vietnamese order: X = northing, Y = easting",
     lambda g: "cột X, Y đọc theo thứ tự Việt Nam: X = Bắc, Y = Đông"),
    # --- grid detection ("Tìm điểm khống chế") ------------------------------------------
    (r"no (easting|northing) label could be read",
     lambda g: f"không đọc được nhãn tọa độ {_axis(g[1])} nào"),
    (r"the (easting|northing) labels read do not agree on a regular grid \((\d+) read\)",
     lambda g: f"các nhãn {_axis(g[1])} đọc được không khớp một lưới đều ({g[2]} nhãn)"),
    (r"fewer than two (easting|northing) lines are backed by agreeing labels",
     lambda g: f"chưa đến hai đường lưới {_axis(g[1])} có nhãn khớp nhau"),
    (r"the (easting|northing) labels back two different grids equally: not settled",
     lambda g: f"các nhãn {_axis(g[1])} ủng hộ hai lưới khác nhau ngang nhau: chưa xác định"),
    (r"not a grid coordinate",
     lambda g: "không phải tọa độ lưới (chữ khác trong lề: tỷ lệ, tên, ghi chú)"),
    (r"no second reading on another line agrees with it",
     lambda g: "không có nhãn nào trên đường lưới khác khớp với nhãn này"),
    (r"agrees with no reading on another line",
     lambda g: "không khớp nhãn nào trên đường lưới khác"),
    (r"two readings of the grid are equally backed",
     lambda g: "hai cách đọc lưới được ủng hộ ngang nhau"),
    (r"read (\d+) where the grid says (\d+) \(a misread digit or a label of another line\)",
     lambda g: f"đọc được {g[1]} nhưng lưới cho {g[2]} (đọc sai chữ số hoặc nhãn của đường "
     "khác)"),
    (r"labelled ([XY]) \(X = northing, Y = easting\) but it stands on a (row|column)",
     lambda g: f"ghi {g[1]} (X = Bắc, Y = Đông) nhưng nằm trên "
     f"{'hàng' if g[2] == 'row' else 'cột'} lưới"),
    (r"the grid steps differ: (\S+) m across, (\S+) m down .*",
     lambda g: f"bước lưới hai chiều khác nhau: {g[1]} m theo chiều ngang, {g[2]} m theo chiều "
     "dọc (lưới in là lưới vuông): hãy kiểm tra các nhãn"),
    (r"all (\d+) crossings: their coordinates cannot be settled",
     lambda g: f"cả {g[1]} mắt lưới: không xác định được tọa độ"),
    (r"(\d+) crossing\(s\) whose centre could not be measured at full resolution",
     lambda g: f"{g[1]} mắt lưới không đo được tâm ở độ phân giải đầy đủ"),
    (r"the labels read make a mirrored map .*",
     lambda g: "các nhãn đọc được tạo ra bản đồ bị lật gương (Đông và Bắc ngược với hình): "
     "không đưa ra điểm nào"),
    # --- GDAL, PROJ and rasterio beneath ---------------------------------------------------
    (r".*not recognized as (?:a|being in a) supported (?:file|dataset) format.*",
     lambda g: "Định dạng tệp không được hỗ trợ: hãy gửi ảnh quét JPEG, PNG, TIFF hoặc PDF."),
    (r".*(?:No such file or directory|does not exist in the file system).*",
     lambda g: "Không tìm thấy tệp."),
    (r".*(?:TIFFReadDirectory|TIFFFillStrip|TIFFReadEncodedStrip|TIFFReadEncodedTile|"
     r"Read error|Premature end of JPEG file|Not a JPEG file|IReadBlock failed|"
     r"libpng error|Corrupt JPEG data).*",
     lambda g: "Ảnh quét bị hỏng hoặc không đầy đủ (GDAL không đọc được dữ liệu ảnh)."),
    (r".*(?:No space left on device|Free disk space available is).*",
     lambda g: "Hết chỗ trên đĩa lưu trữ: hãy báo quản trị hệ thống."),
    (r".*(?:Permission denied).*", lambda g: "Không có quyền đọc/ghi tệp trên máy chủ."),
    (r".*(?:crs not found|Invalid projection|Unknown projection|no database context|"
     r"Invalid EPSG code|CRS not found|Invalid authority).*",
     lambda g: "Hệ tọa độ không hợp lệ: hãy dùng mã EPSG, ví dụ EPSG:5897."),
    (r".*(?:Invalid coordinate|tolerance condition error|latitude or longitude exceeded "
     r"limits|Point outside of projection domain).*",
     lambda g: "Tọa độ nằm ngoài miền của phép chiếu (PROJ không chuyển đổi được)."),
    (r".*(?:Too many points|Failed to compute GCP transform|"
     r"Failed to compute polynomial).*",
     lambda g: "GDAL không tính được phép biến đổi từ các điểm khống chế này."),
    (r".*(?:Out of memory|Cannot allocate|Integer overflow).*",
     lambda g: "Ảnh quá lớn để xử lý trong giới hạn bộ nhớ."),
]]


def _axis(name: str) -> str:
    return "Y (Đông)" if name == "easting" else "X (Bắc)"


def _smoothing(rest: str) -> str:
    """The tail of ``auto``'s reason: smoothing, then "among ...", then "not considered"."""
    out = ""
    m = re.match(r" \(smoothing (\S+) x the mean bending eigenvalue, chosen by leave-one-out: "
                 r"(\S+) effective parameters per axis for (\d+) points\)(.*)", rest, re.S)
    if m:
        out += (f" (làm trơn {m[1]} × trị riêng uốn trung bình, chọn theo sai số bỏ-một-điểm: "
                f"{m[2]} tham số hiệu dụng mỗi trục cho {m[3]} điểm)")
        rest = m[4]
    neatline = ""
    if "; neatline: " in rest:
        rest, neatline = rest.split("; neatline: ", 1)
    skipped = ""
    if "; not considered: " in rest:
        rest, skipped = rest.split("; not considered: ", 1)
    if rest.startswith(" among "):
        out += " trong số " + ", ".join(
            re.sub(r"^(\S+)", lambda g: _m(g[1]), item) for item in rest[7:].split(", "))
    if skipped:
        out += "; không xét: " + "; ".join(_method_reason(p) for p in _split_skipped(skipped))
    if neatline:
        out += "; khung bản đồ: " + (translate(neatline) or neatline)
    return out


def _split_skipped(text: str) -> list[str]:
    """'m (why); m (why)' split at the semicolons outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == ";" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _method_reason(part: str) -> str:
    m = re.match(r"(\S+?):? \((.*)\)$", part, re.S) or re.match(r"(\S+): (.*)$", part, re.S)
    if not m:
        return vi(part)
    return f"{_m(m[1])} ({vi(m[2])})"


def _digits(text: str) -> str:
    if text == "a digit missing or added":
        return "thiếu hoặc thừa một chữ số"
    if text == "two neighbouring digits transposed":
        return "hai chữ số liền nhau bị đảo chỗ"
    m = re.match(r"one digit differs \((\S) typed where (\S) is expected\)", text)
    if m:
        return f"sai một chữ số (gõ {m[1]} thay cho {m[2]})"
    m = re.match(r"(\d+) digits differ", text)
    if m:
        return f"sai {m[1]} chữ số"
    return text


def translate(text: str) -> str | None:
    """The Vietnamese of one English engine message, or None when no entry matches."""
    text = text.strip()
    for pattern, render in _RULES:
        m = pattern.fullmatch(text)
        if m:
            return render(m)
    return None


def vi(text: str) -> str:
    """Vietnamese for an English engine message; unmatched text keeps its English after a
    Vietnamese lead-in (never silently dropped)."""
    out = translate(text)
    if out is not None:
        return out
    return f"Lỗi của bộ máy nắn ảnh (tiếng Anh): {text}"


def is_engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from GDAL, PROJ or rasterio (their exception classes)."""
    from pyproj.exceptions import CRSError, ProjError
    from rasterio.errors import RasterioError

    return isinstance(exc, (RasterioError, CRSError, ProjError))


def engine_error_vi(exc: BaseException) -> str:
    """Vietnamese for an exception of GDAL, PROJ or rasterio (their text is English)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return vi(first)


def localise_report(data: dict[str, Any]) -> dict[str, Any]:
    """Add ``*_vi`` beside every English sentence of a residual report (in place, returned)."""
    if isinstance(data.get("reason"), str):
        data["reason_vi"] = vi(data["reason"])
    if isinstance(data.get("error"), str) and not data.get("error_vi"):
        data["error_vi"] = vi(data["error"])
    if isinstance(data.get("notes"), list):
        data["notes_vi"] = [vi(n) for n in data["notes"]]
    for b in data.get("blunders") or []:
        b["likely_cause_vi"] = CAUSES_VI.get(b.get("likely_cause", ""), b.get("likely_cause"))
        b["detail_vi"] = vi(b.get("detail", ""))
    labels = data.get("labels")
    if isinstance(labels, dict):
        for r in labels.get("readings") or []:
            if isinstance(r.get("why"), str):
                r["why_vi"] = vi(r["why"])
    if isinstance(data.get("left_out"), list):
        data["left_out_vi"] = [vi(x) for x in data["left_out"]]
    for name, entry in (data.get("methods") or {}).items():
        entry["description_vi"] = DESCRIPTIONS_VI.get(name, name)
        if isinstance(entry.get("why_not"), str):
            entry["why_not_vi"] = vi(entry["why_not"])
    return data
