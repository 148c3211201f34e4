"""The land-use legend: codes, Vietnamese and English names, colours, kept as data.

The bundled ``data/legend.csv`` follows the ministry's colours for planning drawings; loading it
is an upsert so that a city can recolour or add codes without a migration.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from planning_gis.models import LandUseLegend

LEGEND_CSV = Path(__file__).parent / "data" / "legend.csv"


def read_legend_csv(path: Path = LEGEND_CSV) -> list[dict[str, object]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = []
        for row in csv.DictReader(fh):
            rows.append(
                {
                    "code": row["code"].strip(),
                    "name_vi": unicodedata.normalize("NFC", row["name_vi"].strip()),
                    "name_en": row["name_en"].strip(),
                    "color": row["color"].strip(),
                    "category": row["category"].strip(),
                    "sort_order": int(row["sort_order"]),
                }
            )
    return rows


def load_legend(session: Session, path: Path = LEGEND_CSV) -> int:
    """Insert or update the legend rows that differ; returns how many codes the table holds.

    Only changed rows are written: the legend's edition triggers fire per statement, and a
    write of an unchanged legend on every ``db upgrade`` made the zone coverage stale, so the
    city's mid-zoom tiles fell back to the live zones (2 s, 1 MB) until the next rebuild.
    """
    fields = ("name_vi", "name_en", "color", "category", "sort_order")
    held = {r.code: tuple(getattr(r, f) for f in fields)
            for r in session.scalars(select(LandUseLegend))}
    rows = [r for r in read_legend_csv(path)
            if held.get(r["code"]) != tuple(r[f] for f in fields)]
    if not rows:
        return len(held)
    stmt = insert(LandUseLegend).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LandUseLegend.code],
        set_={c: stmt.excluded[c] for c in fields},
    )
    session.execute(stmt)
    return len(session.scalars(select(LandUseLegend.code)).all())


def legend_rows(session: Session) -> list[LandUseLegend]:
    return list(session.scalars(select(LandUseLegend).order_by(LandUseLegend.sort_order)))
