"""Bulk import: a folder of PDFs and a CSV of their metadata, thousands at a time.

One CSV row is one document (columns ``file, doc_type, title`` required; ``number, issued_on,
issuer, plan_ids, is_fictional`` optional). Each row is its own transaction, so an import that
stops (a crash, Ctrl-C, a full disk) is resumed by running it again: a file whose sha256 is
already in the library under the same name is skipped. Every row ends in the report as
``imported``, ``skipped`` or ``failed`` with a code and a message in English and Vietnamese;
a failed row leaves no row and no file behind.

Reading text (and OCR) is the slow part and needs no database, so it runs in worker processes;
the parent only hashes, checks and inserts.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from planning_gis.dates import parse_date
from planning_gis.db import session_scope
from planning_gis.documents import DuplicateDocument
from planning_gis.documents.pdf_text import PageText, extract_pages
from planning_gis.documents.store import DocumentMetadata, DocumentStore, sha256_of
from planning_gis.errors import InvalidInput, MissingFile, PlanningError
from planning_gis.models import PlanDocument
from planning_gis.settings import Settings, get_settings

REQUIRED_COLUMNS = ("file", "doc_type", "title")
OPTIONAL_COLUMNS = ("number", "issued_on", "issuer", "plan_ids", "is_fictional")
@dataclass
class RowResult:
    """What happened to one CSV row."""

    row: int
    file: str
    status: str  # imported | skipped | failed
    code: str = ""
    message: str = ""
    message_vi: str = ""
    document_id: int | None = None
    pages: int = 0
    ocr_pages: int = 0


@dataclass
class ImportReport:
    """Every row's result, and the figures of the run."""

    results: list[RowResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ocr_pages(self) -> int:
        return sum(r.ocr_pages for r in self.results if r.status == "imported")

    def summary(self) -> str:
        imported = self.count("imported")
        rate = imported / self.seconds if self.seconds > 0 else 0.0
        return (f"{imported} imported, {self.count('skipped')} skipped (already in the library), "
                f"{self.count('failed')} failed, in {self.seconds:.1f} s ({rate:.1f} documents/s)")

    def write(self, path: str | Path) -> Path:
        """Write the report as CSV, or JSON when the name ends in .json; atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                if path.suffix.lower() == ".json":
                    json.dump({"summary": self.summary(),
                               "rows": [asdict(r) for r in self.results]},
                              fh, ensure_ascii=False, indent=1)
                else:
                    names = list(RowResult.__dataclass_fields__)
                    writer = csv.DictWriter(fh, fieldnames=names)
                    writer.writeheader()
                    for r in self.results:
                        writer.writerow(asdict(r))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


@dataclass
class _Row:
    row: int
    values: dict[str, str]


@dataclass
class _Prepared:
    """A row after the worker's part: parsed, hashed, text read (or the error that stopped it)."""

    row: int
    file: str
    path: str | None = None
    metadata: DocumentMetadata | None = None
    plan_ids: tuple[int, ...] = ()
    sha256: str | None = None
    pages: list[PageText] | None = None
    error: tuple[str, str, str] | None = None
    already: bool = False


def read_metadata(csv_path: str | Path) -> list[_Row]:
    """The CSV's rows, or InvalidInput naming what is wrong with the file as a whole."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise MissingFile(f"metadata file {csv_path} not found",
                          message_vi=f"Không tìm thấy tệp siêu dữ liệu {csv_path}")
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise InvalidInput(
                    f"{csv_path.name}: missing column(s) {', '.join(missing)}; "
                    f"the header must name {', '.join(REQUIRED_COLUMNS)}",
                    message_vi=f"{csv_path.name}: thiếu cột {', '.join(missing)}",
                )
            unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
            if unknown:
                raise InvalidInput(
                    f"{csv_path.name}: unknown column(s) {', '.join(unknown)}",
                    message_vi=f"{csv_path.name}: cột không xác định {', '.join(unknown)}",
                )
            rows = [
                _Row(i, {(k or "").strip(): (v or "").strip() for k, v in raw.items()
                         if k is not None})
                for i, raw in enumerate(reader, start=2)
            ]
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{csv_path.name}: not UTF-8 text",
                           message_vi=f"{csv_path.name}: không phải văn bản UTF-8") from exc
    except csv.Error as exc:
        raise InvalidInput(f"{csv_path.name}: bad CSV ({exc})",
                           message_vi=f"{csv_path.name}: CSV lỗi ({exc})") from exc
    if not rows:
        raise InvalidInput(f"{csv_path.name}: no rows",
                           message_vi=f"{csv_path.name}: không có dòng nào")
    return rows


def parse_plan_ids(value: str) -> tuple[int, ...]:
    """"3;5", "3,5" or "3 5"."""
    parts = [p for p in value.replace(";", " ").replace(",", " ").split() if p]
    try:
        return tuple(int(p) for p in parts)
    except ValueError as exc:
        raise InvalidInput(f"plan_ids {value!r} must be numbers separated by ';'",
                           message_vi=f"plan_ids {value!r} phải là các số cách nhau bởi ';'") \
            from exc


def _parse(row: _Row, base: Path) -> tuple[Path, DocumentMetadata, tuple[int, ...]]:
    v = row.values
    name = v.get("file", "")
    if not name:
        raise InvalidInput("the file column is empty", message_vi="Cột file để trống")
    path = (base / name).resolve()
    if base.resolve() not in path.parents:
        raise InvalidInput(f"{name}: the file must be inside the import folder",
                           message_vi=f"{name}: tệp phải nằm trong thư mục nhập")
    meta = DocumentMetadata(
        doc_type=v.get("doc_type", ""), title=v.get("title", ""), number=v.get("number") or None,
        issued_on=parse_date(v.get("issued_on", ""), "issued_on"), issuer=v.get("issuer") or None,
        file_name=Path(name).name,
        is_fictional=v.get("is_fictional", "").lower() in ("1", "true", "yes", "x", "có"),
    ).validated()
    if not path.is_file():
        raise MissingFile(f"{name}: the metadata names a file that is not in the folder",
                          message_vi=f"{name}: dòng siêu dữ liệu ghi một tệp không có trong "
                                     "thư mục")
    return path, meta, parse_plan_ids(v.get("plan_ids", ""))


_known: frozenset[str] = frozenset()
_ocr = True


def _init_worker(known: frozenset[str], ocr: bool) -> None:
    global _known, _ocr
    _known, _ocr = known, ocr


def _prepare(row: _Row, base: str) -> _Prepared:
    """The worker's part of a row: parse, hash, read the text. Never raises."""
    prep = _Prepared(row=row.row, file=row.values.get("file", ""))
    try:
        path, meta, plan_ids = _parse(row, Path(base))
        prep.path, prep.metadata, prep.plan_ids = str(path), meta, plan_ids
        prep.sha256 = sha256_of(path)
        if prep.sha256 in _known:
            prep.already = True
            return prep
        prep.pages = extract_pages(path, ocr=_ocr)
    except PlanningError as exc:
        prep.error = (exc.code, exc.message, exc.message_vi)
    except OSError as exc:
        prep.error = ("io_error", f"{prep.file}: {exc}", f"{prep.file}: lỗi đọc tệp ({exc})")
    return prep


def _prepared(rows: list[_Row], base: Path, known: frozenset[str], ocr: bool,
              jobs: int) -> Iterator[_Prepared]:
    if jobs <= 1:
        _init_worker(known, ocr)
        for row in rows:
            yield _prepare(row, str(base))
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                             initargs=(known, ocr)) as pool:
        yield from pool.map(_prepare, rows, [str(base)] * len(rows), chunksize=4)


