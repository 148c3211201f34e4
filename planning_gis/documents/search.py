"""The one search of the service: plans, zones, documents, places and decision numbers, ranked.

Citizens type with or without diacritics ("quy hoach cau giay" must find "Quy hoạch Cầu Giấy"),
and clerks type decision numbers in every spelling ("1234/QĐ-UBND", "1234 qd ubnd"). Both sides
go through the same normalisation: ``public.f_search_norm`` in SQL (lower, ``unaccent``, non
alphanumerics to spaces) and :func:`fold` here, which gives the same letters one for one, so that
highlighted snippets can be cut from the *accented* text at the positions found in the folded one.

Named things (plans, zones, places, decision numbers) are looked up by SQL written once
(:data:`SEARCH_SQL`), parameterised, each branch answered from a GIN or btree index. Documents
are ranked by BM25 in the text index (:mod:`planning_gis.documents.text_index`): questions of a
whole sentence, any word of which may match, rare words weighing more than "là gì" or "có
không". Both lists are merged so that a query that *is* a number, a label or a name gets that
item first.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Connection, text

from planning_gis.documents.analysis import STOP_WORDS, QueryTerms, analyse_query, fold
from planning_gis.documents.text_index import TextIndex, for_connection
from planning_gis.errors import InvalidInput, NotReadyYet
from planning_gis.models import DOCUMENT_TYPES, PLAN_KINDS, UNIT_LEVELS

#: A question typed in full ("Thửa đất nằm trong chỉ giới đường đỏ có được cấp phép xây dựng
#: không?") is 60-300 characters; 1 000 leaves room for a pasted paragraph.
MAX_QUERY_CHARS = 1000
#: Queries with more words than this are questions, not names: the last word is not a prefix
#: and plans, zones and places are not looked up by all their words.
MAX_NAME_TERMS = 12
KINDS = ("plan", "zone", "document", "place", "decision")
#: Word similarity a name must reach to match without every word matching ("cau giy" finds
#: "Cầu Giấy" at 0.75; unrelated names sharing a word or two stay near 0.6).
FUZZY_NAME = 0.7
#: Close names are looked for in queries of up to this many words (a name typed with a typo);
#: a longer query is a question, which the document ranking answers. At city size, a question
#: that no plan name holds whole had its 8 words compared with 1,400 names (111 ms).
FUZZY_MAX_WORDS = 6
#: Documents ranked by the text index get ``DOCUMENT_TOP * bm25 / best bm25`` of the query: the
#: best document scores like a plan whose name the query fuzzily matches, below a plan or zone
#: the query names outright and below an exact decision number (2 + similarity).
DOCUMENT_TOP = 1.0


UNIT_LEVEL_VI = {
    "thanh_pho": "Thành phố", "quan": "Quận", "huyen": "Huyện", "thi_xa": "Thị xã",
    "phuong": "Phường", "xa": "Xã", "thi_tran": "Thị trấn",
}
assert set(UNIT_LEVEL_VI) == set(UNIT_LEVELS)


@dataclass(frozen=True)
class Query:
    """A parsed search: the folded words, the tsquery text, and the normalised string."""

    raw: str
    terms: tuple[str, ...]
    prefix_last: bool = True

    @property
    def ranked(self) -> QueryTerms:
        """The terms of the ranked document search (stop words out, pairs, accents)."""
        return analyse_query(self.raw)

    @property
    def highlight_terms(self) -> tuple[str, ...]:
        """The words to mark in titles and snippets: the content words of a query (marking
        every "là" and "có" of a page says nothing)."""
        content = [t for t in self.terms if t not in STOP_WORDS]
        return tuple(dict.fromkeys(content or self.terms))

    @property
    def norm(self) -> str:
        return " ".join(self.terms)

    @property
    def number_prefix(self) -> str | None:
        """``"1234 %"`` for the first all-digit word (a decision number's number), else None."""
        digits = next((t for t in self.terms if t.isdigit()), None)
        return f"{digits} %" if digits else None

    @property
    def tsquery(self) -> str:
        """``a & b & c:*``: every word, the last one as a prefix (the citizen is still typing)."""
        parts = list(self.terms)
        if self.prefix_last:
            parts[-1] += ":*"
        return " & ".join(parts)


def parse_query(raw: str | None) -> Query:
    """Check and fold the user's query, or InvalidInput with a message in both languages."""
    raw = unicodedata.normalize("NFC", (raw or "").strip())
    if not raw:
        raise InvalidInput("the query q is empty", message_vi="Hãy nhập từ khóa tìm kiếm (q)")
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the query is longer than {MAX_QUERY_CHARS} characters",
            message_vi=f"Từ khóa dài quá {MAX_QUERY_CHARS} ký tự",
        )
    terms = tuple(fold(raw).split())
    if not terms:
        raise InvalidInput("the query has no letters or digits",
                           message_vi="Từ khóa phải có chữ hoặc số")
    return Query(raw=raw, terms=terms, prefix_last=len(terms) <= MAX_NAME_TERMS)


