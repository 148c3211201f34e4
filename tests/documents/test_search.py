"""The one search: with and without diacritics, decision numbers, old place names, snippets,
and the GIN indexes that answer it (shown with EXPLAIN)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import text

from planning_gis.documents import search as S
from planning_gis.documents.store import DocumentMetadata
from planning_gis.errors import InvalidInput
from planning_gis.models import AdminUnit, LandUseZone

pytestmark = pytest.mark.db

SAMPLES = [
    "Quy hoạch phân khu đô thị Cầu Giấy",
    "QUYẾT ĐỊNH số 1234/QĐ-UBND của ỦY BAN NHÂN DÂN",
    "Phường Nghĩa Đô, quận Đống Đa; Thị trấn Trâu Quỳ",
    "ô đất C.3-2: mật độ xây dựng 40%, tầng cao 5–9 tầng, hệ số 2,5 lần",
    "Ỷ Lan, Ỹ, Ự, Ằ, Ẵ, Ặ, Ễ, Ộ, Ớ, Ợ, Ữ, Ỳ",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_python_fold_agrees_with_postgres_f_search_norm(conn, sample):
    sql = conn.execute(text("SELECT public.f_search_norm(:s)"), {"s": sample}).scalar()
    assert " ".join(S.fold(sample).split()) == sql
    assert len(S.fold(sample)) == len(sample)


def test_parse_query_and_tsquery():
    q = S.parse_query("  Quy hoạch Cầu Giấy ")
    assert q.terms == ("quy", "hoach", "cau", "giay")
    assert q.tsquery == "quy & hoach & cau & giay:*"
    assert S.parse_query("1234/QĐ-UBND").terms == ("1234", "qd", "ubnd")
    assert S.parse_query("QĐ 1234 UBND").number_prefix == "1234 %"
    assert q.number_prefix is None


@pytest.mark.parametrize("bad, words", [
    ("", "Hãy nhập"), ("   ", "Hãy nhập"), ("!!! ---", "phải có chữ"),
    ("x" * 1001, "dài quá 1000"),
])
def test_bad_queries_are_refused_clearly(bad, words):
    with pytest.raises(InvalidInput) as err:
        S.parse_query(bad)
    assert words in err.value.message_vi


def test_highlight_keeps_accents_and_escapes_html():
    html = S.highlight("<b>Quy hoạch</b> Cầu Giấy & Đống Đa", ("cau", "giay", "dong"))
    assert html == ("&lt;b&gt;Quy hoạch&lt;/b&gt; <mark>Cầu</mark> <mark>Giấy</mark> &amp; "
                    "<mark>Đống</mark> Đa")


def test_snippet_picks_the_window_with_the_query_words():
    body = "Mở đầu. " * 80 + "Điều 5. Mật độ xây dựng tối đa 40% tại ô đất C.3-2." + " Kết." * 80
    html, count = S.snippet(body, ("mat", "do", "xay"), width=120)
    assert count >= 3
    assert "<mark>Mật</mark> <mark>độ</mark> <mark>xây</mark>" in html
    assert html.startswith("…") and html.endswith("…") and len(html) < 400


def _kinds_ids(result):
    return [(r["kind"], r["id"]) for r in result["results"]]


def test_plan_is_found_with_and_without_diacritics(conn, demo):
    pid = conn.execute(text("SELECT id FROM plans WHERE name LIKE '%Tây Nam Cầu Giấy%'")).scalar()
    for q in ("Quy hoạch Tây Nam Cầu Giấy", "quy hoach tay nam cau giay", "QUY HOACH TAY NAM CAU GI"):
        result = S.search(conn, q)
        assert result["results"][0]["kind"] == "plan" and result["results"][0]["id"] == pid, q
        assert "<mark>Cầu</mark>" in result["results"][0]["title_html"]


def test_decision_number_in_any_spelling_comes_first(conn, demo):
    for q in ("6631/QĐ-UBND", "6631/qđ-ubnd", "6631 QD UBND", "6631/QD-UBND"):
        top = S.search(conn, q)["results"][:2]
        assert {r["kind"] for r in top} == {"decision", "plan"}, q
        assert all("6631/QĐ-UBND" in (r["number"] or "") for r in top)


def test_document_text_is_searched_and_the_snippet_names_the_page(conn, session, store,
                                                                  make_pdf, plan):
    path = make_pdf(paragraphs=("Trang đầu không có gì đặc biệt ở đây cả.",),
                    scanned=(("Khu vực hồ Thành Công được giữ làm công viên cây xanh.",),))
    doc = store.add_document(session, path, DocumentMetadata(
        doc_type="thuyet_minh", title="Thuyết minh tổng hợp khu vực thử nghiệm",
        issued_on=dt.date(2019, 5, 2)), [plan.id])
    session.flush()
    result = S.search(conn, "ho thanh cong")
    hit = next(r for r in result["results"] if r["kind"] == "document" and r["id"] == doc.id)
    assert hit["page"] == 2  # the scanned page, read by OCR
    assert "<mark>hồ</mark> <mark>Thành</mark> <mark>Công</mark>" in hit["snippet_html"]
    assert hit["url"] == f"/tai-lieu/{doc.id}#trang-2"


def test_old_place_name_still_finds_the_unit_and_says_what_it_is_now(conn, session):
    new = AdminUnit(name="Phường Thử Nghiệm Mới", level="phuong", valid_from=dt.date(2025, 7, 1),
                    is_fictional=True)
    session.add(new)
    session.flush()
    old = AdminUnit(name="Xã Cổ Thử Nghiệm", level="xa", valid_from=dt.date(1999, 1, 1),
                    valid_to=dt.date(2025, 6, 30), successor_id=new.id, is_fictional=True,
                    geom=from_shape(MultiPolygon([box(585000, 2326000, 586000, 2327000)]), 5897))
    session.add(old)
    session.flush()
    result = S.search(conn, "xa co thu nghiem", kinds=("place",))
    top = result["results"][0]
    assert (top["kind"], top["id"]) == ("place", old.id)
    assert top["historic"] is True and "nay là Phường Thử Nghiệm Mới" in top["subtitle"]
    minx, miny, maxx, maxy = top["bbox"]
    assert 105.28 < minx < maxx < 106.02 and 20.56 < miny < maxy < 21.39


def test_zone_label_and_a_typo_in_a_name(conn, session, plan):
    session.add(LandUseZone(plan_id=plan.id, label="TN.9-77", function_code="CX",
                            geom=from_shape(MultiPolygon([box(585010, 2326010, 585100, 2326100)]),
                                            5897)))
    session.flush()
    assert ("zone" in {r["kind"] for r in S.search(conn, "TN.9-77")["results"]})
    typo = S.search(conn, "lang haa thu nghiem")  # one letter too many: trigram similarity
    assert plan.id in [r["id"] for r in typo["results"] if r["kind"] == "plan"]


def test_kinds_and_limit_are_validated(conn, demo):
    with pytest.raises(InvalidInput):
        S.search(conn, "quy hoach", kinds=("plan", "bogus"))
    with pytest.raises(InvalidInput):
        S.search(conn, "quy hoach", limit=0)
    assert len(S.search(conn, "quy hoach", limit=3)["results"]) <= 3


def _plan_json(conn, sql, params):
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    doc = conn.execute(text("EXPLAIN (FORMAT JSON) " + sql.text), params).scalar()
    return json.dumps(doc)


def test_explain_shows_every_branch_uses_its_index(conn, demo):
    """With sequential scans priced out (the test tables are tiny), the planner can answer every
    branch of SEARCH_SQL from an index (GIN for words and names, btree prefix for decision
    numbers): if an expression drifted from its index, it could not."""
    plans = ""
    for raw in ("quy hoach cau giay", "6631/QĐ-UBND"):
        q = S.parse_query(raw)
        params = {"tsq": q.tsquery, "norm": q.norm, "per_kind": 40, "limit": 40, "fuzzy": 0.7,
                  "number_prefix": q.number_prefix,
                  "kinds": list(S.KINDS) + ["plan_decision"]}
        plan = _plan_json(conn, S.SEARCH_SQL, params)
        assert '"Seq Scan"' not in plan
        plans += plan
    for index in ("ix_plans_search_tsv", "ix_plans_name_trgm", "ix_land_use_zones_search_tsv",
                  "ix_land_use_zones_label_trgm", "ix_admin_units_search_tsv",
                  "ix_admin_units_name_trgm", "ix_documents_number_prefix",
                  "ix_plans_decision_number_prefix"):
        assert index in plans, index


def test_close_names_are_looked_for_only_when_no_word_matches(conn, demo):
    """A label or name close to the query (a typo) is a fallback: when the words match, the
    trigram branches do not run (at city size they rechecked 14,510 labels for one query)."""
    def trigram_scans(raw: str) -> list[str]:
        q = S.parse_query(raw)
        fuzzy = S.FUZZY_NAME if len(q.terms) <= S.FUZZY_MAX_WORDS else 2.0  # as run_search_sql
        params = {"tsq": q.tsquery, "norm": q.norm, "per_kind": 40, "limit": 40, "fuzzy": fuzzy,
                  "number_prefix": q.number_prefix, "kinds": list(S.KINDS)}
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = [r[0] for r in conn.execute(
            text("EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + S.SEARCH_SQL.text), params)]
        return [line for line in plan if "_trgm" in line and ("plans" in line or "zones" in line)]

    exact = trigram_scans("quy hoạch phân khu")  # plan names match by their words
    assert exact and all("never executed" in line for line in exact if "plans" in line), exact
    # a question no name holds whole: the document ranking answers it, no name is compared
    # (the branches' one-time filter is constant for the planner: they may be gone altogether)
    question = trigram_scans("điều chỉnh cục bộ quy hoạch chi tiết khu nhà ở")
    assert all("never executed" in line for line in question), question
    typo = trigram_scans("phan khu cau giy")  # a typo: no plan has every word, names compared
    assert any("never executed" not in line for line in typo if "plans" in line), typo
    typo = S.search(conn, "phan khu cau giy quy hoach", kinds=("plan",))
    assert typo["results"]
    assert S.search(conn, "cau giy", kinds=("place",))["results"]
