"""Real Vietnamese PDFs for tests and benchmarks: reportlab with DejaVu, optional scanned pages.

A "scanned" page is an image of text (drawn with Pillow in DejaVu) placed on the page with no text
layer, as a scanner would make it, so that the OCR path meets real pixels.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from planning_gis.settings import get_settings

_registered: set[str] = set()


def _font(font_path: str | None) -> str:
    path = font_path or get_settings().font_path
    if not path:
        raise RuntimeError("no DejaVu font found (apt-get install fonts-dejavu-core)")
    name = "DejaVuSans-" + str(abs(hash(path)))
    if name not in _registered:
        pdfmetrics.registerFont(TTFont(name, path))
        _registered.add(name)
    return name


def scanned_page_image(lines: Sequence[str], font_path: str | None = None,
                       dpi: int = 150) -> Image.Image:
    """An A4 page image (greyscale) with the lines drawn at ~13 pt, like a clean scan."""
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path or get_settings().font_path, int(13 / 72 * dpi))
    y = int(0.8 * dpi)
    for line in lines:
        draw.text((int(0.8 * dpi), y), line, fill=0, font=font)
        y += int(20 / 72 * dpi)
        if y > height - dpi:
            break
    return img


def write_pdf(path: str | Path, *, title: str, number: str | None = None,
              issuer: str | None = None, date_text: str | None = None,
              paragraphs: Sequence[str] = (), scanned_pages: Sequence[Sequence[str]] = (),
              password: str | None = None, font_path: str | None = None) -> Path:
    """Write a PDF: text pages (heading + paragraphs), then image-only pages, optionally encrypted.

    ``password`` makes an encrypted PDF (for the bad-input tests).
    """
    path = Path(path)
    font = _font(font_path)
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=password, invariant=1)
    c.setTitle(title)
    width, height = A4
    y = height - 60

    def line(text: str, size: int = 11) -> None:
        nonlocal y
        if y < 60:
            c.showPage()
            y = height - 60
        c.setFont(font, size)
        c.drawString(50, y, text)
        y -= size + 5

    if issuer:
        line(issuer.upper(), 11)
    if number:
        line(f"Số: {number}", 11)
    if date_text:
        line(date_text, 10)
    y -= 8
    for chunk in textwrap.wrap(title, 70):
        line(chunk, 13)
    y -= 8
    for para in paragraphs:
        for chunk in textwrap.wrap(para, 95):
            line(chunk, 10)
        y -= 4
    c.showPage()
    for lines in scanned_pages:
        img = scanned_page_image(lines, font_path)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        buf.seek(0)
        c.drawImage(ImageReader(buf), 0, 0, width=width, height=height)
        c.showPage()
    c.save()
    return path
