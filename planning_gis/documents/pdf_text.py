"""The text of a PDF, page by page: its text layer when it has one, Tesseract OCR when not.

Scanned decisions have no text layer; born-digital ones do. We read the layer with pdfium (fast,
and it maps embedded TrueType subsets back to Unicode), and send only the pages without usable
text to ``tesseract`` with the Vietnamese model, rendered at 300 dpi. All text is NFC, because
Vietnamese comes out of PDFs and OCR in both composed and decomposed forms and we compare it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from planning_gis.documents import EncryptedPdf, InvalidPdf
from planning_gis.errors import ConfigurationError, PlanningError

#: A page whose text layer has fewer letters or digits than this is treated as a scan.
MIN_TEXT_CHARS = 16
OCR_DPI = 300
OCR_TIMEOUT_S = 300
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class PageText:
    """One page's text and where it came from: ``text`` layer, ``ocr`` or ``none``."""

    page_no: int
    text: str
    source: str


def nfc(value: str) -> str:
    """NFC with tidy whitespace: what we store and compare."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\x00", "").replace("\ufffe", "").replace("\uffff", "")
    value = re.sub(r"[ \t\f\v]+", " ", value)
    value = re.sub(r" *\n *", "\n", value)
    return re.sub(r"\n{3,}", "\n\n", value).strip()


def _usable(text: str) -> bool:
    return sum(ch.isalnum() for ch in text) >= MIN_TEXT_CHARS


@contextmanager
def open_pdf(path: str | Path) -> Iterator[pdfium.PdfDocument]:
    """Open a PDF for reading, or raise InvalidPdf/EncryptedPdf with a message a clerk can act on.

    We refuse encrypted files even when they open without a password: the library must be able
    to serve and re-read every file it holds, with no key in its configuration.
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except FileNotFoundError as exc:
        raise InvalidPdf(f"{name}: file not found", message_vi=f"{name}: không tìm thấy tệp") \
            from exc
    except IsADirectoryError as exc:
        raise InvalidPdf(f"{name}: is a folder, not a PDF",
                         message_vi=f"{name}: là thư mục, không phải tệp PDF") from exc
    if PDF_MAGIC not in head:
        raise InvalidPdf(
            f"{name}: not a PDF file (no %PDF- header)",
            message_vi=f"{name}: không phải tệp PDF (thiếu phần đầu %PDF-)",
        )
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedPdf(
                f"{name}: the PDF is password-protected; remove the password and import again",
                message_vi=f"{name}: tệp PDF có mật khẩu; hãy gỡ mật khẩu rồi nhập lại",
            ) from exc
        raise InvalidPdf(
            f"{name}: damaged or truncated PDF ({exc})",
            message_vi=f"{name}: tệp PDF bị hỏng hoặc không đầy đủ ({exc})",
        ) from exc
    try:
        if pdfium_c.FPDF_GetSecurityHandlerRevision(doc.raw) != -1:
            raise EncryptedPdf(
                f"{name}: the PDF is encrypted; save an unencrypted copy and import again",
                message_vi=f"{name}: tệp PDF bị mã hóa; hãy lưu bản không mã hóa rồi nhập lại",
            )
        if len(doc) < 1:
            raise InvalidPdf(f"{name}: the PDF has no pages",
                             message_vi=f"{name}: tệp PDF không có trang nào")
        yield doc
    finally:
        doc.close()


def page_count(path: str | Path) -> int:
    """Pages of a valid PDF (raises like :func:`open_pdf`)."""
    with open_pdf(path) as doc:
        return len(doc)


def render_page(doc: pdfium.PdfDocument, page_no: int, dpi: int, *,
                grayscale: bool = False) -> Image.Image:
    """Render page ``page_no`` (1-based) at ``dpi`` to a Pillow image."""
    page = doc[page_no - 1]
    try:
        bitmap = page.render(scale=dpi / 72, grayscale=grayscale)
        return bitmap.to_pil()
    finally:
        page.close()


def tesseract_binary() -> str:
    """The tesseract executable, or a ConfigurationError naming the Debian packages."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise ConfigurationError(
            "tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-vie",
            message_vi="Chưa cài tesseract: apt-get install tesseract-ocr tesseract-ocr-vie",
        )
    return exe


def ocr_image(image: Image.Image, lang: str = "vie") -> str:
    """Run ``tesseract - - -l vie`` on one page image and return its NFC text.

    One thread per tesseract (OMP_THREAD_LIMIT=1): on a small machine OpenMP inside tesseract
    costs more than it gives; parallelism, if any, belongs to the caller (pages at once).
    """
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        proc = subprocess.run(
            [tesseract_binary(), "-", "-", "-l", lang, "--psm", "3"],
            input=buf.getvalue(), capture_output=True, timeout=OCR_TIMEOUT_S, env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PlanningError(f"OCR took longer than {OCR_TIMEOUT_S} s on one page",
                            message_vi=f"Nhận dạng chữ quá {OCR_TIMEOUT_S} giây cho một trang") \
            from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = err[-1] if err else f"exit {proc.returncode}"
        if "Failed loading language" in proc.stderr.decode("utf-8", "replace"):
            raise ConfigurationError(
                f"tesseract has no '{lang}' model: apt-get install tesseract-ocr-{lang}",
                message_vi=f"Thiếu mô hình '{lang}' của tesseract: cài tesseract-ocr-{lang}",
            )
        raise PlanningError(f"OCR failed: {detail}", message_vi=f"Nhận dạng chữ lỗi: {detail}")
    return nfc(proc.stdout.decode("utf-8", "replace"))


def extract_pages(path: str | Path, *, ocr: bool = True, dpi: int = OCR_DPI) -> list[PageText]:
    """Every page's text: the text layer when usable, else OCR (or ``none`` if OCR is off/empty).

    Raises InvalidPdf/EncryptedPdf before reading anything when the file is not a usable PDF.
    """
    pages: list[PageText] = []
    with open_pdf(path) as doc:
        for index in range(len(doc)):
            page = doc[index]
            try:
                textpage = page.get_textpage()
                try:
                    layer = nfc(textpage.get_text_range())
                finally:
                    textpage.close()
            except pdfium.PdfiumError:
                layer = ""
            finally:
                page.close()
            if _usable(layer):
                pages.append(PageText(index + 1, layer, "text"))
                continue
            if ocr:
                image = render_page(doc, index + 1, dpi, grayscale=True)
                text = ocr_image(image)
                if text:
                    pages.append(PageText(index + 1, text, "ocr"))
                    continue
            pages.append(PageText(index + 1, layer, "none"))
    return pages