def import_documents(
    directory: str | Path,
    metadata_csv: str | Path,
    *,
    settings: Settings | None = None,
    report_path: str | Path | None = None,
    progress: bool = True,
    ocr: bool = True,
    jobs: int | None = None,
) -> ImportReport:
    """Import every row of ``metadata_csv`` (files relative to ``directory``); see module doc.

    Raises only for problems with the run as a whole (no folder, unreadable CSV); everything
    about one row goes into the report.
    """
    settings = settings or get_settings()
    base = Path(directory)
    if not base.is_dir():
        raise MissingFile(f"folder {base} not found", message_vi=f"Không tìm thấy thư mục {base}")
    rows = read_metadata(metadata_csv)
    store = DocumentStore.from_settings(settings)
    jobs = jobs if jobs is not None else max(1, min(4, (os.cpu_count() or 1)))
    started = time.perf_counter()
    with session_scope(settings) as session:
        known_rows = session.execute(
            select(PlanDocument.file_sha256, PlanDocument.id, PlanDocument.file_name)
        ).all()
    known = {r.file_sha256: (r.id, r.file_name) for r in known_rows}
    seen_in_run: dict[str, int] = {}
    report = ImportReport()
    bar = tqdm(total=len(rows), unit="tệp", desc="Nhập văn bản", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    try:
        for prep in _prepared(rows, base, frozenset(known), ocr, jobs):
            result = _store_one(prep, store, settings, known, seen_in_run)
            report.results.append(result)
            bar.update(1)
            if result.status == "failed":
                bar.set_postfix(failed=len(report.failed), refresh=False)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        if report_path is not None:
            report.write(report_path)
    return report


def _store_one(prep: _Prepared, store: DocumentStore, settings: Settings,
               known: dict[str, tuple[int, str | None]],
               seen_in_run: dict[str, int]) -> RowResult:
    result = RowResult(row=prep.row, file=prep.file, status="failed")
    if prep.error is not None:
        result.code, result.message, result.message_vi = prep.error
        return result
    assert prep.sha256 is not None and prep.metadata is not None and prep.path is not None
    if prep.sha256 in seen_in_run:
        other = seen_in_run[prep.sha256]
        result.code = DuplicateDocument.code
        result.message = f"{prep.file}: the same file as row {other} of this import"
        result.message_vi = f"{prep.file}: trùng nội dung với dòng {other} của lần nhập này"
        return result
    if prep.sha256 in known:
        doc_id, file_name = known[prep.sha256]
        result.document_id = doc_id
        if file_name == prep.metadata.file_name:
            result.status, result.code = "skipped", "already_imported"
            result.message = f"{prep.file}: already in the library as document #{doc_id}"
            result.message_vi = f"{prep.file}: đã có trong thư viện (văn bản #{doc_id})"
        else:
            result.code = DuplicateDocument.code
            result.message = (f"{prep.file}: the same file is already in the library as "
                              f"document #{doc_id} ({file_name})")
            result.message_vi = (f"{prep.file}: tệp này đã có trong thư viện (văn bản "
                                 f"#{doc_id}, {file_name})")
        seen_in_run[prep.sha256] = prep.row
        return result
    try:
        with session_scope(settings) as session:
            doc = store.add_document(session, prep.path, prep.metadata, prep.plan_ids,
                                     pages=prep.pages)
            doc_id = doc.id
    except PlanningError as exc:
        result.code, result.message, result.message_vi = exc.code, exc.message, exc.message_vi
        return result
    except OSError as exc:
        result.code = "io_error"
        result.message = f"{prep.file}: {exc}"
        result.message_vi = f"{prep.file}: lỗi ghi tệp ({exc})"
        return result
    seen_in_run[prep.sha256] = prep.row
    known[prep.sha256] = (doc_id, prep.metadata.file_name)
    pages = prep.pages or []
    result.status, result.code, result.document_id = "imported", "ok", doc_id
    result.pages = len(pages)
    result.ocr_pages = sum(1 for p in pages if p.source == "ocr")
    result.message = f"{prep.file}: imported as document #{doc_id}"
    result.message_vi = f"{prep.file}: đã nhập (văn bản #{doc_id})"
    return result

