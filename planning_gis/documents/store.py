"""The document store: files kept once by their sha256, metadata and page text in PostgreSQL.

A file lives at ``documents_dir/ab/abcdef….pdf`` where ``abcdef…`` is its sha256: the same file is
never stored twice and a stored file is never overwritten (the name *is* the content). Files are
written to a temporary name in the same folder and linked into place, so a reader never sees half
a file; a document is added inside a savepoint and its file removed again if that savepoint or the
surrounding transaction rolls back, so a failure leaves neither a row nor a file behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planning_gis.documents import DuplicateDocument
from planning_gis.documents.pdf_text import PageText, extract_pages
from planning_gis.errors import (
    ConstraintViolation,
    InvalidInput,
    MissingFile,
    StoredFileUnreadable,
)
from planning_gis.models import DOCUMENT_TYPES, DocumentPage, Plan, PlanDocument, plan_documents
from planning_gis.settings import Settings, get_settings

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: "1234/QĐ-UBND", "05/2007/QĐ-BTNMT", "567/TTr-QHKT", "12a/QĐ-UBND": a number, "/", a code.
NUMBER_RE = re.compile(r"^\d{1,6}[a-zA-Z]?(/\d{4})?/[^\s/]+(/[^\s/]+)*$")
#: The first legal documents of the republic; anything older is a typing mistake.
EARLIEST_DATE = dt.date(1945, 9, 2)
_CHUNK = 1 << 20
_SESSION_KEY = "documents_new_files"
_LISTENING_KEY = "documents_listening"


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(unicodedata.normalize("NFC", value).split())
    return value or None


@dataclass(frozen=True)
class DocumentMetadata:
    """What a clerk knows about a document; :meth:`validated` checks and normalises it (NFC)."""

    doc_type: str
    title: str
    number: str | None = None
    issued_on: dt.date | None = None
    issuer: str | None = None
    file_name: str | None = None
    is_fictional: bool = False

    def validated(self, today: dt.date | None = None) -> DocumentMetadata:
        """A normalised copy, or InvalidInput naming the field and the rule it broke."""
        today = today or dt.date.today()
        doc_type = (self.doc_type or "").strip()
        if doc_type not in DOCUMENT_TYPES:
            by_label = {vi.lower(): code for code, (vi, _en) in DOCUMENT_TYPES.items()}
            doc_type = by_label.get(unicodedata.normalize("NFC", doc_type).lower(), doc_type)
        if doc_type not in DOCUMENT_TYPES:
            known = ", ".join(DOCUMENT_TYPES)
            raise InvalidInput(
                f"unknown document type {self.doc_type!r}; use one of: {known}",
                message_vi=f"Loại văn bản không hợp lệ {self.doc_type!r}; dùng một trong: {known}",
            )
        title = _clean(self.title)
        if not title:
            raise InvalidInput("a document needs a title", message_vi="Văn bản phải có trích yếu")
        number = _clean(self.number)
        if number is not None:
            number = number.replace(" /", "/").replace("/ ", "/")
            if not NUMBER_RE.match(number):
                raise InvalidInput(
                    f"document number {self.number!r} is not like 1234/QĐ-UBND",
                    message_vi=f"Số văn bản {self.number!r} không đúng dạng 1234/QĐ-UBND",
                )
        if self.issued_on is not None and not (EARLIEST_DATE <= self.issued_on <= today):
            raise InvalidInput(
                f"issue date {self.issued_on.isoformat()} is outside "
                f"{EARLIEST_DATE.isoformat()}..{today.isoformat()}",
                message_vi=f"Ngày ban hành {self.issued_on:%d/%m/%Y} không hợp lệ "
                           f"(phải từ {EARLIEST_DATE:%d/%m/%Y} đến hôm nay)",
            )
        return replace(self, doc_type=doc_type, title=title, number=number,
                       issuer=_clean(self.issuer), file_name=_clean(self.file_name))


class DocumentStore:
    """Content-addressed files under one folder, plus the rows that describe them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DocumentStore:
        return cls((settings or get_settings()).documents_dir)

    # --- files -------------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the file with this sha256 lives (whether or not it is there)."""
        if not SHA256_RE.match(sha256 or ""):
            raise InvalidInput(f"not a sha256: {sha256!r}", message_vi="Mã sha256 không hợp lệ")
        return self.root / sha256[:2] / f"{sha256}.pdf"

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, src: str | Path) -> tuple[str, int, bool]:
        """Copy ``src`` into the store; return (sha256, size, created).

        The copy is hashed while written to a temporary file next to its final place, flushed to
        disk, then hard-linked to its name: ``link`` fails if the name exists, so two writers of
        the same content cannot overwrite each other, and nobody ever sees a partial file.
        """
        src = Path(src)
        if not src.is_file():
            raise MissingFile(f"{src}: no such file", message_vi=f"{src}: không có tệp này")
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", suffix=".part", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            final.parent.mkdir(exist_ok=True)
            try:
                os.link(tmp, final)
                created = True
            except FileExistsError:
                created = False
        finally:
            tmp.unlink(missing_ok=True)
        return sha, size, created

    def open(self, sha256: str) -> BinaryIO:
        """The stored file for reading; a file missing from our own store is our fault (5xx)."""
        path = self.path_for(sha256)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise StoredFileUnreadable(f"file {sha256} is missing from the store",
                                       message_vi="Không tìm thấy tệp văn bản trong kho") from exc

    def remove(self, sha256: str) -> None:
        """Delete a stored file: only for undoing a write whose row was not committed."""
        self.path_for(sha256).unlink(missing_ok=True)

    # --- documents ---------------------------------------------------------------------------

    def find_by_sha(self, session: Session, sha256: str) -> PlanDocument | None:
        return session.scalars(
            select(PlanDocument).where(PlanDocument.file_sha256 == sha256)
        ).one_or_none()

    def add_document(
        self,
        session: Session,
        path: str | Path,
        metadata: DocumentMetadata,
        plan_ids: Sequence[int] = (),
        *,
        pages: Sequence[PageText] | None = None,
        ocr: bool = True,
        sort_order: int | None = None,
    ) -> PlanDocument:
        """Validate, read the text, insert the rows and store the file, all or nothing.

        Raises InvalidInput (bad metadata, unknown plan), MissingFile, InvalidPdf/EncryptedPdf
        (before anything is written) or DuplicateDocument (the same sha256 is already there).
        ``pages`` lets a caller pass text it extracted already (the bulk importer does it in
        worker processes). The caller commits; a rollback removes the file again.
        """
        path = Path(path)
        meta = metadata.validated()
        if not path.is_file():
            raise MissingFile(f"{path.name}: no such file", message_vi=f"{path.name}: không có tệp")
        if path.stat().st_size == 0:
            raise InvalidInput(f"{path.name}: the file is empty",
                               message_vi=f"{path.name}: tệp rỗng")
        sha = sha256_of(path)
        existing = self.find_by_sha(session, sha)
        if existing is not None:
            raise _duplicate(path.name, existing)
        plan_ids = list(dict.fromkeys(int(p) for p in plan_ids))
        if plan_ids:
            found = set(session.scalars(select(Plan.id).where(Plan.id.in_(plan_ids))))
            missing = [p for p in plan_ids if p not in found]
            if missing:
                listed = ", ".join(map(str, missing))
                raise InvalidInput(f"unknown plan id(s): {listed}",
                                   message_vi=f"Không có đồ án quy hoạch mã số: {listed}")
        if pages is None:
            pages = extract_pages(path, ocr=ocr)
        if not pages:
            raise InvalidInput(f"{path.name}: the PDF has no pages",
                               message_vi=f"{path.name}: tệp PDF không có trang nào")
        created = False
        try:
            with session.begin_nested():
                doc = PlanDocument(
                    doc_type=meta.doc_type, number=meta.number, issued_on=meta.issued_on,
                    issuer=meta.issuer, title=meta.title, file_sha256=sha,
                    file_size=path.stat().st_size, file_name=meta.file_name or path.name,
                    page_count=len(pages), is_fictional=meta.is_fictional,
                    text="\n\n".join(p.text for p in pages if p.text),
                )
                session.add(doc)
                session.flush()  # waits for a concurrent insert of the same sha256
                session.add_all(
                    DocumentPage(document_id=doc.id, page_no=p.page_no, text=p.text,
                                 source=p.source)
                    for p in pages
                )
                for plan_id in plan_ids:
                    order = sort_order if sort_order is not None else _next_order(session, plan_id)
                    session.execute(insert(plan_documents).values(
                        plan_id=plan_id, document_id=doc.id, sort_order=order))
                session.flush()
                stored_sha, _size, created = self.put(path)
                if stored_sha != sha:
                    raise InvalidInput(f"{path.name} changed while it was being imported",
                                       message_vi=f"{path.name} bị thay đổi trong khi nhập")
        except IntegrityError as exc:
            if created:
                self.remove(sha)
            if "uq_documents_file_sha256" in str(exc.orig):
                raise DuplicateDocument(
                    f"{path.name}: the same file is already in the library",
                    message_vi=f"{path.name}: tệp này đã có trong thư viện") from exc
            raise ConstraintViolation(f"{path.name}: refused by the database: {exc.orig}",
                                      message_vi=f"{path.name}: cơ sở dữ liệu từ chối") from exc
        except BaseException:
            if created:
                self.remove(sha)
            raise
        if created:
            _remember(session, self, sha)
        return doc

    def add_document_data(
        self,
        session: Session,
        data: bytes,
        metadata: DocumentMetadata,
        plan_ids: Sequence[int] = (),
        **kwargs: object,
    ) -> PlanDocument:
        """:meth:`add_document` for bytes made in memory (the demo's generated PDFs).

        The bytes go to a private temporary file first, so that they take exactly the same path
        (validation, text, hashing, link into the store) as a file a clerk imports.
        """
        name = metadata.file_name or "document.pdf"
        with tempfile.TemporaryDirectory(prefix="planning-doc-") as tmp:
            path = Path(tmp) / Path(name).name
            path.write_bytes(data)
            return self.add_document(session, path, metadata, plan_ids, **kwargs)  # type: ignore[arg-type]


