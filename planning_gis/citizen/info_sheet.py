"""The planning information sheet (phiếu thông tin quy hoạch): one printable PDF for a point or plot.

What a citizen takes to a notary or a bank, so it says plainly what it is — information, not a
certificate — and everything it says comes from the look-up's answer (:mod:`layers.lookup`, the
same answer as ``/api/lookup`` that the page's panel shows) plus the units and data date of
:mod:`planning_gis.citizen.place`. For a plot it lists each zone's share of it in m² and %.
reportlab with DejaVu, so Vietnamese prints correctly;
the map is drawn by :mod:`planning_gis.citizen.snapshot`, never fetched from a tile service.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from planning_gis.errors import ConfigurationError
from planning_gis.settings import Settings

NOTICE_VI = (
    "Phiếu này chỉ nhằm cung cấp thông tin tham khảo, được tạo tự động từ cơ sở dữ liệu quy hoạch "
    "số hóa. Phiếu không phải là văn bản cung cấp thông tin quy hoạch, chứng chỉ quy hoạch hay "
    "giấy phép do cơ quan nhà nước có thẩm quyền cấp và không có giá trị pháp lý. Ranh giới trên "
    "bản đồ có sai số; khi cần căn cứ pháp lý, hãy đối chiếu hồ sơ quy hoạch gốc hoặc liên hệ "
    "Sở Quy hoạch – Kiến trúc Hà Nội."
)
NOTICE_EN = (
    "For information only: generated automatically from the digitised planning database. Not an "
    "official planning certificate or permit and without legal value; boundaries carry errors. "
    "Check the original plan documents for any legal purpose."
)


def _fonts(settings: Settings) -> tuple[str, str]:
    """Register DejaVu once; without it Vietnamese would print as boxes, so refuse."""
    if not settings.font_path:
        raise ConfigurationError("no TrueType font with Vietnamese glyphs: set PLANNING_FONT_PATH")
    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", settings.font_path))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", settings.bold_font))
    return "DejaVu", "DejaVu-Bold"


def _date_vi(value: str | None) -> str:
    if not value:
        return "—"
    return dt.date.fromisoformat(value[:10]).strftime("%d/%m/%Y")


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")
    else:
        text = f"{value:,}".replace(",", " ")
    return f"{text} {unit}".strip()


def floors_text(zone: dict[str, Any]) -> str:
    lo, hi = zone.get("floors_min"), zone.get("floors_max")
    if lo is None and hi is None:
        return "—"
    if lo is None or lo == hi:
        return f"{hi}"
    if hi is None:
        return f"từ {lo}"
    return f"{lo}–{hi}"


def build_info_sheet(info: dict[str, Any], snapshot_png: bytes, settings: Settings, *,
                     share_url: str, generated_at: dt.datetime | None = None,
                     sign_off: list[list[str]] | None = None) -> bytes:
    """The PDF bytes for the point described by ``info``; ``sign_off`` (rows of label, value:
    the request's code, the officer who signed it off, the date) is printed when the sheet
    answers a planning-information request."""
    regular, bold = _fonts(settings)
    generated_at = generated_at or dt.datetime.now().astimezone()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor="#333333")
    h1 = ParagraphStyle("h1", parent=base, fontName=bold, fontSize=15, leading=19,
                        alignment=1, spaceAfter=1)
    h2 = ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11, leading=14,
                        spaceBefore=6, spaceAfter=3, textColor="#7a1f1f")
    sub = ParagraphStyle("sub", parent=base, alignment=1, textColor="#444444")

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(text, style)

    story: list[Any] = [
        p("PHIẾU THÔNG TIN QUY HOẠCH (THAM KHẢO)", h1),
        p("Planning information sheet — for information only", sub),
        Spacer(1, 3 * mm),
    ]
    notice = Table([[p("<b>LƯU Ý:</b> " + escape(NOTICE_VI), small)],
                    [p(escape(NOTICE_EN), small)]], colWidths=[180 * mm])
    notice.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor("#b00020")),
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fff4f4")),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    story.append(notice)
    if info.get("fictional"):
        story.append(p("<b>Dữ liệu minh họa (giả định), không phải quy hoạch thật</b> — "
                       "fictional demo data.", small))

    pt = info["query"]
    plot_area = pt.get("plot_area_m2")
    units = info.get("units", [])
    unit_text = "; ".join(
        escape(u["name"]) + ("" if u["current"] else f" (tên cũ, đến {_date_vi(u['valid_to'])})")
        for u in units) or "—"
    where = "Tâm thửa đất" if plot_area is not None else "Vị trí"
    loc = [
        [f"{where} (WGS 84)", f"kinh độ {pt['lon']:.6f}, vĩ độ {pt['lat']:.6f}"],
        ["VN-2000 (TM-3 105°)", f"X (Bắc) = {pt['x_north']:.2f} m; Y (Đông) = {pt['y_east']:.2f} m"],
        ["Đơn vị hành chính", p(unit_text)],
    ]
    if plot_area is not None:
        loc.insert(0, ["Diện tích thửa đất", _fmt(float(plot_area), "m²", 1)])
    story += [p("1. Vị trí / Location", h2), _kv_table(loc, regular)]

    story.append(Spacer(1, 2 * mm))
    story.append(Image(io.BytesIO(snapshot_png), width=180 * mm, height=180 * mm * 760 / 1000))
    story.append(p("Bản đồ vẽ từ cơ sở dữ liệu quy hoạch quanh "
                   + ("thửa đất tra cứu (viền xanh)" if plot_area is not None
                      else "vị trí tra cứu (chấm xanh)")
                   + "; màu theo chú giải chức năng sử dụng đất; đường đỏ: chỉ giới đường đỏ; "
                   "đường đen: ranh giới đồ án.", small))

    governing = next((pl for pl in info["plans"] if pl["governing"]), None)
    if plot_area is not None:
        story.append(p("2. Các ô quy hoạch trong thửa đất / Zones in the plot", h2))
        story += _shares(governing, info["plans"], float(plot_area), p, base, small, regular)
    else:
        zone = governing["zones"][0] if governing and governing["zones"] else None
        story.append(p("2. Ô quy hoạch / Zone", h2))
        if zone:
            ind, leg = zone["indicators"], zone["legend"]
            rows = [
                ["Ký hiệu ô đất", zone["label"]],
                ["Chức năng sử dụng đất", p(f"{escape(leg['name_vi'])} "
                                          f"({escape(zone['function_code'])})"
                                          f" — <i>{escape(leg['name_en'])}</i>")],
                ["Diện tích", _fmt(_float(ind["area_m2"]), "m²")],
                ["Mật độ xây dựng", _fmt(_float(ind["coverage_pct"]), "%")],
                ["Tầng cao", floors_text(ind) + (" tầng" if floors_text(ind) != "—" else "")],
                ["Hệ số sử dụng đất", _fmt(_float(ind["far"]), "lần", 2)],
                ["Dân số", _fmt(ind["population"], "người")],
                ["Sai số nắn tờ bản đồ quét (vị trí tờ, không phải ranh giới ô)", accuracy_text(zone)],
            ]
            story.append(_kv_table(rows, regular))
        else:
            story.append(p("Vị trí này không thuộc ô quy hoạch nào của đồ án đang có hiệu lực "
                           "trong cơ sở dữ liệu."))

    if info.get("red_line"):
        story.append(p("Chỉ giới đường đỏ, chỉ giới xây dựng / Red line, building line", h2))
        story += _red_line(info["red_line"], plot_area, p, base, small, regular)

    story.append(p("3. Đồ án quy hoạch / Plans", h2))
    if governing:
        d = governing["decision"]
        rows = [
            ["Đồ án áp dụng", p(f"<b>{escape(governing['name'])}</b>")],
            ["Loại, tỷ lệ", governing["kind"]["name_vi"] + (f", {governing['scale']}"
                                                            if governing["scale"] else "")],
            ["Trạng thái", governing["status"]["name_vi"]],
            ["Quyết định phê duyệt", p(escape(f"Số {d['number'] or '—'} ngày {_date_vi(d['date'])}"
                                       f" — {d['approving_body'] or '—'}"))],
        ]
        story.append(_kv_table(rows, regular))
    else:
        story.append(p("Không có đồ án quy hoạch đang có hiệu lực tại vị trí này."))
    others = [pl for pl in info["plans"] if not pl["governing"]]
    if others:
        story.append(Spacer(1, 2 * mm))
        story.append(p("Các đồ án khác cũng bao trùm vị trí này:", base))
        for pl in others:
            z = pl["zones"][0] if pl["zones"] else None
            mark = " <b>[HẾT HIỆU LỰC / superseded]</b>" if pl["superseded"] else ""
            zone_txt = (f" — ô {escape(z['label'])} ({escape(z['legend']['name_vi'])})"
                        if z and plot_area is None else "")
            dec = pl["decision"]
            story.append(p(f"• {escape(pl['name'])}{mark}{zone_txt}; QĐ số "
                           f"{escape(dec['number'] or '—')} ngày {_date_vi(dec['date'])}", small))

    governing = [pl for pl in info["plans"] if pl["governing"]]
    docs = [doc for pl in governing for doc in pl["documents"]]
    if docs:
        story.append(p("4. Hồ sơ, quyết định / Documents", h2))
        for doc in docs:
            num = f" số {escape(doc['number'])}" if doc["number"] else ""
            story.append(p(f"• {escape(doc['type_vi'])}{num}, ngày {_date_vi(doc['issued_on'])}, "
                           f"{escape(doc['issuer'] or '')}: {escape(doc['title'])}", small))
        for pl in governing:
            more = pl.get("documents_total", 0) - len(pl["documents"])
            if more > 0:
                story.append(p(f"… và {more} văn bản khác của đồ án / {more} more documents: "
                               f"{escape(pl['documents_page'])}", small))

    if info.get("changes"):
        # what the adjustments changed here (migration 0016's history, plans superseded)
        story.append(p("Thay đổi quy hoạch tại đây / What changed here", h2))
        for change in info["changes"]:
            story.append(p("• " + escape(change["summary_vi"]), base))
            story.append(p(escape(change["summary_en"]), small))
    story.append(p("5. Nguồn dữ liệu / Data", h2))
    story.append(_kv_table([
        ["Dữ liệu cập nhật đến", _date_vi(info.get("data_date"))],
        ["Ngày lập phiếu", generated_at.strftime("%d/%m/%Y %H:%M")],
        ["Đường dẫn chia sẻ", p(escape(share_url), small)],
    ], regular))
    if sign_off:
        story.append(p("6. Trả lời đề nghị cung cấp thông tin / Request answered", h2))
        story.append(_kv_table([[label, p(escape(value), small)] for label, value in sign_off],
                               regular))

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm,
                            title="Phiếu thông tin quy hoạch (tham khảo)",
                            author="Bản đồ quy hoạch Hà Nội", subject=f"{pt['lon']}, {pt['lat']}")

    def footer(canvas, document) -> None:  # noqa: ANN001 - reportlab's callback signature
        canvas.saveState()
        canvas.setFont(regular, 7.5)
        canvas.drawString(15 * mm, 8 * mm, "Thông tin tham khảo, không có giá trị pháp lý — "
                          "For information only, no legal value.")
        canvas.drawRightString(195 * mm, 8 * mm, f"Trang {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def accuracy_text(zone: dict[str, Any]) -> str:
    """The sheet's accuracy for a traced zone: the check-point error, else leave-one-out."""
    acc = zone.get("accuracy") or {}
    what = {"check_points": "sai số tại điểm kiểm tra độc lập",
            "leave_one_out": "sai số kiểm tra chéo bỏ-một-điểm"}.get(acc.get("basis"))
    if acc.get("sheet_id") is None or what is None or acc.get("error_m") is None:
        return "chưa có số đo độc lập (ô không vẽ từ tờ bản đồ quét đã nắn chỉnh)"
    return f"± {_fmt(float(acc['error_m']), 'm', 1)} ({what}, tờ {acc.get('sheet_title') or ''})"


def _shares(governing: dict[str, Any] | None, plans: list[dict[str, Any]], plot_area: float,
            p, base, small, font: str) -> list[Any]:  # noqa: ANN001 - local paragraph helpers
    """One table per plan the plot touches, governing first: each zone's share in m² and %."""
    out: list[Any] = []
    if governing is None:
        out.append(p("Thửa đất không thuộc đồ án quy hoạch nào đang có hiệu lực.", base))
    for pl in plans:
        if not pl["zones"]:
            continue
        role = "Đồ án áp dụng" if pl["governing"] else (
            "Hết hiệu lực" if pl["superseded"] else "Đồ án khác")
        out.append(p(f"<b>{escape(role)}:</b> {escape(pl['name'])}", base))
        rows: list[list[Any]] = [["Ô đất", "Chức năng", "Diện tích trong thửa", "Tỷ lệ"]]
        for z in sorted(pl["zones"], key=lambda z: -z["share_m2"]):
            rows.append([z["label"], p(f"{escape(z['legend']['name_vi'])} "
                                       f"({escape(z['function_code'])})", small),
                         _fmt(float(z["share_m2"]), "m²", 1), _fmt(float(z["share_pct"]), "%", 1)])
        rows.append(["Cộng", "", _fmt(float(pl["plot_covered_m2"]), "m²", 1),
                     _fmt(float(pl["plot_covered_pct"]), "%", 1)])
        table = Table(rows, colWidths=[28 * mm, 82 * mm, 40 * mm, 30 * mm], repeatRows=1)
        table.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor("#444444")),
        ]))
        out += [table, Spacer(1, 2 * mm)]
    out.append(p(f"Diện tích thửa đất tính trên mặt phẳng VN-2000 / TM-3 105°: "
                 f"{_fmt(plot_area, 'm²', 1)}. Tỷ lệ = diện tích phần ô đất trong thửa / diện tích "
                 "thửa.", small))
    return out


