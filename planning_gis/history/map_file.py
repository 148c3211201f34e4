"""A comparison (or a zones-import report) as one self-contained HTML map file.

For an e-mail to a council or an archive: it opens offline, years later, without our server.
folium writes the map (the design card's choice); its CDN links (Leaflet, jQuery, Bootstrap,
Font Awesome) are dropped and our own Leaflet build is inlined, and there is no base-map layer
(tiles would need the network): the zones are drawn on a plain background with their details in
popups and a table of the changes below the map. Text is escaped: a zone label is never HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import folium

from planning_gis.history.compare import Comparison
from planning_gis.history.export import change_dict, to_wgs84

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet"

_KIND_VI = {"added": "Thêm mới", "removed": "Bị bỏ", "modified": "Thay đổi", "split": "Tách ô",
            "merged": "Gộp ô", "reshaped": "Sắp xếp lại", "rejected": "Bị từ chối"}
_COLOURS = {"added": "#1a9850", "removed": "#d73027", "modified": "#1450c8", "split": "#7b3294",
            "merged": "#e08214", "reshaped": "#555555", "rejected": "#d73027"}


def _offline_map(bounds: tuple[float, float, float, float] | None) -> folium.Map:
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    m.default_js = []
    m.default_css = []
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
    m.get_root().header.add_child(folium.Element(
        f"<style>{css}\nbody{{font-family:sans-serif;margin:0}}"
        ".folium-map{height:70vh!important}table{border-collapse:collapse;margin:1em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}</style>"
        f"<script>{js}</script>"))
    if bounds:
        minx, miny, maxx, maxy = bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _popup(lines: list[str]) -> folium.Popup:
    return folium.Popup("<br>".join(html.escape(x) for x in lines), max_width=420)


def _bounds(features: list[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    import shapely
    from shapely.geometry import shape

    geoms = [shape(f) for f in features]
    return tuple(shapely.union_all(geoms).bounds) if geoms else None


def _page(m: folium.Map, title: str, intro: list[str], rows: list[list[str]],
          head: list[str]) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(x)}</p>" for x in intro]
    m.get_root().html.add_child(folium.Element("".join(body)), index=0)
    table = ["<table><thead><tr>", *(f"<th>{html.escape(h)}</th>" for h in head),
             "</tr></thead><tbody>"]
    for r in rows:
        table.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    table.append("</tbody></table>")
    m.get_root().html.add_child(folium.Element("".join(table)))
    return m.get_root().render()


def comparison_html(cmp: Comparison) -> str:
    """The comparison's changed zones on a map (coloured by kind, popups with the details), the
    older side's zones dashed beneath, and the list of changes."""
    changes = [change_dict(c, cmp.legend, geometry=True) for c in cmp.changes]
    m = _offline_map(_bounds([c["geometry"] for c in changes]
                             or [to_wgs84(z.geom) for z in cmp.b.zones]))
    before = folium.FeatureGroup(name=f"Trước: {cmp.a.name}")
    for c in cmp.changes:
        for z in c.a:
            folium.GeoJson(to_wgs84(z.geom), style_function=lambda _f: {
                "color": "#666", "weight": 1, "dashArray": "4 4", "fill": False}).add_to(before)
    before.add_to(m)
    after = folium.FeatureGroup(name="Thay đổi")
    for c in changes:
        colour = _COLOURS[c["kind"]]
        lines = [_KIND_VI[c["kind"]], c["summary_vi"]]
        lines += [f"Trước: {z['label']} — {z['function_vi']} — {z['area_m2']} m²"
                  for z in c["zones_a"]]
        lines += [f"Sau: {z['label']} — {z['function_vi']} — {z['area_m2']} m²"
                  for z in c["zones_b"]]
        folium.GeoJson(c["geometry"], style_function=lambda _f, colour=colour: {
            "color": colour, "weight": 3, "fillColor": colour, "fillOpacity": 0.25},
            popup=_popup(lines)).add_to(after)
    after.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    side = lambda s: s.name + (f" (ngày {s.on.strftime('%d/%m/%Y')})" if s.on else "")  # noqa: E731
    counts = cmp.counts()
    intro = [f"Trước: {side(cmp.a)}", f"Sau: {side(cmp.b)}",
             "Số thay đổi: " + ", ".join(f"{_KIND_VI.get(k, k)} {v}" for k, v in counts.items()
                                        if v and k != "unchanged")
             + f"; không đổi: {counts['unchanged']}.",
             "Tệp độc lập, mở được khi không có mạng. Dữ liệu minh họa nếu có ghi “minh họa”."]
    rows = [[_KIND_VI[c["kind"]], c["summary_vi"], c["decision"].get("number") or "",
             c["decision"].get("effective_on") or ""] for c in changes]
    return _page(m, "So sánh quy hoạch", intro,
                 rows, ["Loại", "Thay đổi", "Quyết định", "Hiệu lực"])


def import_report_html(plan_name: str, file_name: str, report: dict[str, Any],
                       comparison: Comparison | None,
                       rejected: list[tuple[dict[str, Any], str]]) -> str:
    """A zones-import report: the rejected features (red, with why) and, when the file would
    make a new version, what it changes against the plan's zones."""
    features = [g for g, _ in rejected]
    changes = [change_dict(c, comparison.legend, geometry=True)
               for c in comparison.changes] if comparison else []
    m = _offline_map(_bounds(features + [c["geometry"] for c in changes]))
    group = folium.FeatureGroup(name="Bị từ chối")
    for geom, why in rejected:
        folium.GeoJson(geom, style_function=lambda _f: {
            "color": "#d73027", "weight": 3, "fillOpacity": 0.3}, popup=_popup([why])).add_to(group)
    group.add_to(m)
    if changes:
        group = folium.FeatureGroup(name="Thay đổi so với bản trước")
        for c in changes:
            colour = _COLOURS[c["kind"]]
            folium.GeoJson(c["geometry"], style_function=lambda _f, colour=colour: {
                "color": colour, "weight": 2, "fillOpacity": 0.2},
                popup=_popup([c["summary_vi"]])).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    intro = [f"Đồ án: {plan_name}", f"Tệp: {file_name}: {report.get('features', 0)} đối tượng, "
             f"{report.get('accepted', 0)} hợp lệ."]
    rows = [[str(p["fid"]), p["message_vi"], "bị từ chối" if p["rejected"] else "đã sửa"]
            for p in report.get("problems", [])]
    rows += [["", c["summary_vi"], _KIND_VI[c["kind"]]] for c in changes]
    return _page(m, "Báo cáo nhập ô quy hoạch", intro, rows, ["Đối tượng", "Nội dung", "Kết quả"])