def _next_order(session: Session, plan_id: int) -> int:
    current = session.scalar(
        select(func.max(plan_documents.c.sort_order)).where(plan_documents.c.plan_id == plan_id)
    )
    return 0 if current is None else current + 1


def _duplicate(name: str, existing: PlanDocument) -> DuplicateDocument:
    ref = f"#{existing.id}" + (f" {existing.number}" if existing.number else "")
    return DuplicateDocument(
        f"{name}: the same file is already in the library as document {ref} "
        f"({existing.file_name or existing.title})",
        message_vi=f"{name}: tệp này đã có trong thư viện (văn bản {ref}: "
                   f"{existing.file_name or existing.title})",
        existing_id=existing.id,
    )


def _remember(session: Session, store: DocumentStore, sha: str) -> None:
    """Note a newly written file against the caller's (sub)transaction.

    If that transaction, or any transaction around it, rolls back, the file is deleted again;
    when the outermost transaction commits, the note is dropped. The listeners stay on the
    session (registered once): removing them while SQLAlchemy dispatches is not allowed.
    """
    if not session.info.get(_LISTENING_KEY):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_soft_rollback)
        session.info[_LISTENING_KEY] = True
    trans = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_SESSION_KEY, []).append((trans, store, sha))


def _after_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_SESSION_KEY, None)


def _after_soft_rollback(session: Session, previous: object) -> None:
    keep = []
    for trans, store, sha in session.info.get(_SESSION_KEY, []):
        t = trans
        while t is not None and t is not previous:
            t = t.parent
        if t is None:
            keep.append((trans, store, sha))
        else:
            store.remove(sha)
    session.info[_SESSION_KEY] = keep