def _red_line(answer: dict[str, Any], plot_area: Any, p, base, small,
              font: str) -> list[Any]:  # noqa: ANN001 - local paragraph helpers
    """The red-line answer as the panel says it: the sentence, the road, the m² cut."""
    out: list[Any] = [p("<b>" + escape(answer["summary_vi"]) + "</b>", base)]
    road = answer.get("road")
    rows: list[list[Any]] = []
    if road:
        dec = road["plan"]["decision"]
        width = _fmt(_float(road["width_m"]), "m", 1)
        rows += [
            ["Tuyến đường", p(escape(road["road_name"] or "—"))],
            ["Lộ giới (bề rộng quy hoạch)", width + (f", mặt cắt {road['cross_section']}"
                                                     if road.get("cross_section") else "")],
            ["Khoảng lùi (chỉ giới xây dựng)", _fmt(_float(road.get("setback_m")), "m", 1)],
            ["Theo đồ án", p(escape(road["plan"]["name"]))],
            ["Quyết định", p(escape(f"Số {dec['number'] or '—'} ngày {_date_vi(dec['date'])}"
                                    f" — {dec['approving_body'] or '—'}"))],
            ["Khoảng cách tới chỉ giới đường đỏ", _fmt(float(road["distance_m"]), "m", 1)],
        ]
    if plot_area is not None and "cut_m2" in answer:
        rows += [
            ["Diện tích trong chỉ giới đường đỏ",
             f"{_fmt(float(answer['cut_m2']), 'm²', 1)} ({_fmt(float(answer['cut_pct']), '%', 1)})"],
            ["Diện tích còn lại", _fmt(float(answer["remaining_m2"]), "m²", 1)],
            ["Trong khoảng lùi (không được xây)", _fmt(float(answer["setback_strip_m2"]), "m²", 1)],
            ["Có thể xây dựng", _fmt(float(answer["buildable_m2"]), "m²", 1)],
        ]
    elif road:
        rows.append(["Trong phạm vi lộ giới", "CÓ" if answer["inside_reserve"] else "Không"])
    if rows:
        out.append(_kv_table(rows, font))
    out.append(p("Chỉ giới đường đỏ số hóa từ đồ án quy hoạch tuyến đường; khoảng cách và diện "
                 "tích tính trên mặt phẳng VN-2000 / TM-3 105°, có sai số của bản vẽ. Trên bản đồ: "
                 "vùng tô đỏ nhạt là phạm vi lộ giới.", small))
    return out


def _kv_table(rows: list[list[Any]], font: str) -> Table:
    table = Table(rows, colWidths=[48 * mm, 132 * mm])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 9.5),
        ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#444444")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#cccccc")),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table
