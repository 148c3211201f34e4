"""Uploaded files are opened only with the driver their type allows, never follow the paths or
URLs they hold, stay under their limits, and fail with a 4xx that names no server path.

Everything here is real: the web forms through the app, the CLI as a subprocess, a real
``http.server`` that must never be called, a read-only tmpfs for the data folder.
"""

from __future__ import annotations

import http.server
import io
import json
import shutil
import stat
import subprocess
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from shapely.geometry import box
from sqlalchemy import text

from planning_gis import db
from tests.conftest import scratch_plan
from tests.test_import_maps import run_cli
from tests.workspace.conftest import CAU_GIAY, plan_of

pytestmark = pytest.mark.db
E0, N0 = 591000.0, 2331000.0
PASSWD_MARKS = ("root:x:0", "/bin/bash", "/usr/sbin/nologin", "daemon:")


# --- helpers -----------------------------------------------------------------------------

def _vrt_xml(source: str) -> str:
    return (f'<OGRVRTDataSource><OGRVRTLayer name="zones"><SrcDataSource>{source}'
            "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>\n")


def _geojson(*rects, code="OM") -> bytes:
    feats = [{"type": "Feature", "properties": {"label": f"S{i}", "function_code": code},
              "geometry": box(*r).__geo_interface__} for i, r in enumerate(rects)]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def _shapefile_zip(tmp_path: Path, extra=None, symlink=None, traversal=None) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    shp = folder / "zones.shp"
    pyogrio.raw.write(shp, np.array([box(E0, N0, E0 + 30, N0 + 30).wkb], dtype=object),
                      [np.array(["S1"], dtype=object), np.array(["OM"], dtype=object)],
                      ["label", "ma_cn"], driver="ESRI Shapefile",
                      geometry_type="Polygon", crs="EPSG:5897")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.iterdir()):
            z.write(p, p.name)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, symlink[1])
        if traversal:
            z.writestr(traversal, b"x")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def _post_zones(client, plan_id, data: bytes, name: str, **form):
    fields = {"csrf_token": client.csrf, "action": "import", "crs": "EPSG:5897",
              "file": (io.BytesIO(data), name)}
    fields.update(form)
    return client.post(f"/quan-tri/do-an/{plan_id}/o-quy-hoach", data=fields,
                       content_type="multipart/form-data")


def _zones_labelled(settings, prefix: str) -> int:
    with db.session_scope(settings) as s:
        return s.execute(text("SELECT count(*) FROM land_use_zones WHERE label LIKE :p"),
                         {"p": prefix + "%"}).scalar()


def _plan_zones(settings, plan_id: int) -> int:
    with db.session_scope(settings) as s:
        return s.execute(text("SELECT count(*) FROM land_use_zones WHERE plan_id = :p"),
                         {"p": plan_id}).scalar()


def _assert_no_leak(body: str, settings=None) -> None:
    for mark in PASSWD_MARKS:
        assert mark not in body, f"/etc/passwd leaked: {mark!r}"
    assert "/tmp/" not in body and "/vsi" not in body, body
    if settings is not None:
        assert settings.data_dir not in body, body


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        body = _geojson((E0, N0, E0 + 10, N0 + 10))
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def bait_server():
    """A real HTTP server on 127.0.0.1 that records every request it gets (it must get none)."""
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def cli_plan(demo):
    with scratch_plan(demo, "Đồ án thử tệp độc") as pid:
        yield pid


# --- defect 2: files that point elsewhere ----------------------------------------------------

VRT_CASES = {
    # a .json that is really an OGR VRT reading /etc/passwd as CSV
    "json_vrt_passwd": ("z.json", _vrt_xml("CSV:/etc/passwd")),
    # a .geojson whose content is a VRT
    "geojson_vrt": ("z.geojson", _vrt_xml("/etc/passwd")),
    # valid JSON that carries the VRT marker in a string: GDAL's VRT driver claims it by content
    "json_with_vrt_string": ("z.geojson", json.dumps(
        {"type": "FeatureCollection", "name": _vrt_xml("CSV:/etc/passwd"), "features": []})),
    # the same in the other formats we accept
    "dxf_vrt": ("z.dxf", _vrt_xml("CSV:/etc/passwd")),
    "gpkg_vrt": ("z.gpkg", _vrt_xml("CSV:/etc/passwd")),
}


