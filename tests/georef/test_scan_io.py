from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from planning_gis.errors import CorruptImage, ImageTooLarge, InvalidInput, MissingFile
from planning_gis.georef.scan_io import open_scan, probe_scan
from planning_gis.settings import Settings


def _rgb(w=120, h=80):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_reads_common_formats(tmp_path, suffix):
    arr = _rgb()
    path = tmp_path / f"scan{suffix}"
    Image.fromarray(arr).save(path)
    scan = open_scan(path)
    assert scan.array.shape == (80, 120, 3)
    if suffix != ".jpg":
        assert np.array_equal(scan.array, arr)


def test_palette_and_grey(tmp_path):
    p = tmp_path / "pal.png"
    Image.fromarray(_rgb()).convert("P").save(p)
    assert open_scan(p).array.shape == (80, 120, 3)
    g = tmp_path / "grey.png"
    Image.fromarray(_rgb()[:, :, 0]).save(g)
    assert open_scan(g).array.shape == (80, 120, 1)


def test_rgba_drops_alpha(tmp_path):
    p = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([_rgb(), np.full((80, 120), 255, np.uint8)])).save(p)
    assert open_scan(p).bands == 3


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_truncated_image_is_corrupt(tmp_path, suffix):
    path = tmp_path / f"scan{suffix}"
    Image.fromarray(_rgb(400, 300)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptImage, match=path.name):
        open_scan(path)


def test_garbage_is_corrupt(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"nonsense" * 50)
    with pytest.raises(CorruptImage):
        open_scan(path)


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(_rgb()).save(path)
    with pytest.raises(ImageTooLarge, match="over the limit"):
        probe_scan(path, Settings(max_scan_pixels=5000))


def test_decompression_bomb_header(tmp_path):
    # a PNG that claims 60 000 x 60 000 pixels in a few hundred bytes
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    with pytest.raises(ImageTooLarge):
        probe_scan(path, Settings())


def test_unknown_kind_and_missing(tmp_path):
    p = tmp_path / "scan.bmpx"
    p.write_bytes(b"xx")
    with pytest.raises(InvalidInput):
        probe_scan(p)
    with pytest.raises(MissingFile):
        probe_scan(tmp_path / "nope.png")


def _pdf(path, with_image: bool, pages: int = 1, tmp=None):
    from reportlab.lib.units import inch
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=(4 * inch, 3 * inch))
    for _ in range(pages):
        if with_image:
            img = tmp / "page.png"
            Image.fromarray(_rgb(400, 300)).save(img)
            c.drawImage(str(img), 0, 0, width=4 * inch, height=3 * inch)
        else:
            c.drawString(20, 100, "Quyết định phê duyệt – no scan here")
        c.showPage()
    c.save()


def test_pdf_page_renders_at_the_image_resolution(tmp_path):
    path = tmp_path / "sheet.pdf"
    _pdf(path, True, tmp=tmp_path)
    info = probe_scan(path)
    assert (info.width, info.height) == (400, 300)
    scan = open_scan(path)
    assert scan.array.shape == (300, 400, 3)


def test_pdf_without_image(tmp_path):
    path = tmp_path / "text.pdf"
    _pdf(path, False)
    with pytest.raises(CorruptImage, match="no image"):
        probe_scan(path)


def test_pdf_with_several_pages(tmp_path):
    path = tmp_path / "two.pdf"
    _pdf(path, True, pages=2, tmp=tmp_path)
    with pytest.raises(InvalidInput, match="2 pages"):
        probe_scan(path)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.4\n garbage")
    with pytest.raises(CorruptImage):
        probe_scan(path)
