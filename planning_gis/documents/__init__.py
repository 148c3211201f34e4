"""The document library: every decision, report and regulation behind the map, findable.

``store`` keeps files by their sha256 and their metadata in ``documents``; ``pdf_text`` reads a
PDF's text layer or OCRs its pages; ``search`` is the one search query of the service;
``importer`` loads thousands of files from a folder and a CSV; ``views`` serves it all.

The errors below are the library's own failures; they subclass the project's domain errors, so
the HTTP layer and the CLI already know how to answer them.
"""

from __future__ import annotations

from planning_gis.errors import Conflict, InvalidInput


class InvalidPdf(InvalidInput):
    """A file that is not a readable PDF (not a PDF at all, truncated, damaged)."""

    code = "invalid_pdf"


class EncryptedPdf(InvalidPdf):
    """A password-protected PDF: we cannot read its text nor serve it to citizens."""

    code = "encrypted_pdf"


class DuplicateDocument(Conflict):
    """The same file (same sha256) is already in the library."""

    code = "duplicate_document"

    def __init__(self, message: str, *, message_vi: str | None = None,
                 existing_id: int | None = None) -> None:
        super().__init__(message, message_vi=message_vi)
        self.existing_id = existing_id
