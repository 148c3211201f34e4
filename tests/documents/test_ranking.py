"""Ranked retrieval: questions in full, a word the document lacks, stop words, diacritics both
ways, exact look-ups first, filters, and the text index following the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import pytest
from sqlalchemy import text

from planning_gis.documents import analysis as A
from planning_gis.documents import library as L
from planning_gis.documents import search as S
from planning_gis.documents import text_index as ti
from planning_gis.models import DocumentPage, PlanDocument

pytestmark = pytest.mark.db


def _word() -> str:
    """A made-up syllable no other test's document has (the index is shared by the session)."""
    return "x" + uuid.uuid4().hex[:8]


def _doc(session, title: str, body: str, *, doc_type: str = "quy_dinh", number: str | None = None,
         issuer: str | None = "UBND Thành phố Hà Nội", issued_on: dt.date | None = None,
         plans=()) -> PlanDocument:
    row = PlanDocument(doc_type=doc_type, title=title, text=body, number=number, issuer=issuer,
                       issued_on=issued_on or dt.date(2020, 1, 1), is_fictional=True,
                       file_sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), file_size=1)
    row.plans = list(plans)
    row.pages = [DocumentPage(page_no=1, text=body, source="text")]
    session.add(row)
    session.flush()
    return row


def _doc_ids(result) -> list[int]:
    return [r["id"] for r in result["results"] if r["kind"] in ("document", "decision")]


# --- analysis -----------------------------------------------------------------------------------


def test_terms_are_folded_syllables_pairs_and_accented_forms():
    t = A.analyse("Chỉ giới đường đỏ, 1259/QĐ-TTg")
    assert t.words == ("chi", "gioi", "duong", "do", "1259", "qd", "ttg")
    assert t.pairs[:3] == ("chi_gioi", "gioi_duong", "duong_do")
    assert t.accented[:4] == ("chỉ", "giới", "đường", "đỏ")


def test_query_drops_question_words_but_keeps_their_pairs():
    q = A.analyse_query("Mật độ xây dựng tối đa của nhà liền kề là bao nhiêu?")
    assert "la" not in q.words and "cua" not in q.words
    assert {"mat", "do", "nha", "lien", "ke"} <= set(q.words)
    assert {"mat_do", "lien_ke", "bao_nhieu"} <= set(q.pairs)
    assert A.analyse_query("là gì").words == ("la", "gi")  # nothing else: keep them


def test_the_same_terms_with_and_without_diacritics_but_the_accents():
    a = A.analyse_query("Thửa đất nằm trong chỉ giới đường đỏ")
    b = A.analyse_query("thua dat nam trong chi gioi duong do")
    assert (a.words, a.pairs) == (b.words, b.pairs)
    assert b.accented == () and "đỏ" in a.accented


def test_queries_up_to_1000_characters_and_no_word_limit():
    long = ("Thửa đất của gia đình tôi nằm trong chỉ giới đường đỏ của tuyến đường quy hoạch "
            "thì có được cấp giấy phép xây dựng nhà ở riêng lẻ hay không? ") * 6
    assert 200 < len(long.strip()) <= 1000
    q = S.parse_query(long)
    assert len(q.terms) > 12 and not q.prefix_last
    with pytest.raises(S.InvalidInput):
        S.parse_query("a" * 1001)


# --- ranking ------------------------------------------------------------------------------------


def test_a_long_question_finds_the_article_even_with_words_it_lacks(conn, session):
    w = _word()
    target = _doc(session, f"Quy định {w} về chỉ giới đường đỏ",
                  f"Điều 5. Công trình {w} nằm trong chỉ giới đường đỏ không được cấp giấy phép "
                  "xây dựng mới; chỉ được sửa chữa, cải tạo tạm theo quy định.")
    _doc(session, f"Quy định {w} về cây xanh", f"Điều 7. Cây xanh {w} đường phố được trồng "
         "theo quy hoạch; không được chặt hạ khi chưa được cấp phép.")
    question = (f"Xin hỏi thửa đất {w} của gia đình tôi nằm trong chỉ giới đường đỏ thì có được "
                "cấp giấy phép xây dựng nhà ở kiên cố hay không, và nếu không thì thủ tục sửa "
                "chữa cải tạo như thế nào, cần những giấy tờ gì, nộp ở đâu?")
    assert len(question) > 200 and len(question.split()) > 12
    ids = _doc_ids(S.search(conn, question, kinds=("document",)))
    assert ids[0] == target.id  # "kiên cố", "thủ tục", "nộp" are in neither document


def test_question_words_do_not_pull_in_long_definition_articles(conn, session):
    w = _word()
    filler = " ".join(f"Khái niệm {i} là gì, có được hay không, là như thế nào." for i in range(60))
    _doc(session, f"Giải thích từ ngữ {w}", f"{w}. {filler}")
    target = _doc(session, f"Mật độ xây dựng {w}",
                  f"Mật độ xây dựng tối đa của nhà liền kề {w} là 90% với lô đất dưới 100 m2.")
    ids = _doc_ids(S.search(conn, f"Mật độ xây dựng tối đa nhà liền kề {w} là gì, có được "
                                  "hay không?", kinds=("document",)))
    assert ids[0] == target.id