# --- highlighting -------------------------------------------------------------------------------


def _term_patterns(terms: tuple[str, ...], prefix_last: bool = True) -> re.Pattern[str]:
    alts = []
    for i, term in enumerate(terms):
        tail = "[a-z0-9]*" if prefix_last and i == len(terms) - 1 else ""
        alts.append(re.escape(term) + tail)
    alts.sort(key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alts) + r")(?![a-z0-9])")


def find_matches(value: str, terms: tuple[str, ...],
                 prefix_last: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each word of ``value`` that matches a query term, accent-blind."""
    if not value or not terms:
        return []
    pattern = _term_patterns(terms, prefix_last)
    return [m.span() for m in pattern.finditer(fold(value))]


def highlight(value: str | None, terms: tuple[str, ...], prefix_last: bool = True) -> Markup:
    """``value`` as safe HTML with each matching word in ``<mark>``, accents kept."""
    if not value:
        return Markup("")
    value = unicodedata.normalize("NFC", value)
    out: list[str] = []
    pos = 0
    for start, end in find_matches(value, terms, prefix_last):
        out.append(str(escape(value[pos:start])))
        out.append(f"<mark>{escape(value[start:end])}</mark>")
        pos = end
    out.append(str(escape(value[pos:])))
    return Markup("".join(out))


def snippet(value: str | None, terms: tuple[str, ...], width: int = 240,
            prefix_last: bool = True) -> tuple[Markup, int]:
    """The ``width``-character window of ``value`` with the most distinct matching words.

    Returns (highlighted HTML, number of matches in the whole text); the window is widened to
    word boundaries and marked with "…" where it cuts the text.
    """
    if not value:
        return Markup(""), 0
    value = " ".join(unicodedata.normalize("NFC", value).split())
    matches = find_matches(value, terms, prefix_last)
    if not matches:
        cut = value[:width]
        return escape(cut) + (Markup("…") if len(value) > width else Markup("")), 0
    folded = fold(value)
    words = [folded[s:e] for s, e in matches]
    in_window: dict[str, int] = {}
    best_start, best_score, j = matches[0][0], -1, 0
    for i, (start, _end) in enumerate(matches):  # sliding window over the matches
        while j < len(matches) and matches[j][1] - start <= width:
            in_window[words[j]] = in_window.get(words[j], 0) + 1
            j += 1
        if len(in_window) > best_score:
            best_start, best_score = start, len(in_window)
        if j > i:
            in_window[words[i]] -= 1
            if not in_window[words[i]]:
                del in_window[words[i]]
    start = max(0, best_start - width // 4)
    while start > 0 and value[start - 1] != " ":
        start -= 1
    end = min(len(value), start + width)
    while end < len(value) and value[end] != " ":
        end += 1
    html = highlight(value[start:end], terms, prefix_last)
    if start > 0:
        html = Markup("…") + html
    if end < len(value):
        html = html + Markup("…")
    return html, len(matches)


# --- the search ---------------------------------------------------------------------------------

#: Ranked candidates from every kind at once. Each branch is answered from a GIN index and keeps
#: its best :per_kind rows; the outer query merges them by score. Scores: ts_rank with
#: normalisation 32 (rank/(rank+1), so 0..1) plus trigram word similarity for names and numbers,
#: and a bonus for an exact decision number. Decision numbers are found by their number (the
#: first all-digit word of the query, a prefix search on a btree index) and ranked by trigram
#: similarity of the whole number, so "1234 qd ubnd" puts 1234/QĐ-UBND before 1234/QĐ-TTg.
#: Documents themselves are not here: they are ranked by BM25 in the text index
#: (:mod:`planning_gis.documents.text_index`, any word may match) and merged in :func:`search`.
#: Plans and zones found by their words come first; a name or label close to the query (a typo:
#: "cau giy") is looked for only when no word match exists (the NOT EXISTS on the word matches,
#: computed once, is a one-time filter): at city size the trigram index offered 14,510 of the
#: 528,091 zone labels for "KĐT-O.1-TH1" and 1,505 of the 1,588 plan names for "quy hoạch phân
#: khu đô thị", each rechecked (325 and 47 ms) next to the exact matches the words had found.
SEARCH_SQL = text(
    """
    WITH plan_words AS MATERIALIZED (
      SELECT 'plan'::text AS kind, p.id,
             ts_rank(p.search_tsv, to_tsquery('simple', :tsq), 32) * 2
               + word_similarity(:norm, public.f_search_norm(p.name)) AS score
        FROM plans p
       WHERE p.search_tsv @@ to_tsquery('simple', :tsq)
       ORDER BY score DESC LIMIT :per_kind
    ), zone_words AS MATERIALIZED (
      SELECT 'zone'::text AS kind, z.id,
             ts_rank(z.search_tsv, to_tsquery('simple', :tsq), 32)
               + word_similarity(:norm, public.f_search_norm(z.label)) AS score
        FROM land_use_zones z
       WHERE z.search_tsv @@ to_tsquery('simple', :tsq)
       ORDER BY score DESC LIMIT :per_kind
    ), hits AS (
      (SELECT kind, id, score FROM plan_words)
      UNION ALL
      (SELECT 'plan', p.id, word_similarity(:norm, public.f_search_norm(p.name))
         FROM plans p
        WHERE NOT EXISTS (SELECT 1 FROM plan_words) AND CAST(:fuzzy AS float8) <= 1
          AND :norm <% public.f_search_norm(p.name)
          AND word_similarity(:norm, public.f_search_norm(p.name)) >= :fuzzy
        ORDER BY 3 DESC LIMIT :per_kind)
      UNION ALL
      (SELECT kind, id, score FROM zone_words)
      UNION ALL
      (SELECT 'zone', z.id, word_similarity(:norm, public.f_search_norm(z.label))
         FROM land_use_zones z
        WHERE NOT EXISTS (SELECT 1 FROM zone_words) AND CAST(:fuzzy AS float8) <= 1
          AND :norm <% public.f_search_norm(z.label)
          AND word_similarity(:norm, public.f_search_norm(z.label)) >= :fuzzy
        ORDER BY 3 DESC LIMIT :per_kind)
      UNION ALL
      (SELECT 'place', a.id,
              CASE WHEN a.search_tsv @@ to_tsquery('simple', :tsq)
                   THEN ts_rank(a.search_tsv, to_tsquery('simple', :tsq), 32) ELSE 0 END
                + similarity(:norm, public.f_search_norm(a.name)) * 2 AS score
         FROM admin_units a
        WHERE a.search_tsv @@ to_tsquery('simple', :tsq)
           OR (:norm <% public.f_search_norm(a.name)
               AND word_similarity(:norm, public.f_search_norm(a.name)) >= :fuzzy)
        ORDER BY score DESC LIMIT :per_kind)
      UNION ALL
      (SELECT 'decision', d.id,
              similarity(:norm, public.f_search_norm(d.number)) * 2
                + CASE WHEN public.f_search_norm(d.number) = :norm THEN 2 ELSE 0 END AS score
         FROM documents d
        WHERE public.f_search_norm(d.number) LIKE :number_prefix
        ORDER BY score DESC LIMIT :per_kind)
      UNION ALL
      (SELECT 'plan_decision', p.id,
              similarity(:norm, public.f_search_norm(p.decision_number)) * 2
                + CASE WHEN public.f_search_norm(p.decision_number) = :norm THEN 2 ELSE 0 END
         FROM plans p
        WHERE public.f_search_norm(p.decision_number) LIKE :number_prefix
        ORDER BY 3 DESC LIMIT :per_kind)
    )
    SELECT h.kind, h.id, h.score
      FROM hits h
     WHERE h.kind = ANY(:kinds)
     ORDER BY h.score DESC, h.kind, h.id
     LIMIT :limit
    """
)

PLANS_SQL = text(
    """
    SELECT p.id, p.name, p.kind, p.status, p.decision_number, p.decision_date,
           p.approving_body, p.description, p.scale_denominator,
           json_build_array(round(ST_XMin(b.e)::numeric, 6), round(ST_YMin(b.e)::numeric, 6),
                  round(ST_XMax(b.e)::numeric, 6), round(ST_YMax(b.e)::numeric, 6)) AS bbox
      FROM plans p
      LEFT JOIN LATERAL (SELECT Box2D(ST_Transform(p.geom, 4326)) AS e) b ON true
     WHERE p.id = ANY(:ids)
    """
)
ZONES_SQL = text(
    """
    SELECT z.id, z.label, z.function_code, z.name_vi AS function_vi, z.plan_id,
           z.plan_name, z.note, z.area_m2,
           json_build_array(round(ST_XMin(b.e)::numeric, 6), round(ST_YMin(b.e)::numeric, 6),
                  round(ST_XMax(b.e)::numeric, 6), round(ST_YMax(b.e)::numeric, 6)) AS bbox
      FROM zones_with_legend z
      LEFT JOIN LATERAL (SELECT Box2D(ST_Transform(z.geom, 4326)) AS e) b ON true
     WHERE z.id = ANY(:ids)
    """
)
DOCUMENTS_SQL = text(
    """
    SELECT d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title, d.page_count
      FROM documents d WHERE d.id = ANY(:ids)
    """
)
PAGES_SQL = text(
    """
    SELECT dp.document_id, dp.page_no, dp.text
      FROM document_pages dp
     WHERE dp.document_id = ANY(:ids)
     ORDER BY dp.document_id, dp.page_no
    """
)
PLACES_SQL = text(
    """
    SELECT a.id, a.name, a.level, a.valid_from, a.valid_to, s.id AS successor_id,
           s.name AS successor_name, s.level AS successor_level, par.name AS parent_name,
           json_build_array(round(ST_XMin(b.e)::numeric, 6), round(ST_YMin(b.e)::numeric, 6),
                  round(ST_XMax(b.e)::numeric, 6), round(ST_YMax(b.e)::numeric, 6)) AS bbox
      FROM admin_units a
      LEFT JOIN admin_units s ON s.id = a.successor_id
      LEFT JOIN admin_units par ON par.id = a.parent_id
      LEFT JOIN LATERAL (SELECT Box2D(ST_Transform(a.geom, 4326)) AS e) b ON true
     WHERE a.id = ANY(:ids)
    """
)


@dataclass
class SearchHit:
    """One ranked result, ready for JSON and for the search box."""

    kind: str
    id: int
    score: float
    title: str
    title_html: str
    url: str
    subtitle: str = ""
    snippet_html: str = ""
    page_no: int | None = None
    bbox: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "id": self.id, "score": round(self.score, 4),
            "title": self.title, "title_html": self.title_html, "subtitle": self.subtitle,
            "snippet_html": self.snippet_html, "page": self.page_no, "url": self.url,
            "bbox": self.bbox, **self.extra,
        }


def _unit_title(name: str, level: str | None) -> str:
    """"Phường Nghĩa Đô": the level word in front unless the name already carries it."""
    word = UNIT_LEVEL_VI.get(level or "", "")
    if not word or fold(name).startswith(fold(word) + " "):
        return name
    return f"{word} {name}"


def _date_vi(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def run_search_sql(conn: Connection, query: Query, *, limit: int = 20,
                   kinds: tuple[str, ...] = KINDS) -> list[tuple[str, int, float]]:
    """The ranked (kind, id, score) rows of :data:`SEARCH_SQL` (the part the bench times)."""
    sql_kinds = list(kinds) + (["plan_decision"] if "decision" in kinds else [])
    rows = conn.execute(SEARCH_SQL, {
        "tsq": query.tsquery, "norm": query.norm, "per_kind": limit * 2,
        "limit": limit * 2, "kinds": sql_kinds,
        # above 1 no similarity qualifies, and the branches' one-time filter skips them
        "fuzzy": FUZZY_NAME if len(query.terms) <= FUZZY_MAX_WORDS else 2.0,
        "number_prefix": query.number_prefix,
    }).all()
    return [(r.kind, r.id, float(r.score)) for r in rows]


def _index(conn: Connection, index: TextIndex | None) -> TextIndex:
    if index is not None:
        return index
    from planning_gis.settings import get_settings

    return for_connection(conn, get_settings().search_index_path)


def ranked_documents(conn: Connection, query: Query, *, limit: int = 20,
                     index: TextIndex | None = None) -> list[tuple[int, float]]:
    """(document id, score) of the documents the text index ranks best for ``query``."""
    hits, _ = _index(conn, index).search(query.ranked, limit=limit)
    if not hits:
        return []
    top = hits[0][1] or 1.0
    return [(ident, DOCUMENT_TOP * score / top) for ident, score in hits]


def search(conn: Connection, raw_query: str | None, *, limit: int = 20,
           kinds: tuple[str, ...] | None = None,
           index: TextIndex | None = None) -> dict[str, Any]:
    """Search everything; returns ``{"query", "terms", "results": [...]}`` ranked best first.

    A document found through its number appears once, as a ``decision``; a plan found through its
    approval decision appears as the plan itself, with the decision in its subtitle. ``index``
    is the text index to rank documents with (default: this node's, brought up to date).
    """
    query = parse_query(raw_query)
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100",
                           message_vi="limit phải từ 1 đến 100")
    kinds = tuple(kinds or KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InvalidInput(f"unknown kind(s) {', '.join(unknown)}; use {', '.join(KINDS)}",
                           message_vi=f"Loại kết quả không hợp lệ: {', '.join(unknown)}")
    rows = run_search_sql(conn, query, limit=limit, kinds=kinds)
    pending = False
    if "document" in kinds:
        try:
            rows += [("document", ident, score)
                     for ident, score in ranked_documents(conn, query, limit=limit, index=index)]
        except NotReadyYet:  # a new node's index of a large library: the rest still answers
            pending = True
    best: dict[tuple[str, int], tuple[str, float]] = {}
    for kind, ident, score in rows:
        target = {"plan_decision": "plan", "decision": "document"}.get(kind, kind)
        key = (target, ident)
        shown, best_score = best.get(key, (target, score))
        if kind == "decision":  # found by its number: show it as a decision, whatever ranked it
            shown = "decision"
        best[key] = (shown, max(score, best_score))
    ranked = sorted(best.items(), key=lambda kv: -kv[1][1])[:limit]
    ids: dict[str, list[int]] = {"plan": [], "zone": [], "document": [], "place": []}
    for (target, ident), _ in ranked:
        ids[target].append(ident)
    details = _details(conn, ids, query)
    results = []
    for (target, ident), (shown, score) in ranked:
        hit = details.get((target, ident))
        if hit is None:
            continue
        hit.kind = shown
        hit.score = score
        results.append(hit.as_json())
    missing = [ident for (target, ident), _ in ranked
               if target == "document" and (target, ident) not in details]
    if missing and "document" in kinds:  # indexed, then rolled back or deleted: drop them
        _index(conn, index).forget(missing)
    out = {"query": query.raw, "terms": list(query.highlight_terms), "results": results}
    if pending:
        out["notice"] = {
            "code": "documents_pending",
            "detail": "documents are left out: this server's document index is being built",
            "detail_vi": "Chưa tìm trong văn bản: chỉ mục văn bản của máy chủ đang được xây "
                         "dựng, vui lòng thử lại sau ít phút."}
    return out


_highlight = highlight
_snippet = snippet


def _details(conn: Connection, ids: dict[str, list[int]],
             query: Query) -> dict[tuple[str, int], SearchHit]:
    terms = query.highlight_terms
    highlight = partial(_highlight, prefix_last=query.prefix_last)
    snippet = partial(_snippet, prefix_last=query.prefix_last)
    out: dict[tuple[str, int], SearchHit] = {}
    if ids["plan"]:
        for r in conn.execute(PLANS_SQL, {"ids": ids["plan"]}):
            kind_vi = PLAN_KINDS.get(r.kind, (r.kind,))[0]
            sub = kind_vi
            if r.decision_number:
                sub += f" · QĐ {r.decision_number}"
                if r.decision_date:
                    sub += f" ngày {_date_vi(r.decision_date)}"
            snip, _ = snippet(r.description, terms)
            out[("plan", r.id)] = SearchHit(
                "plan", r.id, 0, r.name, str(highlight(r.name, terms)), f"/quy-hoach/{r.id}",
                subtitle=sub, snippet_html=str(snip), bbox=r.bbox,
                extra={"number": r.decision_number, "number_html": str(
                    highlight(r.decision_number, terms))},
            )
    if ids["zone"]:
        for r in conn.execute(ZONES_SQL, {"ids": ids["zone"]}):
            title = f"Ô đất {r.label}"
            sub = f"{r.function_vi or r.function_code} · {r.plan_name}"
            out[("zone", r.id)] = SearchHit(
                "zone", r.id, 0, title, str(highlight(title, terms)),
                f"/quy-hoach/{r.plan_id}#o-{r.id}", subtitle=sub,
                snippet_html=str(snippet(r.note, terms)[0]), bbox=r.bbox,
                extra={"plan_id": r.plan_id},
            )
    if ids["document"]:
        pages: dict[int, tuple[int, Markup, int]] = {}
        for r in conn.execute(PAGES_SQL, {"ids": ids["document"]}):
            html, count = snippet(r.text, terms)
            if r.document_id not in pages or count > pages[r.document_id][2]:
                pages[r.document_id] = (r.page_no, html, count)
        for r in conn.execute(DOCUMENTS_SQL, {"ids": ids["document"]}):
            type_vi = DOCUMENT_TYPES.get(r.doc_type, (r.doc_type,))[0]
            parts = [type_vi]
            if r.number:
                parts.append(f"số {r.number}")
            if r.issued_on:
                parts.append(f"ngày {_date_vi(r.issued_on)}")
            if r.issuer:
                parts.append(r.issuer)
            page_no, html, count = pages.get(r.id, (None, Markup(""), 0))
            url = f"/tai-lieu/{r.id}" + (f"#trang-{page_no}" if page_no and count else "")
            out[("document", r.id)] = SearchHit(
                "document", r.id, 0, r.title, str(highlight(r.title, terms)), url,
                subtitle=" · ".join(parts), snippet_html=str(html),
                page_no=page_no if count else None,
                extra={"number": r.number, "number_html": str(highlight(r.number, terms)),
                       "issued_on": r.issued_on.isoformat() if r.issued_on else None},
            )
    if ids["place"]:
        for r in conn.execute(PLACES_SQL, {"ids": ids["place"]}):
            title = _unit_title(r.name, r.level)
            sub_parts = []
            if r.parent_name:
                sub_parts.append(r.parent_name)
            if r.valid_to:
                note = f"tên cũ, đến {_date_vi(r.valid_to)}"
                if r.successor_name:
                    note += f"; nay là {_unit_title(r.successor_name, r.successor_level)}"
                sub_parts.append(note)
            out[("place", r.id)] = SearchHit(
                "place", r.id, 0, title, str(highlight(title, terms)),
                f"/?don-vi={r.id}", subtitle=" · ".join(sub_parts), bbox=r.bbox,
                extra={"historic": r.valid_to is not None, "successor_id": r.successor_id},
            )
    return out
