"""The gazetteer of the search box: streets, house numbers, named places and administrative units.

A citizen looks for *where*, before *what*: "Xuân Thủy", "12 Xuân Thủy", "Dịch Vọng" (a ward
merged away on 1/7/2025), "cau giay". These are answered here, from the base map
(:mod:`planning_gis.basemap`) and ``admin_units``, and rank above the library's plans and
documents (:func:`planning_gis.citizen.find.find` puts them first). An old unit's name finds the
old unit and says which current units now cover it, by their overlap on the map (a district that
became several wards names them all, not one successor picked by hand).

Each branch reads a trigram GIN index over ``f_search_norm(name)`` (migrations 0002, 0011), with
the same normalisation and fuzziness as the library search.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, text

from planning_gis.documents.search import FUZZY_NAME, UNIT_LEVEL_VI, fold, highlight, parse_query

#: "12 Xuân Thủy", "12A Xuân Thủy", "12/3 Xuân Thủy", "số 12 Xuân Thủy".
_HOUSE = re.compile(r"^\s*(?:s[oố]\s+)?(\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*)\s*,?\s+(\D.*)$",
                    re.IGNORECASE)

_BBOX_4326 = ("json_build_array(round(ST_XMin(b)::numeric, 6), round(ST_YMin(b)::numeric, 6), "
              "round(ST_XMax(b)::numeric, 6), round(ST_YMax(b)::numeric, 6))")

STREETS_SQL = text(f"""
SELECT min(s.id) AS id, s.name, min(s.kind) AS kind, bool_or(s.is_fictional) AS fictional,
       max(word_similarity(:norm, public.f_search_norm(s.name))
           + similarity(:norm, public.f_search_norm(s.name))) AS score,
       {_BBOX_4326.replace("(b)", "(ST_Extent(ST_Transform(s.geom, 4326)))")} AS bbox
  FROM streets s
 WHERE s.name IS NOT NULL AND :norm <% public.f_search_norm(s.name)
   AND word_similarity(:norm, public.f_search_norm(s.name)) >= :fuzzy
 GROUP BY s.name
 ORDER BY score DESC
 LIMIT :k
""")

ADDRESSES_SQL = text(f"""
SELECT a.id, a.housenumber, a.street, a.name, a.is_fictional AS fictional,
       word_similarity(:norm, public.f_search_norm(a.street)) AS score,
       ST_X(p) AS lon, ST_Y(p) AS lat,
       {_BBOX_4326.replace("(b)", "(Box2D(ST_Transform(ST_Expand(a.geom, 40), 4326)))")} AS bbox
  FROM addresses a, LATERAL ST_Transform(a.geom, 4326) AS p
 WHERE :norm <% public.f_search_norm(a.street)
   AND word_similarity(:norm, public.f_search_norm(a.street)) >= :fuzzy
   AND lower(a.housenumber) = lower(:housenumber)
 ORDER BY score DESC, a.id
 LIMIT :k
""")

PLACES_SQL = text(f"""
SELECT pl.id, pl.name, pl.kind, pl.is_fictional AS fictional,
       word_similarity(:norm, public.f_search_norm(pl.name))
         + similarity(:norm, public.f_search_norm(pl.name)) AS score,
       {_BBOX_4326.replace("(b)", "(Box2D(ST_Transform(ST_Expand(pl.geom, 300), 4326)))")} AS bbox
  FROM places pl
 WHERE :norm <% public.f_search_norm(pl.name)
   AND word_similarity(:norm, public.f_search_norm(pl.name)) >= :fuzzy
 ORDER BY score DESC
 LIMIT :k