@pytest.mark.parametrize("case", sorted(VRT_CASES))
def test_web_refuses_files_that_name_other_files(planner_client, demo, case):
    name, content = VRT_CASES[case]
    plan_id = plan_of(demo, CAU_GIAY)
    before = _plan_zones(demo, plan_id)
    resp = _post_zones(planner_client, plan_id, content.encode(), name,
                       map_label="field_1", map_function_code="field_1")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body
    _assert_no_leak(body, demo)
    assert "ws-error" in body  # the Vietnamese message of the page
    assert _plan_zones(demo, plan_id) == before


def test_web_vrt_pointing_at_a_url_makes_no_request(planner_client, demo, bait_server):
    url, hits = bait_server
    plan_id = plan_of(demo, CAU_GIAY)
    for name, content in (
        ("z.json", _vrt_xml(f"GeoJSON:{url}/zones.geojson")),
        ("z.geojson", _vrt_xml(f"/vsicurl/{url}/zones.geojson")),
        ("z.geojson", json.dumps({"type": "FeatureCollection", "crs": {
            "type": "link", "properties": {"href": f"{url}/crs.prj", "type": "proj4"}},
            "features": json.loads(_geojson((E0, N0, E0 + 5, N0 + 5)))["features"]})),
    ):
        resp = _post_zones(planner_client, plan_id, content.encode(), name)
        assert resp.status_code == 400, resp.get_data(as_text=True)
    assert hits == [], f"the server fetched {hits}"
    assert _zones_labelled(demo, "S") == 0


@pytest.mark.parametrize("how", ["symlink", "traversal", "absolute", "vrt_member"])
def test_web_refuses_shapefile_zips_with_unsafe_members(planner_client, demo, tmp_path, how):
    kwargs = {
        "symlink": {"symlink": ("zones.dbf.link", "/etc/passwd")},
        "traversal": {"traversal": "../../etc/cron.d/zones.prj"},
        "absolute": {"traversal": "/etc/zones.prj"},
        "vrt_member": {"extra": {"other.vrt": _vrt_xml("CSV:/etc/passwd")}},
    }[how]
    data = _shapefile_zip(tmp_path, **kwargs)
    resp = _post_zones(planner_client, plan_of(demo, CAU_GIAY), data, "z.zip")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body
    _assert_no_leak(body, demo)
    assert _zones_labelled(demo, "S1") == 0


def test_a_plain_shapefile_zip_still_imports(planner_client, demo, tmp_path):
    plan_id = plan_of(demo, CAU_GIAY)
    data = _shapefile_zip(tmp_path)
    resp = _post_zones(planner_client, plan_id, data, "z.zip")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with db.session_scope(demo) as s:
        assert s.execute(text("DELETE FROM land_use_zones WHERE plan_id=:p AND label='S1'"),
                         {"p": plan_id}).rowcount == 1


def test_cli_refuses_a_vrt_json(tmp_path, demo, cli_plan, bait_server):
    url, hits = bait_server
    for n, source in enumerate(("CSV:/etc/passwd", f"GeoJSON:{url}/z.geojson")):
        path = tmp_path / f"zones{n}.json"
        path.write_text(_vrt_xml(source))
        result = run_cli("zones", str(path), "--plan", str(cli_plan), "--map",
                         "label=field_1", "--map", "function_code=field_1", settings=demo)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        for mark in PASSWD_MARKS:
            assert mark not in result.stderr + result.stdout
    assert hits == []


# --- scans: raster drivers ----------------------------------------------------------------