def test_same_ranking_without_diacritics_and_accents_preferred_when_typed(conn, session):
    w = _word()
    # The same words but one accent: only the accent can order them.
    lake = _doc(session, f"Quy định về hồ {w}", f"Hồ {w} được giữ nguyên, không san lấp hồ.")
    house = _doc(session, f"Quy định về hộ {w}", f"Hộ {w} được giữ nguyên, không san lấp hộ.")
    accented = _doc_ids(S.search(conn, f"hồ {w}", kinds=("document",)))
    assert accented[:2] == [lake.id, house.id]
    assert _doc_ids(S.search(conn, f"hộ {w}", kinds=("document",)))[:2] == [house.id, lake.id]
    q = f"Hồ {w} được giữ làm hồ điều hòa không"
    assert _doc_ids(S.search(conn, q, kinds=("document",)))[0] == lake.id
    # without accents the two are the same words: both found first, in either order (a tie,
    # broken by where the index stored them, which depends on what else it holds)
    plain = S.search(conn, S.fold(q), kinds=("document",))
    assert set(_doc_ids(plain)[:2]) == {lake.id, house.id}


def test_decision_number_and_zone_label_come_first_over_documents_citing_them(conn, session,
                                                                              demo):
    number = conn.execute(text("SELECT number FROM documents WHERE number IS NOT NULL "
                               "ORDER BY id LIMIT 1")).scalar()
    for i in range(3):  # documents that only cite the number, again and again
        _doc(session, f"Văn bản dẫn chiếu {i} quyết định {number}", f"Căn cứ {number}. " * 20)
    top = S.search(conn, number)["results"][0]
    assert top["kind"] == "decision" and top["number"] == number
    label = conn.execute(text("SELECT label FROM land_use_zones GROUP BY label "
                              "HAVING count(*) = 1 ORDER BY label LIMIT 1")).scalar()
    _doc(session, f"Thuyết minh ô đất {label}", f"Ô đất {label}: " * 30)
    top = S.search(conn, label)["results"][0]
    assert top["kind"] == "zone" and top["title"].endswith(label)


def test_snippet_marks_the_question_words_in_the_matching_passage(conn, session):
    w = _word()
    body = "Mở đầu văn bản. " * 60 + f"Khoảng lùi tối thiểu {w} là 6 m so với chỉ giới đường đỏ."
    doc = _doc(session, f"Quy định {w}", body)
    hit = next(r for r in S.search(conn, f"khoảng lùi {w} tối thiểu là bao nhiêu mét?")["results"]
               if r["id"] == doc.id)
    assert "<mark>lùi</mark>" in hit["snippet_html"] and f"<mark>{w}</mark>" in hit["snippet_html"]
    assert "<mark>là</mark>" not in hit["snippet_html"]  # a question word: not marked


# --- filters ------------------------------------------------------------------------------------


def test_library_ranks_by_words_and_keeps_every_filter(conn, session, plan):
    w = _word()
    best = _doc(session, f"Quyết định {w} {w} phê duyệt", f"{w} chỉ giới đường đỏ {w}",
                doc_type="quyet_dinh", issued_on=dt.date(2015, 3, 1), plans=[plan])
    other = _doc(session, f"Thuyết minh {w}", f"Nhắc {w} một lần, cây xanh.",
                 doc_type="thuyet_minh", issued_on=dt.date(2021, 3, 1), issuer="Sở Quy hoạch")
    everything = L.list_documents(conn, L.LibraryFilters(q=f"{w} chỉ giới"))
    assert [d["id"] for d in everything["items"]][:2] == [best.id, other.id]
    assert everything["total"] >= 2  # any word may match: "chỉ giới" is in other documents
    assert L.list_documents(conn, L.LibraryFilters(q=w))["total"] == 2
    for filters, expect in (({"doc_type": "thuyet_minh"}, other.id), ({"year": 2015}, best.id),
                            ({"plan_id": plan.id}, best.id),
                            ({"issuer": "Sở Quy hoạch"}, other.id)):
        page = L.list_documents(conn, L.LibraryFilters.checked(q=w, **filters))
        assert [d["id"] for d in page["items"]] == [expect], filters
        assert page["total"] == 1
    second = L.list_documents(conn, L.LibraryFilters(q=w, per_page=1, page=2))
    assert [d["id"] for d in second["items"]] == [other.id] and second["pages"] == 2
    assert second["next_args"] is None and page["next_after"] is None  # ranked: by number


# --- the index follows the database -------------------------------------------------------------