""")

#: Units by name, current and former; a former one with the current units that cover it now.
UNITS_SQL = text(f"""
SELECT a.id, a.name, a.level, a.valid_from, a.valid_to, par.name AS parent_name,
       word_similarity(:norm, public.f_search_norm(a.name))
         + similarity(:norm, public.f_search_norm(a.name)) AS score,
       {_BBOX_4326.replace("(b)", "(Box2D(ST_Transform(a.geom, 4326)))")} AS bbox,
       (SELECT coalesce(json_agg(json_build_object('id', s.id, 'name', s.name, 'level', s.level)
                                 ORDER BY ST_Area(ST_Intersection(s.geom, a.geom)) DESC), '[]')
          FROM admin_units s
         WHERE a.valid_to IS NOT NULL AND a.valid_to < :today
           AND (s.valid_to IS NULL OR s.valid_to >= :today) AND s.level <> 'thanh_pho'
           AND s.geom && a.geom
           AND ST_Area(ST_Intersection(s.geom, a.geom)) > 0.05 * ST_Area(a.geom)) AS now_in
  FROM admin_units a LEFT JOIN admin_units par ON par.id = a.parent_id
 WHERE a.geom IS NOT NULL AND a.level <> 'thanh_pho'
   AND :norm <% public.f_search_norm(a.name)
   AND word_similarity(:norm, public.f_search_norm(a.name)) >= :fuzzy
 ORDER BY score DESC
 LIMIT :k
""")


def unit_title(name: str, level: str | None) -> str:
    """"Phường Nghĩa Đô": the level word in front unless the name already carries it."""
    word = UNIT_LEVEL_VI.get(level or "", "")
    if not word or fold(name).startswith(fold(word) + " "):
        return name
    return f"{word} {name}"


def _date_vi(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _hit(kind: str, ident: int, score: float, title: str, terms: tuple[str, ...],
         subtitle: str, bbox: Any, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "id": ident, "score": round(float(score), 4), "title": title,
            "title_html": str(highlight(title, terms)), "subtitle": subtitle, "snippet_html": "",
            "page": None, "url": "/", "bbox": bbox, **extra}


def lookup(conn: Connection, raw: str, *, limit: int = 10,
           today: dt.date | None = None) -> list[dict[str, Any]]:
    """Places matching the words, best first: house numbers, then streets, units and places."""
    today = today or dt.date.today()
    query = parse_query(raw)
    terms = query.terms
    params = {"norm": query.norm, "fuzzy": FUZZY_NAME, "k": limit}
    hits: list[dict[str, Any]] = []
    house = _HOUSE.match(query.raw)
    if house:
        street_q = parse_query(house.group(2))
        for r in conn.execute(ADDRESSES_SQL, {**params, "norm": street_q.norm,
                                              "housenumber": house.group(1)}):
            title = f"{r.housenumber} {r.street}"
            hits.append(_hit("address", r.id, 3 + r.score, title, terms,
                             "Số nhà" + (f" · {r.name}" if r.name else "")
                             + (" · dữ liệu minh họa" if r.fictional else ""), r.bbox,
                             point={"lon": round(r.lon, 7), "lat": round(r.lat, 7)}))
    for r in conn.execute(STREETS_SQL, params):
        hits.append(_hit("street", r.id, 1 + r.score, r.name, terms,
                         "Đường phố" + (" · dữ liệu minh họa" if r.fictional else ""), r.bbox))
    for r in conn.execute(UNITS_SQL, {**params, "today": today}):
        title = unit_title(r.name, r.level)
        parts = [r.parent_name] if r.parent_name else []
        former = r.valid_to is not None and r.valid_to < today
        now_in = [unit_title(u["name"], u["level"]) for u in (r.now_in or [])]
        if former:
            note = f"tên cũ, đến {_date_vi(r.valid_to)}"
            if now_in:
                note += "; nay thuộc " + ", ".join(now_in)
            parts.append(note)
        # A current unit ranks above its former namesake; both above the library's results.
        hits.append(_hit("place", r.id, 1 + r.score + (0 if former else 0.05), title, terms,
                         " · ".join(parts), r.bbox, historic=former,
                         now_in=[{"id": u["id"], "title": unit_title(u["name"], u["level"])}
                                 for u in (r.now_in or [])]))
    for r in conn.execute(PLACES_SQL, params):
        hits.append(_hit("place", r.id, 0.9 + r.score, r.name, terms,
                         "Địa danh" + (" · dữ liệu minh họa" if r.fictional else ""), r.bbox,
                         source="basemap"))
    hits.sort(key=lambda h: -h["score"])
    return hits[:limit]
