"""Each unit's record, in public: what it was asked, what it answered, and how fast.

The 2007 figure ("198 of 877 questions answered") was counted once, by hand, and went stale.
Here every figure is counted from the rows themselves whenever the page or the API is read, so a
unit cannot have a good record without answering. Per unit and per month of receipt (Hanoi
time): questions received, answered, answered by the deadline, overdue now, the median days to
answer; consultation comments received and answered; information requests received, closed,
closed by their legal deadline and overdue now; and the date each of the unit's plans and
published map layers was last changed. Each statement is one aggregate over an index on
(organisation, time).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, text

from planning_gis.exchange.common import hanoi_date

_MONTH = "to_char({col} AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM')"

QUESTIONS_SQL = text(f"""
SELECT organisation_id, {_MONTH.format(col="created_at")} AS month,
  count(*) AS questions_received,
  count(*) FILTER (WHERE status = 'answered') AS questions_answered,
  count(*) FILTER (WHERE status = 'answered'
    AND (answered_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date <= due_on) AS questions_on_time,
  count(*) FILTER (WHERE status = 'received' AND due_on < :today) AS questions_overdue_now,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - created_at)
    / 86400.0) FILTER (WHERE status = 'answered') AS median_days
FROM questions WHERE created_at >= :since
GROUP BY 1, 2""")

COMMENTS_SQL = text(f"""
SELECT c.organisation_id, {_MONTH.format(col="k.created_at")} AS month,
  count(*) AS comments_received,
  count(*) FILTER (WHERE k.responded_at IS NOT NULL) AS comments_answered
FROM consultation_comments k JOIN consultations c ON c.id = k.consultation_id
WHERE k.created_at >= :since
GROUP BY 1, 2""")

REQUESTS_SQL = text(f"""
SELECT organisation_id, {_MONTH.format(col="received_at")} AS month,
  count(*) AS requests_received,
  count(*) FILTER (WHERE status IN ('answered', 'returned')) AS requests_closed,
  count(*) FILTER (WHERE status IN ('answered', 'returned')
    AND (answered_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date <= due_on) AS requests_on_time,
  count(*) FILTER (WHERE status IN ('received', 'in_progress') AND due_on < :today)
    AS requests_overdue_now
FROM info_requests WHERE received_at >= :since
GROUP BY 1, 2""")

#: Each plan's last change: its creation, the newest audit entry about it (edits, documents,
#: zone imports) and, for its layers, the newest published sheet version.
PLANS_SQL = text("""
SELECT p.id, p.name, p.status, p.organisation_id,
  greatest(p.created_at, (SELECT max(a.at) FROM audit_log a
                          WHERE a.object_type = 'plan' AND a.object_id = p.id::text))
    AS plan_updated,
  (SELECT max(v.created_at) FROM sheet_versions v JOIN map_sheets s ON s.id = v.sheet_id
   WHERE s.plan_id = p.id) AS layers_updated
FROM plans p WHERE p.organisation_id IS NOT NULL
ORDER BY p.organisation_id, p.name""")

COUNTERS = ("questions_received", "questions_answered", "questions_on_time",
            "questions_overdue_now", "comments_received", "comments_answered",
            "requests_received", "requests_closed", "requests_on_time", "requests_overdue_now")


def _month_start(today: dt.date, months: int) -> dt.date:
    y, m = today.year, today.month - (months - 1)
    while m <= 0:
        m += 12
        y -= 1
    return dt.date(y, m, 1)


def unit_record(conn: Connection, *, months: int = 12, today: dt.date | None = None,
                organisation_id: int | None = None) -> dict[str, Any]:
    """Every unit's record over the last ``months`` months (or one unit's), and the city's."""
    today = today or hanoi_date()
    since = _month_start(today, months)
    params = {"today": today, "since": dt.datetime.combine(since, dt.time(),
                                                           tzinfo=dt.UTC)
              - dt.timedelta(hours=7)}
    cells: dict[Any, dict[str, dict[str, Any]]] = defaultdict(dict)
    for sql in (QUESTIONS_SQL, COMMENTS_SQL, REQUESTS_SQL):
        for row in conn.execute(sql, params).mappings():
            cell = cells[row["organisation_id"]].setdefault(row["month"], {"month": row["month"]})
            for key, value in row.items():
                if key not in ("organisation_id", "month"):
                    cell[key] = value
    names = dict(conn.execute(text("SELECT id, name FROM organisations")).all())
    plans: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(PLANS_SQL).mappings():
        plans[row["organisation_id"]].append({
            "id": row["id"], "name": row["name"], "status": row["status"],
            "plan_updated": _iso(row["plan_updated"]),
            "layers_updated": _iso(row["layers_updated"])})
    org_ids = set(names) | {k for k in cells if k is not None}
    if organisation_id is not None:
        org_ids = {organisation_id} & org_ids
    units = []
    city = dict.fromkeys(COUNTERS, 0)
    for org in sorted(org_ids, key=lambda o: names.get(o, "")):
        by_month = []
        totals = dict.fromkeys(COUNTERS, 0)
        for month in sorted(cells.get(org, {})):
            cell = {k: cells[org][month].get(k, 0) or 0 for k in COUNTERS}
            median = cells[org][month].get("median_days")
            cell.update(month=month, median_days=None if median is None
                        else round(float(median), 1))
            by_month.append(cell)
            for k in COUNTERS:
                totals[k] += cell[k]
        for k in COUNTERS:
            city[k] += totals[k]
        units.append({"organisation_id": org, "name": names.get(org, "?"), "totals": totals,
                      "by_month": by_month, "plans": plans.get(org, [])})
    if organisation_id is None and None in cells:
        for cell in cells[None].values():
            for k in COUNTERS:
                city[k] += cell.get(k, 0) or 0
    return {"as_of": today.isoformat(), "since": since.isoformat(), "months": months,
            "units": units, "city": {**city, "headline":
                                     f"{city['questions_answered']} / "
                                     f"{city['questions_received']}"}}


def _iso(value: dt.datetime | None) -> str | None:
    return hanoi_date(value).isoformat() if value else None
