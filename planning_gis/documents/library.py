"""The library: every document, newest first, filtered and paged by keyset.

At city size (100,000 documents) a page found by ``OFFSET`` costs the rows before it, and a
``count(*) OVER ()`` on every page counted the whole match: page 5,000 of 20 read 100,000 rows.
Here a page starts after the last row of the page before (``after=``, a cursor of that row's
date and id read from the ``(issued_on DESC NULLS LAST, id DESC)`` index), so a deep page costs
what the first one costs, and the total is counted up to :data:`COUNT_CAP` rows: past it the
answer says "more than" instead of a number it would take longer to count than the page.
Numbered pages (``page=``) are still answered for the first :data:`MAX_OFFSET` rows, where an
offset is cheap, so that links and bookmarks keep working; deeper ones ask for the cursor.

With words (``q``), the library is ranked by the text index (BM25, any word may match; see
:mod:`planning_gis.documents.text_index`), best first, with the other filters inside the ranked
query; such pages are numbered (a rank has no keyset) within the same :data:`MAX_OFFSET`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

from planning_gis.documents.search import parse_query
from planning_gis.documents.text_index import Filters, TextIndex, for_connection
from planning_gis.errors import InvalidInput
from planning_gis.models import DOCUMENT_TYPES

#: The total is counted up to this many matching documents, and omitted past it.
COUNT_CAP = 10_000
#: Rows a numbered page may skip; deeper pages follow the ``next`` cursor.
MAX_OFFSET = 10_000

_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2}|-)\.(\d{1,10})")


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the document with this date (None: undated) and id."""

    issued_on: dt.date | None
    id: int

    def __str__(self) -> str:
        return f"{self.issued_on.isoformat() if self.issued_on else '-'}.{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        """A cursor from a ``next`` link (``2024-05-01.123``, or ``-.123`` after undated rows)."""
        m = _CURSOR.fullmatch(raw.strip())
        try:
            if m is None:
                raise ValueError(raw)
            day = dt.date.fromisoformat(m.group(1)) if m.group(1) != "-" else None
            return cls(day, int(m.group(2)))
        except ValueError:
            raise InvalidInput(
                f"after={raw[:40]!r} is not a library cursor: follow the answer's next link",
                message_vi="Tham số after không hợp lệ: hãy dùng liên kết trang sau") from None


@dataclass(frozen=True)
class LibraryFilters:
    """The library's filters, validated: type, issuer, year, plan, optional words, and where
    the page starts (a numbered ``page`` or the ``after`` cursor of a ``next`` link)."""

    doc_type: str | None = None
    issuer: str | None = None
    year: int | None = None
    plan_id: int | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 20
    after: Cursor | None = None

    @classmethod
    def checked(cls, *, doc_type: str | None = None, issuer: str | None = None,
                year: int | None = None, plan_id: int | None = None, q: str | None = None,
                page: int = 1, per_page: int = 20, after: str | None = None) -> LibraryFilters:
        """Filters whose type is known and whose words parse (the web layer parsed the numbers);
        empty strings mean "no filter"."""
        doc_type = (doc_type or "").strip() or None
        if doc_type is not None and doc_type not in DOCUMENT_TYPES:
            raise InvalidInput(
                f"unknown document type {doc_type!r}; use one of {', '.join(DOCUMENT_TYPES)}",
                message_vi=f"Loại văn bản không hợp lệ: {doc_type!r}",
            )
        q = (q or "").strip() or None
        if q is not None:
            parse_query(q)
        cursor = Cursor.parse(after) if (after or "").strip() else None
        if cursor is not None and page != 1:
            raise InvalidInput("give either page or after, not both",
                               message_vi="Chỉ dùng một trong hai tham số page hoặc after")
        if (page - 1) * per_page > MAX_OFFSET:
            raise InvalidInput(
                f"page {page} starts past document {MAX_OFFSET:,}: follow the next links "
                "(after=) to page deeper",
                message_vi=f"Trang {page} vượt quá {MAX_OFFSET:,} văn bản đầu: hãy dùng liên "
                           "kết “Trang sau” để xem tiếp")
        return cls(doc_type=doc_type,
                   issuer=unicodedata.normalize("NFC", (issuer or "").strip()) or None,
                   year=year, plan_id=plan_id, q=q, page=page, per_page=per_page, after=cursor)

    def as_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query-string arguments (for paging links)."""
        values = {"type": self.doc_type, "issuer": self.issuer, "year": self.year,
                  "plan": self.plan_id, "q": self.q, "page": self.page,
                  "per_page": self.per_page if self.per_page != 20 else None,
                  "after": str(self.after) if self.after else None}
        values.update(changes)
        if values.get("page") == 1:
            values["page"] = None
        return {k: v for k, v in values.items() if v not in (None, "")}


