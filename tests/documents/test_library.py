"""The library: filters, numbered pages for the first rows, keyset pages (``after=``) deeper,
the total counted up to a cap, and the indexes that answer it (shown with EXPLAIN)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from planning_gis.documents import library as L
from planning_gis.errors import InvalidInput
from planning_gis.web.params import library_filters

pytestmark = pytest.mark.db

#: 3,000 generated documents: 40 share each date (ties broken by id), every 97th is undated.
MANY = 3000

_MANY_SQL = text("""
INSERT INTO documents (doc_type, number, issued_on, issuer, title, file_sha256, file_size,
                       is_fictional)
SELECT (ARRAY['quyet_dinh','thuyet_minh','quy_dinh','ban_ve','dieu_chinh'])[1 + g % 5],
       g || '/QĐ-TEST', CASE WHEN g % 97 = 0 THEN NULL ELSE DATE '2000-01-01' + g / 40 END,
       'Cơ quan thử ' || g % 3, 'Văn bản thử số ' || g,
       md5('library ' || g) || md5(g::text), 1000 + g, TRUE
FROM generate_series(1, :n) AS g
""")


@pytest.fixture
def many(conn):
    conn.execute(_MANY_SQL, {"n": MANY})
    conn.execute(text("ANALYZE documents"))
    return conn


def _plan(conn, sql, params) -> str:
    return json.dumps(conn.execute(text("EXPLAIN (FORMAT JSON) " + sql.text), params).scalar())


def _expected_order(conn, where: str = "TRUE") -> list[int]:
    return conn.execute(text(f"SELECT id FROM documents d WHERE {where} "
                             "ORDER BY issued_on DESC NULLS LAST, id DESC")).scalars().all()


def _walk(conn, filters: L.LibraryFilters, count_cap: int = L.COUNT_CAP) -> list[int]:
    """Every page by its next cursor, as a client following the links would."""
    seen: list[int] = []
    for _ in range(10_000):
        page = L.list_documents(conn, filters, count_cap)
        seen += [d["id"] for d in page["items"]]
        if page["next_after"] is None:
            return seen
        filters = library_filters(page["next_args"])
    raise AssertionError("the next links never ended")


def test_next_links_walk_every_document_once_in_order_across_ties_and_undated(many):
    expected = _expected_order(many)
    assert len(expected) >= MANY and any(d is None for d in many.execute(
        text("SELECT issued_on FROM documents")).scalars())
    assert _walk(many, L.LibraryFilters(per_page=100)) == expected
    # with a filter, and a page size that splits the 40-document dates
    issuer = "Cơ quan thử 1"
    assert _walk(many, L.LibraryFilters(issuer=issuer, per_page=7)) == _expected_order(
        many, f"issuer = '{issuer}'")


def test_first_page_by_number_equals_the_first_keyset_page(many):
    by_number = L.list_documents(many, L.LibraryFilters(per_page=20, page=3))
    cursor = None
    for _ in range(3):
        page = L.list_documents(many, L.LibraryFilters(per_page=20, after=cursor))
        cursor = L.Cursor.parse(page["next_after"])
    assert [d["id"] for d in by_number["items"]] == [d["id"] for d in page["items"]]
    assert by_number["page"] == 3 and page["page"] is None


def test_total_is_exact_up_to_the_cap_and_omitted_past_it(many):
    exact = L.list_documents(many, L.LibraryFilters(doc_type="ban_ve"))
    n = many.execute(text("SELECT count(*) FROM documents WHERE doc_type = 'ban_ve'")).scalar()
    assert exact["total"] == n and exact["total_more_than"] is None
    assert exact["pages"] == -(-n // 20)
    capped = L.list_documents(many, L.LibraryFilters(), count_cap=500)
    assert capped["total"] is None and capped["total_more_than"] == 500
    assert capped["pages"] is None and len(capped["items"]) == 20
    at_cap = L.list_documents(many, L.LibraryFilters(doc_type="ban_ve"), count_cap=n)
    assert at_cap["total"] == n


def test_deep_numbered_pages_and_bad_cursors_are_refused_with_a_message():
    with pytest.raises(InvalidInput) as deep:
        library_filters({"page": str(L.MAX_OFFSET // 20 + 2)})
    assert "after=" in str(deep.value)
    for bad in ("abc", "2024-13-01.5", "2024-01-01", "-.x", "2024-01-01.99999999999",
                "2024-01-01.5;DROP"):
        with pytest.raises(InvalidInput):
            library_filters({"after": bad})
    with pytest.raises(InvalidInput):
        library_filters({"after": "2024-01-01.5", "page": "2"})
    assert library_filters({"after": "-.12"}).after == L.Cursor(None, 12)


def test_explain_a_deep_page_reads_the_date_index_and_the_count_stops_at_the_cap(many):
    page_sql, count_sql = L.library_sql(frozenset())
    params = {"limit": 21, "offset": 0, "after_date": dt.date(2000, 2, 1), "after_id": 1200}
    plan = "\n".join(r[0] for r in many.execute(text("EXPLAIN " + page_sql.text), params))
    # the dated part starts at the cursor in the index and reads it in order: no sort, no bitmap
    lines = plan.splitlines()
    at = next(i for i, line in enumerate(lines) if "ROW(issued_on, id) <" in line)
    assert "Index Scan using ix_documents_issued_on" in lines[at - 1], plan
    assert "Bitmap" not in plan and "top-N" not in plan, plan
    counted = many.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + count_sql.text),
                           {**params, "cap": 100}).scalar()
    limit = counted[0]["Plan"]["Plans"][0]
    assert limit["Node Type"] == "Limit" and limit["Actual Rows"] == 101


def test_explain_a_plans_documents_start_from_plan_documents(many):
    """A plan's documents come from ``plan_documents`` (before, one statement with every filter
    switched off by NULL read the whole date index); words go to the text index (test_ranking)."""
    plan_id = many.execute(text(
        "INSERT INTO plans (name, kind, status, is_fictional) VALUES ('Đồ án thử', 'chi_tiet', "
        "'approved', TRUE) RETURNING id")).scalar_one()
    many.execute(text("INSERT INTO plan_documents (plan_id, document_id, sort_order) "
                      "SELECT :p, id, id FROM documents WHERE number LIKE '%77/QĐ-TEST'"),
                 {"p": plan_id})
    many.execute(text("ANALYZE plan_documents"))
    filters = L.LibraryFilters(plan_id=plan_id, per_page=100)
    page_sql, _ = L.library_sql(frozenset(L.filter_params(filters)))
    params = {**L.filter_params(filters), "limit": 101, "offset": 0, "after_date": None,
              "after_id": None}
    # the plan's rows first, then each document by its key (not the whole date index probed)
    assert '"Index Name": "pk_documents"' in _plan(many, page_sql, params)
    assert _walk(many, filters) == _expected_order(
        many, f"id IN (SELECT document_id FROM plan_documents WHERE plan_id = {plan_id})")


def test_words_page_by_number_through_the_text_index(conn, demo):
    ranked = L.list_documents(conn, L.LibraryFilters(q="quyết định phê duyệt", per_page=2))
    assert ranked["items"] and ranked["page"] == 1 and ranked["next_after"] is None
    if ranked["total"] > 2:
        assert ranked["next_args"] == {"q": "quyết định phê duyệt", "per_page": 2, "page": 2}
    with pytest.raises(InvalidInput):
        L.list_documents(conn, L.LibraryFilters(q="quy hoạch", after=L.Cursor(None, 5)))


def test_library_filters_and_paging(conn, demo):
    everything = L.list_documents(conn, L.LibraryFilters(per_page=100))
    assert everything["total"] >= 6
    decisions = L.list_documents(conn, L.LibraryFilters(doc_type="quyet_dinh", per_page=100))
    assert decisions["items"] and all(d["doc_type"] == "quyet_dinh" for d in decisions["items"])
    year = int(decisions["items"][0]["issued_on"][:4])
    by_year = L.list_documents(conn, L.LibraryFilters(year=year, per_page=100))
    assert all(d["issued_on"].startswith(str(year)) for d in by_year["items"])
    page1 = L.list_documents(conn, L.LibraryFilters(per_page=2))
    page2 = L.list_documents(conn, L.LibraryFilters(per_page=2, page=2))
    assert page1["pages"] >= 3 and {d["id"] for d in page1["items"]}.isdisjoint(
        d["id"] for d in page2["items"])
    dates = [d["issued_on"] for d in everything["items"] if d["issued_on"]]
    assert dates == sorted(dates, reverse=True)
    words = L.list_documents(conn, L.LibraryFilters(q="quyet dinh phe duyet", per_page=100))
    assert words["total"] >= 1


def test_library_filters_are_validated():
    with pytest.raises(InvalidInput):
        library_filters({"type": "cong_van"})
    with pytest.raises(InvalidInput):
        library_filters({"year": "hai nghìn"})
    with pytest.raises(InvalidInput):
        library_filters({"per_page": "1000"})
    f = library_filters({"type": "quy_dinh", "year": "2015", "page": "2"})
    assert f.as_args(page=1) == {"type": "quy_dinh", "year": 2015}
