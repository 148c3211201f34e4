"""The message catalogue: the engine's English sentences, and GDAL/PROJ/rasterio errors, in
Vietnamese (English kept as the second language)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio.errors import RasterioError

from planning_gis.errors import GeoreferenceError, NotEnoughControlPoints
from planning_gis.georef.control_points import ControlPoint
from planning_gis.georef.report import analyse, report
from planning_gis.georef.transforms import METHODS
from planning_gis.messages import engine_error_vi, is_engine_error, localise_report, translate, vi

FALLBACK = "tiếng Anh"


def _grid(n_e: int, n_n: int, noise: float = 0.3, seed: int = 1) -> list[ControlPoint]:
    rng = np.random.default_rng(seed)
    pts = []
    for i in range(n_e):
        for j in range(n_n):
            e, n = 586000.0 + 100 * i, 2326000.0 - 100 * j
            a, b = 200.0 * i, 200.0 * j
            x = 40 + a + 2.5e-5 * a * a - 1e-5 * a * b + rng.normal(0, noise)
            y = 30 + b + 2e-5 * b * b + rng.normal(0, noise)
            pts.append(ControlPoint(x, y, e, n, True, f"P{len(pts) + 1}"))
    return pts


def _all_vi(data: dict) -> list[str]:
    out = [data.get("reason_vi", "")] + data.get("notes_vi", [])
    out += [b["detail_vi"] for b in data.get("blunders", [])]
    out += [m.get("why_not_vi", "") for m in data.get("methods", {}).values()]
    return [t for t in out if t]


@pytest.mark.parametrize("case", ["many", "few", "blunders", "checks", "smooth", "asked"])
def test_every_report_sentence_has_its_vietnamese(case):
    pts = _grid(6, 5)
    kwargs: dict = {}
    if case == "few":
        pts = _grid(3, 2)
    if case == "blunders":
        pts[3] = replace(pts[3], northing=pts[3].northing + 90.0)
        pts[8] = replace(pts[8], easting=pts[8].northing, northing=pts[8].easting)
        pts[29] = replace(pts[29], easting=pts[29].easting + 100.0)
        pts[12] = replace(pts[12], easting=pts[12].easting + 37.0)
        kwargs["drop_blunders"] = True
    if case == "checks":
        pts[4] = replace(pts[4], enabled=False)
    method = {"smooth": "tps-smooth", "asked": "poly2"}.get(case, "auto")
    data = localise_report(report(pts, METHODS, method=method, image_size=(1400, 1000),
                                  **kwargs))
    texts = _all_vi(data)
    assert texts
    untranslated = [t for t in texts if FALLBACK in t]
    assert untranslated == []
    assert all(m["description_vi"] for m in data["methods"].values())
    if case == "blunders":
        causes = {b["likely_cause_vi"] for b in data["blunders"]}
        assert {"gõ sai tọa độ Bắc (X)", "nhầm thứ tự X/Y", "nhầm mắt lưới"} <= causes
        assert any("đã bị loại" in n for n in data["notes_vi"])
    if case == "checks":
        assert any("điểm kiểm tra" in n for n in data["notes_vi"])
    if case == "few":
        assert "không xét" in data["reason_vi"]


def test_the_reason_keeps_its_numbers():
    data = localise_report(report(_grid(6, 5), METHODS, image_size=(1400, 1000)))
    loo = f"{data['loo_rmse_m']:.3f}"
    assert loo in data["reason_vi"]
    assert "sai số bỏ-một-điểm" in data["reason_vi"]


def test_errors_raised_in_english_carry_vietnamese():
    with pytest.raises(NotEnoughControlPoints) as exc:
        analyse(_grid(1, 1), "auto")
    assert exc.value.message_vi == "Cần ít nhất 2 điểm khống chế đang dùng, hiện có 1."
    pts = _grid(3, 2)
    pts[1] = replace(pts[1], pixel_x=pts[0].pixel_x, pixel_y=pts[0].pixel_y)
    with pytest.raises(GeoreferenceError) as exc:
        analyse(pts, "auto")
    assert "trùng vị trí trên ảnh" in exc.value.message_vi
    with pytest.raises(GeoreferenceError) as exc:
        analyse(_grid(6, 5), "auto", image_size=(300, 200))
    assert "nằm ngoài ảnh 300 × 200 px" in exc.value.message_vi
    with pytest.raises(GeoreferenceError) as exc:
        analyse(_grid(6, 5), "quadratic")
    assert exc.value.message_vi.startswith("Không có phép biến đổi 'quadratic'")


def test_an_explicit_vietnamese_message_wins():
    err = GeoreferenceError("the CSV is empty", message_vi="Tệp rỗng.")
    assert err.message_vi == "Tệp rỗng."
    assert GeoreferenceError("the CSV is empty").message_vi == "Tệp CSV trống."


def test_gdal_and_proj_errors_in_vietnamese(tmp_path):
    junk = tmp_path / "scan.tif"
    junk.write_bytes(b"not an image at all" * 10)
    with pytest.raises(RasterioError) as exc:
        rasterio.open(junk)
    assert is_engine_error(exc.value)
    assert engine_error_vi(exc.value).startswith("Định dạng tệp không được hỗ trợ")
    with pytest.raises(RasterioError) as exc:
        rasterio.open(tmp_path / "missing.tif")
    assert engine_error_vi(exc.value) == "Không tìm thấy tệp."
    with pytest.raises(CRSError) as exc:
        CRS.from_user_input("EPSG:999999")
    assert is_engine_error(exc.value)
    assert engine_error_vi(exc.value).startswith("Hệ tọa độ không hợp lệ")


def test_unknown_text_keeps_its_english_after_a_vietnamese_lead_in():
    assert translate("something new happened") is None
    assert vi("something new happened") == f"Lỗi của bộ máy nắn ảnh ({FALLBACK}): something new happened"


def test_detection_sentences():
    assert vi("read 2321500 where the grid says 2321400 (a misread digit or a label of another "
              "line)").startswith("đọc được 2321500 nhưng lưới cho 2321400")
    assert vi("no northing label could be read") == "không đọc được nhãn tọa độ X (Bắc) nào"
    assert "hàng lưới" in vi("labelled Y (X = northing, Y = easting) but it stands on a row")
    assert translate("not a grid coordinate").startswith("không phải tọa độ lưới")
