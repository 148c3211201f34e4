"""The documents on the web: search API, library API and pages, files, page images."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import unquote

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import text

from planning_gis import db
from tests.conftest import axe_violations

pytestmark = pytest.mark.db

HTML = {"Accept": "text/html"}


@pytest.fixture
def ids(demo):
    with db.session_scope(demo) as s:
        doc = s.execute(text("SELECT id, page_count FROM documents WHERE number = '6631/QĐ-UBND'"
                             )).one()
        plan = s.execute(text("SELECT p.id FROM plans p JOIN plan_documents pd ON pd.plan_id = p.id"
                              " GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1")).scalar()
        ocr_doc = s.execute(text("SELECT document_id FROM document_pages WHERE source = 'ocr'"
                                 " LIMIT 1")).scalar()
    return {"doc": doc.id, "pages": doc.page_count, "plan": plan, "ocr_doc": ocr_doc}


def _error(resp, status):
    assert resp.status_code == status
    body = resp.get_json()
    assert set(body) >= {"code", "detail", "detail_vi"}
    return body


def test_search_api_with_and_without_diacritics(client):
    a = client.get("/api/search?q=Quy hoạch Cầu Giấy").get_json()
    b = client.get("/api/search?q=quy hoach cau giay").get_json()
    assert a["results"] and [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]]
    first = b["results"][0]
    assert set(first) >= {"kind", "id", "title", "title_html", "subtitle", "snippet_html", "url"}
    assert "<mark>" in first["title_html"]


def test_search_api_kinds_and_bad_input(client):
    only = client.get("/api/search?q=cau giay&kinds=place").get_json()
    assert only["results"] and {r["kind"] for r in only["results"]} == {"place"}
    assert _error(client.get("/api/search"), 400)["detail_vi"].startswith("Hãy nhập")
    assert _error(client.get("/api/search?q=%3F%3F"), 400)["code"] == "invalid_input"
    _error(client.get("/api/search?q=ha&limit=5000"), 400)
    _error(client.get("/api/search?q=ha&kinds=nope"), 400)


def test_documents_api_filters_paging_and_detail(client, ids):
    page = client.get("/api/documents?type=quyet_dinh&per_page=2").get_json()
    assert page["total"] >= 2 and len(page["items"]) == 2 and page["pages"] >= 1
    assert all(d["doc_type"] == "quyet_dinh" for d in page["items"])
    by_plan = client.get(f"/api/documents?plan={ids['plan']}&per_page=100").get_json()
    assert by_plan["total"] >= 2
    _error(client.get("/api/documents?year=19x9"), 400)
    _error(client.get("/api/documents?type=cong_van"), 400)
    _error(client.get("/api/documents?page=0"), 400)
    detail = client.get(f"/api/documents/{ids['doc']}").get_json()
    assert detail["number"] == "6631/QĐ-UBND" and detail["plans"]
    assert detail["pages"][0]["source"] == "text" and "Quyết định" in detail["pages"][0]["text"]
    assert _error(client.get("/api/documents/987654321"), 404)["code"] == "not_found"


def test_documents_api_next_links_page_by_cursor_to_the_end(client):
    everything = client.get("/api/documents?per_page=100").get_json()["items"]
    seen, url, pages = [], "/api/documents?per_page=2", 0
    while url:
        page = client.get(url).get_json()
        seen += [d["id"] for d in page["items"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].split("localhost", 1)[-1] if nxt else None
        assert not nxt or "after=" in nxt[0]
        pages += 1
        assert pages < 100
    assert seen == [d["id"] for d in everything] and pages == -(-len(seen) // 2)
    deep = _error(client.get("/api/documents?page=600"), 400)
    assert "after=" in deep["detail"] and deep["detail_vi"]
    _error(client.get("/api/documents?after=hello"), 400)


def test_library_page_next_link_carries_the_cursor(client):
    html = client.get("/tai-lieu?per_page=2", headers=HTML).get_data(as_text=True)
    nxt = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "after=" in nxt
    second = client.get(nxt, headers=HTML)
    assert second.status_code == 200 and "Trang đầu" in second.get_data(as_text=True)


def test_file_is_the_stored_pdf_inline_with_a_vietnamese_name(client, ids):
    resp = client.get(f"/documents/{ids['doc']}/file")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=\"")
    utf8 = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert unquote(utf8) == "Quyết định phê duyệt 6631-QĐ-UBND.pdf"
    assert disposition.split('"')[1].isascii()
    assert len(PdfReader(io.BytesIO(resp.data)).pages) == ids["pages"]
    again = client.get(f"/documents/{ids['doc']}/file",
                       headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_page_image_is_a_rendered_png(client, ids):
    resp = client.get(f"/documents/{ids['doc']}/pages/1.png?dpi=72")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    img = Image.open(io.BytesIO(resp.data))
    assert abs(img.width - 595) <= 2 and abs(img.height - 842) <= 2  # A4 at 72 dpi
    assert "immutable" in resp.headers["Cache-Control"]
    assert client.get(f"/documents/{ids['doc']}/pages/{ids['pages'] + 1}.png").status_code == 404
    assert client.get(f"/documents/{ids['doc']}/pages/1.png?dpi=5000").status_code == 400


def _no_external(html: str) -> None:
    assert "http://" not in html and "https://" not in html


def test_library_page_lists_filters_and_pages(client):
    resp = client.get("/tai-lieu?per_page=3", headers=HTML)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="vi">' in html
    assert "Thư viện văn bản quy hoạch" in html and "Loại văn bản" in html
    assert "Cơ quan ban hành" in html and "Năm" in html
    assert 'rel="next"' in html and "Trang 1 /" in html
    _no_external(html)
    bad = client.get("/tai-lieu?year=abc", headers=HTML)
    assert bad.status_code == 400 and "phải là số nguyên" in bad.get_data(as_text=True)
    empty = client.get("/tai-lieu?q=khongtontaitrongthuvien", headers=HTML)
    assert "Không có văn bản nào" in empty.get_data(as_text=True)


def test_document_page_has_metadata_map_and_readable_pages(client, ids):
    html = client.get(f"/tai-lieu/{ids['doc']}", headers=HTML).get_data(as_text=True)
    assert "6631/QĐ-UBND" in html and "Cơ quan ban hành" in html
    assert 'id="outline-map"' in html
    data = re.search(r'<script type="application/json" id="outline-data">(.*?)</script>', html, re.S)
    fc = json.loads(data.group(1))
    assert fc["features"] and fc["features"][0]["properties"]["url"].startswith("/quy-hoach/")
    ring = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert all(105.28 < x < 106.02 and 20.56 < y < 21.39 for x, y in ring)  # EPSG:4326
    assert f"/documents/{ids['doc']}/pages/1.png" in html and 'id="trang-1"' in html
    assert "vendor/leaflet/leaflet.js" in html
    _no_external(html)
    ocr = client.get(f"/tai-lieu/{ids['ocr_doc']}?q=quyet dinh", headers=HTML)
    text_ = ocr.get_data(as_text=True)
    assert "nhận dạng tự động (OCR)" in text_ and "<mark>" in text_
    missing = client.get("/tai-lieu/987654321", headers=HTML)
    assert missing.status_code == 404 and "Không tìm thấy văn bản" in missing.get_data(as_text=True)


def test_plan_page_lists_its_documents_in_order(client, ids, demo):
    html = client.get(f"/quy-hoach/{ids['plan']}", headers=HTML).get_data(as_text=True)
    with db.session_scope(demo) as s:
        titles = s.execute(text(
            "SELECT d.title FROM plan_documents pd JOIN documents d ON d.id = pd.document_id"
            " WHERE pd.plan_id = :p ORDER BY pd.sort_order, d.issued_on, d.id"),
            {"p": ids["plan"]}).scalars().all()
    positions = [html.index(t) for t in titles]
    assert positions == sorted(positions) and len(titles) >= 2
    assert "Hồ sơ đồ án" in html and 'id="outline-map"' in html
    assert client.get("/quy-hoach/987654321", headers=HTML).status_code == 404


def test_search_page_works_without_javascript(client):
    html = client.get("/tim-kiem?q=6631", headers=HTML).get_data(as_text=True)
    assert "Số quyết định" in html and "<mark>6631</mark>" in html
    assert client.get("/tim-kiem", headers=HTML).status_code == 200


@pytest.mark.browser
def test_search_box_and_document_map_in_chromium(page, live_server, artifacts, ids):
    """The citizen's search box asks /api/search as they type; the document page draws its
    plans on the small map; nothing is fetched from outside the machine."""
    page.goto(f"{live_server}/tai-lieu")
    page.fill("#search-q", "quy hoach cau giay")
    page.wait_for_selector(".search-results li", timeout=10000)
    first = page.inner_html(".search-results li")
    assert "<mark>Cầu</mark>" in first
    page.screenshot(path=str(artifacts / "documents-search-box.png"))
    assert axe_violations(page, name="library-search") == []
    # A list of links (axe: an option may not hold a link): the arrows move the focus to them.
    page.press("#search-q", "ArrowDown")
    assert page.evaluate("document.activeElement.closest('.search-results li') !== null")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "search-q"
    page.goto(f"{live_server}/tai-lieu/{ids['doc']}")
    page.wait_for_function("() => document.getElementById('outline-map').dataset.outlines > 0",
                           timeout=10000)
    page.wait_for_function("() => document.querySelector('#trang-1 img').complete", timeout=10000)
    assert page.eval_on_selector("#trang-1 img", "img => img.naturalWidth") > 300
    page.screenshot(path=str(artifacts / "documents-document-page.png"), full_page=True)
    assert axe_violations(page, name="document") == []
    page.goto(f"{live_server}/quy-hoach/{ids['plan']}")
    page.wait_for_function("() => document.getElementById('outline-map').dataset.outlines > 0",
                           timeout=10000)
    assert axe_violations(page, name="plan") == []
    page.goto(f"{live_server}/tim-kiem?q=cau+giay")
    assert axe_violations(page, name="search-page") == []
    page.goto(f"{live_server}/tai-lieu")
    assert axe_violations(page, name="library") == []
    assert page.console_errors == []
    assert page.foreign_requests == []


@pytest.mark.browser
def test_document_page_on_a_360_px_phone(small_phone, live_server, artifacts, ids):
    """On a phone each page image is the full width, its text below it, and nothing is wider
    than the screen; the image opens at 200 dpi to zoom."""
    ph = small_phone
    ph.goto(f"{live_server}/tai-lieu/{ids['doc']}")
    ph.wait_for_function("() => document.querySelector('#trang-1 img').complete", timeout=10000)
    img = ph.locator("#trang-1 img").bounding_box()
    assert img["width"] >= 330, img
    text = ph.locator("#trang-1 .page-text").bounding_box()
    assert text["y"] >= img["y"] + img["height"] - 1 and text["width"] >= 330
    assert ph.evaluate("document.documentElement.scrollWidth") <= 360
    assert "dpi=200" in ph.get_attribute("#trang-1 .page-body > a", "href")
    ph.screenshot(path=str(artifacts / "documents-document-phone-360.png"), full_page=True)
    assert axe_violations(ph, name="document-phone") == []
    assert ph.console_errors == [] and ph.foreign_requests == []


def test_a_file_missing_from_our_store_is_a_500_with_a_reference(client, ids, demo):
    """It was a 404 (as if the document did not exist); the row exists, our file is gone."""
    with db.session_scope(demo) as s:
        old = s.execute(text("SELECT file_sha256 FROM documents WHERE id = :id"),
                        {"id": ids["doc"]}).scalar_one()
        s.execute(text("UPDATE documents SET file_sha256 = :sha WHERE id = :id"),
                  {"sha": "0" * 64, "id": ids["doc"]})
    try:
        for path in (f"/documents/{ids['doc']}/file", f"/documents/{ids['doc']}/pages/1.png"):
            r = client.get(path)
            assert r.status_code == 500, path
            assert r.get_json()["code"] == "stored_file_unreadable" and r.get_json()["ref"]
    finally:
        with db.session_scope(demo) as s:
            s.execute(text("UPDATE documents SET file_sha256 = :sha WHERE id = :id"),
                      {"sha": old, "id": ids["doc"]})