RASTER_VRT = (b'<VRTDataset rasterXSize="64" rasterYSize="16"><VRTRasterBand dataType="Byte" '
              b'band="1" subClass="VRTRawRasterBand"><SourceFilename relativetoVRT="0">'
              b"/etc/passwd</SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1"
              b"</PixelOffset><LineOffset>64</LineOffset></VRTRasterBand></VRTDataset>\n")


def _scan_files(settings) -> list[Path]:
    return [p for d in (settings.scans_dir, settings.previews_dir) if d.exists()
            for p in d.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name,data", [
    ("to.tif", RASTER_VRT),                                   # a VRT renamed .tif
    ("to.png", b"\x89PNG\r\n\x1a\n" + RASTER_VRT),            # PNG signature, then a VRT
    ("to.jpg", b"\xff\xd8\xff\xe0" + RASTER_VRT),             # JPEG signature, then a VRT
    ("to.tif", b"II*\x00\x08\x00\x00\x00" + RASTER_VRT),      # TIFF signature, then a VRT
])
def test_scan_upload_that_is_a_vrt_is_refused(planner_client, demo, name, data):
    before = set(_scan_files(demo))
    resp = planner_client.post(f"/quan-tri/do-an/{plan_of(demo, CAU_GIAY)}/to-ban-do",
                               data={"csrf_token": planner_client.csrf,
                                     "scan": (io.BytesIO(data), name)},
                               content_type="multipart/form-data",
                               headers={"Accept": "application/json"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body
    assert resp.get_json()["code"] in ("invalid_input", "corrupt_image", "unsafe_file")
    _assert_no_leak(body, demo)
    assert set(_scan_files(demo)) == before


# --- defect 10: bad input is a 4xx, never a 500 ------------------------------------------------

def _truncated(tmp_path: Path, kind: str) -> tuple[str, bytes]:
    rings = [box(E0 + i * 50, N0, E0 + i * 50 + 40, N0 + 40) for i in range(60)]
    if kind == "dxf":
        path = tmp_path / "t.dxf"
        pyogrio.raw.write(path, np.array([r.exterior.wkb for r in rings], dtype=object),
                          [np.array(["OM"] * len(rings), dtype=object)], ["Layer"],
                          driver="DXF", geometry_type="LineString")
        data = path.read_bytes()
        return "t.dxf", data[: len(data) // 2]
    if kind == "gpkg":
        path = tmp_path / "t.gpkg"
        pyogrio.raw.write(path, np.array([r.wkb for r in rings], dtype=object),
                          [np.array(["OM"] * len(rings), dtype=object)], ["function_code"],
                          driver="GPKG", geometry_type="Polygon", crs="EPSG:5897")
        data = path.read_bytes()
        return "t.gpkg", data[: len(data) // 3]
    data = _shapefile_zip(tmp_path)
    return "t.zip", data[: len(data) // 2]


def test_damaged_zip_member_is_a_4xx(planner_client, demo, tmp_path):
    data = bytearray(_shapefile_zip(tmp_path))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("zones.shp")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 2, start + info.compress_size - 2):
        data[i] ^= 0x5A  # scramble the deflated bytes, keep the directory intact
    resp = _post_zones(planner_client, plan_of(demo, CAU_GIAY), bytes(data), "hong.zip")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body[-800:]
    assert "ws-error" in body
    _assert_no_leak(body, demo)


@pytest.mark.parametrize("kind", ["dxf", "gpkg", "zip"])
def test_truncated_files_are_a_4xx_without_paths(planner_client, demo, tmp_path, kind):
    name, data = _truncated(tmp_path, kind)
    resp = _post_zones(planner_client, plan_of(demo, CAU_GIAY), data, name,
                       map_label="Layer" if kind == "dxf" else "",
                       map_function_code="Layer" if kind == "dxf" else "")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body
    assert "ws-error" in body
    _assert_no_leak(body, demo)


@pytest.mark.parametrize("kind", ["dxf", "gpkg", "zip"])
def test_cli_truncated_files_one_line_exit_2(tmp_path, demo, cli_plan, kind):
    name, data = _truncated(tmp_path, kind)
    path = tmp_path / ("cut-" + name)
    path.write_bytes(data)
    result = run_cli("zones", str(path), "--plan", str(cli_plan), "--crs", "EPSG:5897",
                     "--map", "label=Layer", "--map", "function_code=Layer", settings=demo)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr


def test_deeply_nested_json_is_a_4xx(planner_client, demo):
    data = b'{"type": "FeatureCollection", "features": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    resp = _post_zones(planner_client, plan_of(demo, CAU_GIAY), data, "z.geojson")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body[-500:]
    assert "ws-error" in body


def test_unknown_encoding_is_a_4xx(planner_client, demo, tmp_path, cli_plan):
    data = _geojson((E0, N0, E0 + 20, N0 + 20))
    for action in ("check", "import"):
        resp = _post_zones(planner_client, plan_of(demo, CAU_GIAY), data, "z.geojson",
                           encoding="bogus-enc", action=action)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 400, body
        assert "Bảng mã chữ &#39;bogus-enc&#39; không được hỗ trợ" in body, body
    path = tmp_path / "z.geojson"
    path.write_bytes(data)
    result = run_cli("zones", str(path), "--plan", str(cli_plan), "--encoding", "bogus-enc",
                     settings=demo)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus-enc" in lines[0], result.stderr


# --- a read-only data folder during a scan upload -------------------------------------------

@contextmanager
def _read_only_mount(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("read_only", ["data", "previews"])
def test_read_only_data_folder_is_a_clear_5xx(demo, simulated, tmp_path, read_only):
    from planning_gis.demo.accounts import DEMO_PLANNER_PASSWORD, planner_email
    from server import create_app
    from tests.workspace.conftest import sign_in, token_of

    data_dir = tmp_path / "data"
    settings = replace(demo, data_dir=str(data_dir))
    app = create_app(settings)
    app.config["TESTING"] = True
    client = app.test_client()
    assert sign_in(client, planner_email(CAU_GIAY), DEMO_PLANNER_PASSWORD).status_code == 302
    target = data_dir if read_only == "data" else settings.previews_dir
    with _read_only_mount(target):
        resp = client.post(f"/quan-tri/do-an/{plan_of(demo, CAU_GIAY)}/to-ban-do",
                           data={"csrf_token": token_of(client),
                                 "scan": (io.BytesIO(simulated.path.read_bytes()), "to.png")},
                           content_type="multipart/form-data",
                           headers={"Accept": "application/json"})
        body = resp.get_data(as_text=True)
        assert 500 <= resp.status_code < 600, body
        err = resp.get_json()
        assert err["code"] == "storage_unavailable"
        assert "không" in err["detail_vi"]
        _assert_no_leak(body, settings)
        assert str(data_dir) not in body
        left = [p for p in data_dir.rglob("*") if p.is_file()]
    assert left == [], left
    shutil.rmtree(data_dir, ignore_errors=True)


# --- defect 11: messages name the upload, never a server file -----------------------------------

@pytest.mark.parametrize("cut", [0.5, 0.05])
def test_broken_scan_messages_name_no_server_file(planner_client, demo, simulated, cut):
    data = simulated.path.read_bytes()
    data = data[: int(len(data) * cut)]
    before = set(_scan_files(demo))
    resp = planner_client.post(f"/quan-tri/do-an/{plan_of(demo, CAU_GIAY)}/to-ban-do",
                               data={"csrf_token": planner_client.csrf,
                                     "scan": (io.BytesIO(data), "to-ban-do-hong.png")},
                               content_type="multipart/form-data",
                               headers={"Accept": "application/json"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400, body
    err = resp.get_json()
    assert "to-ban-do-hong.png" in err["detail"], err
    assert ".incoming" not in body and ".part" not in body, body
    _assert_no_leak(body, demo)
    import hashlib

    assert hashlib.sha256(data).hexdigest() not in body  # the stored name is internal too
    assert set(_scan_files(demo)) == before