#: Each filter's condition. A statement holds only the filters in use (built from these fixed
#: fragments, never from input, once per combination): with every filter present and switched
#: off by NULL, the planner could not start from ``plan_documents`` for a plan's documents and
#: read the whole date index instead (335 ms for a plan's 63 documents among 100,000).
_FILTERS = {
    "doc_type": "d.doc_type = :doc_type",
    "issuer": "d.issuer = :issuer",
    "year_from": "d.issued_on >= :year_from AND d.issued_on < :year_to",
    "plan_id": "d.id IN (SELECT pd.document_id FROM plan_documents pd WHERE pd.plan_id = :plan_id)",
}

#: The rows of a ranked page, by the ids the text index gave.
RANKED_ROWS_SQL = text("SELECT d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title, "
                       "d.page_count, d.file_size FROM documents d WHERE d.id = ANY(:ids)")

_COLUMNS = ("d.id, d.doc_type, d.number, d.issued_on, d.issuer, d.title, d.page_count, "
            "d.file_size")


@lru_cache(maxsize=64)
def library_sql(active: frozenset[str]) -> tuple[TextClause, TextClause]:
    """The page and the capped count for a set of filters in use.

    The page is newest first and starts after the cursor: dated rows, then undated ones, each
    part read in the order of ``ix_documents_issued_on`` (whose ``DESC NULLS LAST`` the dated
    part repeats, or the planner sorts). Without a cursor, ``:offset`` skips rows. The count
    stops at ``:cap`` + 1 rows (one more says "more than the cap").
    """
    where = " AND ".join(["TRUE", *(_FILTERS[k] for k in sorted(active))])
    page = text(f"""
SELECT * FROM (
  (SELECT {_COLUMNS} FROM documents d
    WHERE d.issued_on IS NOT NULL AND {where}
      AND (CAST(:after_id AS integer) IS NULL
           OR (CAST(:after_date AS date) IS NOT NULL
               AND (d.issued_on, d.id) < (:after_date, :after_id)))
    ORDER BY d.issued_on DESC NULLS LAST, d.id DESC LIMIT :limit + :offset)
  UNION ALL
  (SELECT {_COLUMNS} FROM documents d
    WHERE d.issued_on IS NULL AND {where}
      AND (CAST(:after_id AS integer) IS NULL OR CAST(:after_date AS date) IS NOT NULL
           OR d.id < :after_id)
    ORDER BY d.id DESC LIMIT :limit + :offset)
) page
ORDER BY issued_on DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset
""")
    count = text(f"SELECT count(*) FROM (SELECT 1 FROM documents d WHERE {where} "
                 "LIMIT :cap + 1) n")
    return page, count


FACETS_SQL = text(
    """
    SELECT 'issuer' AS facet, issuer AS value, count(*) AS n FROM documents
     WHERE issuer IS NOT NULL GROUP BY issuer
    UNION ALL
    SELECT 'year', extract(year FROM issued_on)::int::text, count(*) FROM documents
     WHERE issued_on IS NOT NULL GROUP BY 2
    UNION ALL
    SELECT 'type', doc_type, count(*) FROM documents GROUP BY doc_type
    ORDER BY 1, 2
    """
)


