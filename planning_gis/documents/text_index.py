"""The ranked search's index: BM25 over the document library, on each node's disk (tantivy).

Two designs were measured side by side on the same documents and questions
(``bench/search_quality.py``): PostgreSQL alone (weighted ``tsvector`` of the same terms, an OR
``tsquery``, BM25 computed in SQL from the corpus statistics) and this embedded engine. Both
rank about as well (recall@10 1.0 on the sample both ran); PostgreSQL took seconds per question
on 1 500 documents, because a question shares a word with nearly every document and each
candidate's vector must be read and ranked, where the engine's posting lists answer in a few
milliseconds. The figures are in the README.

PostgreSQL stays the one source of truth; the index is a cache of it that every node keeps
for itself and brings up to date before it answers (:meth:`TextIndex.sync`). Migration 0010
logs every change of a document (its row or its plans) with the writer's transaction id; a node
replays the log rows it has not applied. Log rows are numbered when written but seen when
committed, so a row can appear *behind* the ones already applied; the transaction ids say when:
a transaction that was still running at the last sync has an id at or above that sync's
``xmin``, and once the current ``xmin`` passes it, its rows are final and replayed again
(idempotent: a document is deleted and re-added). One check per search: a single round trip.

Each document is indexed in several fields, ranked together (BM25 per field, boosted):
title, number + issuer, and body; each as folded syllables, folded syllable pairs (which count
adjacent words: phrase evidence) and accented syllables (a small bonus when the query has
accents). Type, issuer, year and plans are filter fields, so the library's filters and its
page count come from the same ranked query.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import Connection, text

from planning_gis.documents.analysis import QueryTerms, analyse
from planning_gis.errors import NotReadyYet

#: A library up to this size is indexed inside the request that first needs it (the demo, tests:
#: a few seconds); a larger one only by the job worker (``ensure``), which took 69 s for the
#: city's 100,000 documents: a request would have held a thread past gunicorn's timeout.
INLINE_BUILD_MAX = 5000
#: Pending changes a request replays itself; more (a bulk import) are left to the worker and
#: the search answers from the index as it is meanwhile.
INLINE_REPLAY_MAX = 2000

#: Bumped when the fields or the analysis change: an index of another version is rebuilt.
INDEX_VERSION = 1
WRITER_HEAP = 64 * 1024 * 1024
BATCH = 2000

#: (field, boost) for each kind of query term. Measured with bench/search_quality.py.
WORD_FIELDS = (("title", 2.0), ("meta", 2.0), ("body", 1.0))
PAIR_FIELDS = (("title2", 2.0), ("meta", 2.0), ("body2", 1.0))
ACCENT_FIELDS = (("title_acc", 0.2), ("body_acc", 0.1))


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in ("title", "body"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in ("title2", "body2", "title_acc", "body_acc", "meta"):
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("doc_type", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("issuer", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("year", indexed=True)
    sb.add_integer_field("plan", indexed=True)
    return sb.build()


SCHEMA = _schema()

DOCS_SQL = text(
    """
    SELECT d.id, d.doc_type, d.number, d.issuer, d.title, d.issued_on, d.text,
           ARRAY(SELECT pd.plan_id FROM plan_documents pd WHERE pd.document_id = d.id) AS plans
      FROM documents d
     WHERE d.id = ANY(:ids)
    """
)
DOCS_BATCH_SQL = text(
    DOCS_SQL.text.replace("WHERE d.id = ANY(:ids)", "WHERE d.id > :after ORDER BY d.id LIMIT :n")
)
#: The one round trip of a search that has nothing to replay.
CHECK_SQL = text(
    """
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
           (SELECT count(*) FROM (SELECT 1 FROM document_index_log WHERE seq > :seq
                                   LIMIT :cap) n) AS newer
    """
)
#: Whether the library is small enough to index inside a request (counted up to the limit).
COUNT_SQL = text("SELECT count(*) FROM (SELECT 1 FROM documents LIMIT :cap) n")
START_SQL = text(
    """
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
           (SELECT coalesce(max(seq), 0) FROM document_index_log) AS seq
    """
)
#: Rows not applied yet, and rows of transactions that ended since the last sync (they may have
#: been invisible then).
CHANGES_SQL = text(
    """
    SELECT seq, document_id FROM document_index_log
     WHERE seq > :seq
        OR (txid >= CAST(CAST(:xid AS text) AS xid8) AND txid < CAST(CAST(:xmin AS text) AS xid8))
    """
)


def document(row: Any) -> tantivy.Document:
    """The index entry of one ``documents`` row (with its ``plans`` array)."""
    title = analyse(row.title)
    body = analyse(row.text)
    meta = analyse(" ".join(v for v in (row.number, row.issuer) if v))
    t_words, t_pairs, t_acc = title.joined()
    b_words, b_pairs, b_acc = body.joined()
    fields: dict[str, Any] = {
        "id": row.id, "title": t_words, "title2": t_pairs, "title_acc": t_acc,
        "body": b_words, "body2": b_pairs, "body_acc": b_acc,
        "meta": " ".join(meta.words + meta.pairs), "doc_type": row.doc_type,
    }
    if row.issuer:
        fields["issuer"] = row.issuer
    if row.issued_on:
        fields["year"] = row.issued_on.year
    if row.plans:
        fields["plan"] = list(row.plans)
    return tantivy.Document(**fields)


@dataclass(frozen=True)
class Filters:
    """Library filters applied inside the ranked query (None: no filter)."""

    doc_type: str | None = None
    issuer: str | None = None
    year: int | None = None
    plan_id: int | None = None

    def clauses(self) -> list[tantivy.Query]:
        out = []
        if self.doc_type:
            out.append(tantivy.Query.term_query(SCHEMA, "doc_type", self.doc_type))
        if self.issuer:
            out.append(tantivy.Query.term_query(SCHEMA, "issuer", self.issuer))
        if self.year is not None:
            out.append(tantivy.Query.term_query(SCHEMA, "year", self.year))
        if self.plan_id is not None:
            out.append(tantivy.Query.term_query(SCHEMA, "plan", self.plan_id))
        return out


def build_query(terms: QueryTerms, filters: Filters | None = None) -> tantivy.Query:
    """Every term in every field it may match, boosted: BM25 summed over fields (OR query)."""
    should = tantivy.Occur.Should
    clauses = []
    for group, fields in ((terms.words, WORD_FIELDS), (terms.pairs, PAIR_FIELDS),
                          (terms.accented, ACCENT_FIELDS)):
        for term in group:
            for name, boost in fields:
                clauses.append((should, tantivy.Query.boost_query(
                    tantivy.Query.term_query(SCHEMA, name, term), boost)))
    query = tantivy.Query.boolean_query(clauses)
    extra = filters.clauses() if filters else []
    if extra:
        must = tantivy.Occur.Must
        query = tantivy.Query.boolean_query([(must, query)] + [(must, q) for q in extra])
    return query


class TextIndex:
    """One node's index directory, shared by its processes (a file lock serialises writers)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread_lock = threading.Lock()
        self._index: tantivy.Index | None = None
        self._state: dict[str, int] | None = None

    # --- state ----------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.path / "state.json"

    def _read_state(self) -> dict[str, int] | None:
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        if state.get("version") != INDEX_VERSION:
            return None
        return state

    def _write_state(self, xid: int, seq: int) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": INDEX_VERSION, "xid": xid, "seq": seq}))
        os.replace(tmp, self._state_file)

    @contextlib.contextmanager
    def _file_lock(self, wait: bool = True) -> Iterator[bool]:
        """The node's writer lock; without ``wait``, yields False at once when it is taken."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / "lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _open(self) -> tantivy.Index:
        folder = self.path / "index"
        folder.mkdir(parents=True, exist_ok=True)
        return tantivy.Index(SCHEMA, path=str(folder), reuse=True)

    # --- keeping up with PostgreSQL -----------------------------------------------------------

    def sync(self, conn: Connection, *, inline: bool = False) -> None:
        """Bring the index up to date with what ``conn`` sees (a no-op check when it is).

        ``inline`` (a request): build only a small library, replay only a few changes, and never
        wait for another process's build; then answer from the index as it is, or raise
        :class:`~planning_gis.errors.NotReadyYet` when there is none yet.
        """
        with self._thread_lock:
            disk = self._read_state()
            if disk is not None and disk != self._state:
                self._adopt(disk)
            if self._state is not None:
                check = conn.execute(CHECK_SQL, {"seq": self._state["seq"],
                                                 "cap": INLINE_REPLAY_MAX + 1}).one()
                if not check.newer and check.xmin <= self._state["xid"]:
                    return
                if inline and check.newer > INLINE_REPLAY_MAX:
                    return  # a bulk import: the worker catches up, answer from what we have
            elif inline and conn.execute(
                    COUNT_SQL, {"cap": INLINE_BUILD_MAX + 1}).scalar_one() > INLINE_BUILD_MAX:
                raise _not_ready()
            with self._file_lock(wait=not inline) as locked:
                if not locked:  # another process is building or replaying
                    if self._state is None:
                        raise _not_ready()
                    return
                disk = self._read_state()
                if disk is None:
                    self._rebuild(conn)
                else:
                    if disk != self._state:
                        self._adopt(disk)
                    self._replay(conn, disk)

    def _adopt(self, state: dict[str, int]) -> None:
        if self._index is None:
            self._index = self._open()
        else:
            self._index.reload()
        self._state = state

    def _rebuild(self, conn: Connection) -> None:
        start = conn.execute(START_SQL).one()
        self.build(conn)
        self._write_state(int(start.xmin), int(start.seq))
        self._adopt(self._read_state() or {})

    def build(self, conn: Connection) -> None:
        """Index every document ``conn`` sees, replacing what the index held (no log read:
        the bench indexes a database read-only with this)."""
        index = self._index or self._open()
        writer = index.writer(WRITER_HEAP, 1)
        try:
            writer.delete_all_documents()
            after = 0
            while True:  # keyset batches: no server-side cursor (autocommit connections)
                rows = conn.execute(DOCS_BATCH_SQL, {"after": after, "n": BATCH}).all()
                for row in rows:
                    writer.add_document(document(row))
                if len(rows) < BATCH:
                    break
                after = rows[-1].id
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self._index = index
        index.reload()

    def _replay(self, conn: Connection, state: dict[str, int]) -> None:
        xmin = int(conn.execute(START_SQL).one().xmin)
        rows = conn.execute(CHANGES_SQL, {"seq": state["seq"], "xid": state["xid"],
                                          "xmin": xmin}).all()
        if any(r.document_id is None for r in rows):
            self._rebuild(conn)
            return
        ids = sorted({r.document_id for r in rows})
        seq = max([state["seq"], *(r.seq for r in rows)])
        if ids:
            self._apply(conn, ids)
        self._write_state(max(state["xid"], xmin), seq)
        self._adopt(self._read_state() or {})

    def _apply(self, conn: Connection, ids: list[int]) -> None:
        """Delete the documents' entries and add back those that (still) exist."""
        assert self._index is not None
        writer = self._index.writer(WRITER_HEAP, 1)
        try:
            for ident in ids:
                writer.delete_documents_by_term("id", ident)
            for start in range(0, len(ids), BATCH):
                for row in conn.execute(DOCS_SQL, {"ids": ids[start:start + BATCH]}):
                    writer.add_document(document(row))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise

    def forget(self, ids: Iterable[int]) -> None:
        """Drop entries whose documents the database no longer has (a rolled-back import)."""
        ids = list(ids)
        if not ids or self._index is None:
            return
        with self._thread_lock, self._file_lock():
            writer = self._index.writer(WRITER_HEAP, 1)
            for ident in ids:
                writer.delete_documents_by_term("id", ident)
            writer.commit()
            writer.wait_merging_threads()
            self._index.reload()

    # --- searching ---------------------------------------------------------------------------

    def search(self, terms: QueryTerms, *, limit: int = 20, offset: int = 0,
               filters: Filters | None = None) -> tuple[list[tuple[int, float]], int]:
        """The best (document id, BM25 score) pairs and how many documents match in all."""
        if terms.empty or self._index is None:
            return [], 0
        searcher = self._index.searcher()
        result = searcher.search(build_query(terms, filters), limit, count=True, offset=offset)
        hits = [(int(searcher.doc(addr)["id"][0]), float(score)) for score, addr in result.hits]
        return hits, int(result.count)


_INDEXES: dict[Path, TextIndex] = {}
_INDEXES_LOCK = threading.Lock()


def text_index(path: Path) -> TextIndex:
    """The process's one :class:`TextIndex` for ``path``."""
    path = Path(path).resolve()
    with _INDEXES_LOCK:
        if path not in _INDEXES:
            _INDEXES[path] = TextIndex(path)
        return _INDEXES[path]


def for_connection(conn: Connection, path: Path, *, inline: bool = True) -> TextIndex:
    """The index at ``path``, brought up to date with what ``conn`` sees (within a request's
    limits unless ``inline`` is False: see :meth:`TextIndex.sync`)."""
    index = text_index(path)
    index.sync(conn, inline=inline)
    return index


def ensure(conn: Connection, path: Path) -> None:
    """Build or bring the node's index up to date without a request's limits: the job worker
    when idle, ``demo load``, ``documents import`` and the benches call it."""
    for_connection(conn, path, inline=False)


def _not_ready() -> NotReadyYet:
    return NotReadyYet(
        "the document index of this server is being built; try again in a minute",
        message_vi="Chỉ mục tìm kiếm văn bản của máy chủ đang được xây dựng; vui lòng thử lại "
                   "sau ít phút.")
