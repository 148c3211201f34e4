"""Plans and zones made by code for the history tests (EPSG:5897 metres, inside Hanoi)."""

from __future__ import annotations

import datetime as dt

import pytest
from shapely.geometry import box
from sqlalchemy import text

#: A corner inside Hanoi (Cầu Giấy), in VN-2000 / TM-3 105° metres.
X0, Y0 = 580_000.0, 2_330_000.0


def add_plan(conn, name: str, *, decision: str = "1/QĐ-UBND", day=dt.date(2015, 1, 1),
             supersedes: int | None = None, status: str = "approved",
             outline=None, valid_to=None) -> int:
    outline = outline or box(X0 - 100, Y0 - 100, X0 + 1100, Y0 + 1100)
    return conn.execute(text("""
        INSERT INTO plans (name, kind, scale_denominator, status, decision_number, decision_date,
                           approving_body, valid_from, valid_to, supersedes_id, geom, is_fictional)
        VALUES (:name, 'chi_tiet', 500, :status, :decision, :day, 'UBND Thành phố Hà Nội',
                :day, :valid_to, :supersedes, ST_Multi(ST_GeomFromText(:wkt, 5897)), false)
        RETURNING id"""), {"name": name, "decision": decision, "day": day, "status": status,
                          "supersedes": supersedes, "wkt": outline.wkt,
                          "valid_to": valid_to}).scalar_one()


def add_zone(conn, plan_id: int, label: str, code: str, geom, **indicators) -> int:
    values = {"coverage_pct": None, "floors_min": None, "floors_max": None, "far": None,
              "population": None, **indicators}
    return conn.execute(text("""
        INSERT INTO land_use_zones (plan_id, label, function_code, area_m2, coverage_pct,
                                    floors_min, floors_max, far, population, geom)
        VALUES (:plan, :label, :code, :area, :coverage_pct, :floors_min, :floors_max, :far,
                :population, ST_Multi(ST_GeomFromText(:wkt, 5897)))
        RETURNING id"""), {"plan": plan_id, "label": label, "code": code, "area": geom.area,
                          "wkt": geom.wkt, **values}).scalar_one()


def cell(col: int, row: int = 0, width: float = 100, height: float = 100):
    """A 100 m block of the test grid."""
    x, y = X0 + col * 120, Y0 + row * 120
    return box(x, y, x + width, y + height)


@pytest.fixture
def legend_loaded(conn):
    return conn