def _date_vi(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def filter_params(filters: LibraryFilters) -> dict[str, Any]:
    """The bind parameters of the filters in use (their keys name the SQL fragments)."""
    values = {
        "doc_type": filters.doc_type, "issuer": filters.issuer,
        "year_from": dt.date(filters.year, 1, 1) if filters.year else None,
        "year_to": dt.date(filters.year + 1, 1, 1) if filters.year else None,
        "plan_id": filters.plan_id,
    }
    return {k: v for k, v in values.items() if v is not None}


def _item(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "doc_type": r.doc_type,
        "doc_type_vi": DOCUMENT_TYPES.get(r.doc_type, (r.doc_type,))[0],
        "number": r.number, "issued_on": r.issued_on.isoformat() if r.issued_on else None,
        "issued_on_vi": _date_vi(r.issued_on), "issuer": r.issuer, "title": r.title,
        "page_count": r.page_count, "file_size": r.file_size,
        "url": f"/tai-lieu/{r.id}", "file_url": f"/documents/{r.id}/file",
    }


def _ranked(conn: Connection, filters: LibraryFilters, index: TextIndex | None
            ) -> dict[str, Any]:
    """A numbered page of the documents the words find, best first (the text index ranks and
    counts; the rows come from PostgreSQL by id)."""
    if index is None:
        from planning_gis.settings import get_settings

        index = for_connection(conn, get_settings().search_index_path)
    hits, total = index.search(
        parse_query(filters.q).ranked, limit=filters.per_page,
        offset=(filters.page - 1) * filters.per_page,
        filters=Filters(doc_type=filters.doc_type, issuer=filters.issuer, year=filters.year,
                        plan_id=filters.plan_id))
    by_id = {r.id: r for r in conn.execute(RANKED_ROWS_SQL, {"ids": [i for i, _ in hits]})}
    pages = max(1, -(-total // filters.per_page))
    following = None
    if filters.page < pages and filters.page * filters.per_page < MAX_OFFSET:
        following = replace(filters, page=filters.page + 1)
    return {
        "total": total, "total_more_than": None, "page": filters.page, "pages": pages,
        "per_page": filters.per_page, "after": None, "next_after": None,
        "next_args": following.as_args() if following else None,
        "items": [_item(by_id[i]) for i, _ in hits if i in by_id],
    }


def list_documents(conn: Connection, filters: LibraryFilters, count_cap: int = COUNT_CAP,
                   index: TextIndex | None = None) -> dict[str, Any]:
    """One page of documents matching the filters, the link arguments of the next page, and
    the total (``None`` past ``count_cap``, with ``total_more_than``): newest first, by keyset;
    or, with words, best first by the text index."""
    if filters.q:
        if filters.after is not None:
            raise InvalidInput("a search by words pages by number (page=), not by after=",
                               message_vi="Tìm theo từ khóa thì phân trang bằng tham số page")
        return _ranked(conn, filters, index)
    where = filter_params(filters)
    page_sql, count_sql = library_sql(frozenset(where) & frozenset(_FILTERS))
    after = filters.after
    offset = 0 if after else (filters.page - 1) * filters.per_page
    rows = conn.execute(page_sql, {
        **where, "limit": filters.per_page + 1, "offset": offset,
        "after_date": after.issued_on if after else None, "after_id": after.id if after else None,
    }).all()
    more = len(rows) > filters.per_page
    rows = rows[:filters.per_page]
    counted = conn.execute(count_sql, {**where, "cap": count_cap}).scalar_one()
    total = counted if counted <= count_cap else None
    items = [_item(r) for r in rows]
    following = None
    if more and rows:
        last = rows[-1]
        following = replace(filters, page=1, after=Cursor(last.issued_on, last.id))
    return {
        "total": total,
        "total_more_than": count_cap if total is None else None,
        # numbered pages only where the page was reached by number and the total is known
        "page": None if after else filters.page,
        "pages": max(1, -(-total // filters.per_page)) if total is not None else None,
        "per_page": filters.per_page,
        "after": str(after) if after else None,
        "next_after": str(following.after) if following else None,
        "next_args": following.as_args() if following else None,
        "items": items,
    }


def facets(conn: Connection) -> dict[str, list[tuple[str, int]]]:
    """Values for the library's filter menus (issuers, years, types) with their counts."""
    out: dict[str, list[tuple[str, int]]] = {"issuer": [], "year": [], "type": []}
    for r in conn.execute(FACETS_SQL):
        out[r.facet].append((r.value, r.n))
    out["year"].sort(reverse=True)
    return out
