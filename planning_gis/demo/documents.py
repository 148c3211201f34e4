"""Vietnamese PDF documents for the demo plans, made with reportlab and a font with Vietnamese glyphs.

Most are born-digital (a text layer); one decision is rendered as an image-only "scan", because
the real archive is mostly scanned paper and the text pipeline must handle both.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from planning_gis.demo.city import DemoPlan
from planning_gis.errors import ConfigurationError
from planning_gis.models import DOCUMENT_TYPES
from planning_gis.settings import Settings


@dataclass
class DemoDocument:
    doc_type: str
    number: str | None
    issued_on: object
    issuer: str
    title: str
    paragraphs: list[str]
    plan_keys: list[str]
    image_only: bool = False


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _legal_basis(decided) -> list[str]:
    """The laws a decision of that date could cite: none passed after it (the 1998 master plan
    cited the 2009 law)."""
    if decided.year >= 2010:
        return ["Căn cứ Luật Quy hoạch đô thị ngày 17 tháng 6 năm 2009;",
                "Căn cứ Nghị định số 37/2010/NĐ-CP của Chính phủ về lập, thẩm định, phê duyệt "
                "và quản lý quy hoạch đô thị;"]
    return ["Căn cứ Luật Tổ chức Hội đồng nhân dân và Ủy ban nhân dân ngày 21 tháng 6 năm 1994;",
            "Căn cứ Nghị định số 91/CP ngày 17 tháng 8 năm 1994 của Chính phủ ban hành Điều lệ "
            "quản lý quy hoạch đô thị;"]


def documents_for(plans: list[DemoPlan]) -> list[DemoDocument]:
    docs: list[DemoDocument] = []
    notice = "Văn bản minh họa của bản demo, không có giá trị pháp lý."
    for p in plans:
        zones = [z for z in p.zones if z.function_code not in ("GT", "MN")][:6]
        docs.append(DemoDocument(
            "quyet_dinh", p.decision_number, p.decision_date, p.approving_body,
            f"Quyết định phê duyệt {p.name}",
            [
                notice,
                f"{p.approving_body.upper()}",
                f"Số: {p.decision_number}    Hà Nội, ngày {p.decision_date:%d} tháng "
                f"{p.decision_date:%m} năm {p.decision_date:%Y}",
                "QUYẾT ĐỊNH",
                f"Về việc phê duyệt {p.name}.",
                *_legal_basis(p.decision_date),
                f"Điều 1. Phê duyệt {p.name} với các nội dung chính: tỷ lệ 1/{p.scale_denominator}, "
                f"diện tích khoảng {p.outline.area / 10000:.1f} ha.",
                "Điều 2. Giao Sở Quy hoạch – Kiến trúc kiểm tra, xác nhận hồ sơ bản vẽ; "
                "UBND quận, huyện tổ chức công bố công khai quy hoạch.",
                "Điều 3. Quyết định có hiệu lực kể từ ngày ký.",
            ],
            [p.key],
            image_only=p.key == "master_1998",
        ))
        if p.kind in ("phan_khu", "chi_tiet", "cum_cong_nghiep"):
            rows = [
                f"Ô đất {z.label}: chức năng {z.function_code}, diện tích {z.geom.area:,.0f} m², "
                f"mật độ xây dựng {z.coverage_pct or 0:.0f}%, tầng cao {z.floors_min or 0}–"
                f"{z.floors_max or 0} tầng, hệ số sử dụng đất {z.far or 0} lần."
                for z in zones
            ]
            docs.append(DemoDocument(
                "thuyet_minh", None, p.decision_date, "Viện Quy hoạch xây dựng Hà Nội",
                f"Thuyết minh tổng hợp {p.name}",
                [notice, "Chương I. Lý do và sự cần thiết lập quy hoạch.",
                 f"Khu vực nghiên cứu có diện tích khoảng {p.outline.area / 10000:.1f} ha. "
                 + (p.description or ""),
                 "Chương II. Đánh giá hiện trạng: dân cư, sử dụng đất, hạ tầng xã hội, cây xanh, "
                 "mặt nước và hạ tầng kỹ thuật.",
                 "Chương III. Quy hoạch sử dụng đất và các chỉ tiêu quy hoạch kiến trúc.", *rows],
                [p.key],
            ))
            docs.append(DemoDocument(
                "quy_dinh", None, p.decision_date, p.approving_body,
                f"Quy định quản lý theo {p.name}",
                [notice, "Điều 1. Đối tượng áp dụng và phân công quản lý.",
                 "Điều 2. Quy định về chỉ giới đường đỏ, chỉ giới xây dựng, cốt xây dựng.",
                 "Điều 3. Mật độ xây dựng, tầng cao, hệ số sử dụng đất của từng ô đất theo bản vẽ "
                 "quy hoạch tổng mặt bằng sử dụng đất.", *rows[:3]],
                [p.key],
            ))
        if p.status == "amended":
            docs.append(DemoDocument(
                "dieu_chinh", "1789/QĐ-UBND", p.decision_date.replace(year=2021), p.approving_body,
                f"Quyết định điều chỉnh cục bộ {p.name}",
                [notice, "Điều chỉnh cục bộ chức năng sử dụng đất một số ô đất; các nội dung "
                 "khác giữ nguyên theo quyết định phê duyệt."],
                [p.key],
            ))
    return docs


def _register_fonts(settings: Settings) -> tuple[str, str]:
    if not settings.font_path or not Path(settings.font_path).exists():
        raise ConfigurationError(
            "no font with Vietnamese glyphs: install fonts-dejavu-core or set PLANNING_FONT_PATH"
        )
    if "VNSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("VNSans", settings.font_path))
        pdfmetrics.registerFont(TTFont("VNSans-Bold", settings.bold_font))
    return "VNSans", "VNSans-Bold"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if pdfmetrics.stringWidth(trial, font, size) <= width:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def render_pdf(doc: DemoDocument, settings: Settings) -> bytes:
    """The PDF bytes of one demo document (text layer, or an image-only scan)."""
    font, bold = _register_fonts(settings)
    if doc.image_only:
        return _render_scanned(doc, settings)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle(_nfc(doc.title))
    c.setAuthor(_nfc(doc.issuer))
    width, height = A4
    y = height - 25 * mm
    c.setFont(bold, 13)
    for line in _wrap(_nfc(doc.title), bold, 13, width - 40 * mm):
        c.drawString(20 * mm, y, line)
        y -= 7 * mm
    y -= 3 * mm
    c.setFont(font, 10.5)
    for para in doc.paragraphs:
        for line in _wrap(_nfc(para), font, 10.5, width - 40 * mm):
            if y < 20 * mm:
                c.showPage()
                c.setFont(font, 10.5)
                y = height - 20 * mm
            c.drawString(20 * mm, y, line)
            y -= 5.5 * mm
        y -= 2.5 * mm
    c.setFont(font, 8)
    c.drawString(20 * mm, 10 * mm, f"{DOCUMENT_TYPES[doc.doc_type][0]} – dữ liệu minh họa")
    c.showPage()
    c.save()
    return buf.getvalue()


def _render_scanned(doc: DemoDocument, settings: Settings) -> bytes:
    """Draw the text into a 200 dpi greyscale image, slightly blurred, and wrap it in a PDF."""
    dpi = 200
    w, h = int(8.27 * dpi), int(11.69 * dpi)
    img = Image.new("L", (w, h), 250)
    draw = ImageDraw.Draw(img)
    title_font = ImageFont.truetype(settings.bold_font, 34)
    body_font = ImageFont.truetype(settings.font_path, 28)
    y = 160
    margin = 150
    for text_, fnt in [(doc.title, title_font)] + [(p, body_font) for p in doc.paragraphs]:
        words, line = _nfc(text_).split(), ""
        for word in words:
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=fnt) <= w - 2 * margin:
                line = trial
            else:
                draw.text((margin, y), line, fill=20, font=fnt)
                y += int(fnt.size * 1.5)
                line = word
        if line:
            draw.text((margin, y), line, fill=20, font=fnt)
            y += int(fnt.size * 1.5)
        y += 18
    img = img.rotate(0.4, fillcolor=250).filter(ImageFilter.GaussianBlur(0.6))
    png = io.BytesIO()
    img.save(png, format="PNG")
    png.seek(0)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.drawImage(ImageReader(png), 0, 0, width=A4[0], height=A4[1])
    c.showPage()
    c.save()
    return buf.getvalue()