def test_changes_are_logged_and_replayed(conn, session):
    w = _word()
    doc = _doc(session, f"Văn bản {w}", "Nội dung ban đầu.")
    assert _doc_ids(S.search(conn, w, kinds=("document",))) == [doc.id]
    logged = conn.execute(text("SELECT count(*) FROM document_index_log WHERE document_id = :i"),
                          {"i": doc.id}).scalar()
    assert logged >= 1
    w2 = _word()
    doc.title = f"Văn bản {w2}"
    session.flush()
    assert _doc_ids(S.search(conn, w2, kinds=("document",))) == [doc.id]
    assert _doc_ids(S.search(conn, w, kinds=("document",))) == []
    session.delete(doc)
    session.flush()
    assert _doc_ids(S.search(conn, w2, kinds=("document",))) == []


def test_a_rolled_back_document_leaves_no_result(engine, settings):
    w = _word()
    with engine.connect() as c:
        c.execute(text(
            "INSERT INTO documents (doc_type, title, text, file_sha256, file_size, is_fictional)"
            " VALUES ('quy_dinh', :t, :t, :sha, 1, true)"),
            {"t": f"Tạm {w}", "sha": hashlib.sha256(w.encode()).hexdigest()})
        assert len(_doc_ids(S.search(c, w, kinds=("document",)))) == 1
        c.rollback()
    with engine.connect() as c:
        assert _doc_ids(S.search(c, w, kinds=("document",))) == []
        index = ti.text_index(settings.search_index_path)
        assert index.search(A.analyse_query(w))[1] == 0  # forgotten, not only hidden


def test_a_lost_index_is_rebuilt_from_the_database(conn, session, tmp_path):
    w = _word()
    doc = _doc(session, f"Văn bản {w}", "Nội dung.")
    fresh = ti.TextIndex(tmp_path / "node-2")  # another node, or this one after losing its disk
    fresh.sync(conn)
    assert [i for i, _ in fresh.search(A.analyse_query(w))[0]] == [doc.id]
    state = json.loads((tmp_path / "node-2" / "state.json").read_text())
    assert state["seq"] >= 1 and state["version"] == ti.INDEX_VERSION


def test_explain_the_sync_check_and_replay_use_their_indexes(conn):
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plans = ""
    for sql, params in ((ti.CHECK_SQL, {"seq": 1, "cap": 10}),
                        (ti.CHANGES_SQL, {"seq": 1, "xid": 1, "xmin": 2})):
        plans += json.dumps(conn.execute(text("EXPLAIN (FORMAT JSON) " + sql.text),
                                         params).scalar())
    assert "pk_document_index_log" in plans or "document_index_log_pkey" in plans
    assert "ix_document_index_log_txid" in plans


def test_a_request_never_builds_a_large_library_s_index(conn, session, tmp_path, monkeypatch,
                                                       client):
    """At city size the first build took 69 s: a request must not hold a thread for it. It
    answers without documents (the search) or with a 503 to retry (the ranked library); the
    job worker builds the index (``ensure``), after which the same request finds them."""
    from planning_gis.errors import NotReadyYet

    w = _word()
    doc = _doc(session, f"Văn bản {w}", "Nội dung.")
    monkeypatch.setattr(ti, "INLINE_BUILD_MAX", 0)  # every library counts as large here
    node = tmp_path / "new-node"
    from planning_gis.settings import Settings

    monkeypatch.setattr(Settings, "search_index_path", property(lambda self: node))
    with pytest.raises(NotReadyYet):
        ti.for_connection(conn, node)
    pending = S.search(conn, w)
    assert pending["notice"]["code"] == "documents_pending" and pending["notice"]["detail_vi"]
    assert _doc_ids(pending) == []
    with pytest.raises(NotReadyYet):
        L.list_documents(conn, L.LibraryFilters(q=w))
    busy = client.get("/api/documents?q=quy+hoạch")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
    assert busy.get_json()["code"] == "not_ready" and busy.get_json()["detail_vi"]
    assert client.get("/api/search?q=quy+hoạch").get_json()["notice"]["code"] == \
        "documents_pending"
    ti.ensure(conn, node)  # the worker, when idle
    assert _doc_ids(S.search(conn, w)) == [doc.id] and "notice" not in S.search(conn, w)


def test_a_request_does_not_wait_for_another_process_building(conn, session, tmp_path):
    import fcntl

    _doc(session, "Văn bản chờ", "Nội dung.")
    index = ti.TextIndex(tmp_path / "busy")
    (tmp_path / "busy").mkdir()
    with open(tmp_path / "busy" / "lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker process is building
        from planning_gis.errors import NotReadyYet

        with pytest.raises(NotReadyYet):
            index.sync(conn, inline=True)
        fcntl.flock(held, fcntl.LOCK_UN)
    index.sync(conn, inline=True)  # small library, lock free: built in the request
    assert index.search(A.analyse_query("chờ"))[1] >= 1
