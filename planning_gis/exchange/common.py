"""What questions, comments and requests share: who may act for a unit, staff to notify, dates."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TypeVar

from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from planning_gis.crs import STORAGE_SRID
from planning_gis.errors import Forbidden, NotFound
from planning_gis.exchange import codes
from planning_gis.models import Organisation, User

#: A question or an information request: both have a code, a key's hash and a unit.
T = TypeVar("T")

#: Deadlines and months are Hanoi's (a question asked at 23:30 on the 31st is the 31st's).
HANOI = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hanoi_date(moment: dt.datetime | None = None) -> dt.date:
    return (moment or now()).astimezone(HANOI).date()


def date_vi(day: dt.date | dt.datetime | str | None) -> str:
    """dd/mm/yyyy, as Vietnamese documents write dates (ISO text is accepted too)."""
    if day is None or day == "":
        return "—"
    if isinstance(day, str):
        day = dt.date.fromisoformat(day[:10])
    if isinstance(day, dt.datetime):
        day = hanoi_date(day)
    return day.strftime("%d/%m/%Y")


def require_unit_staff(user: User | None, organisation_id: int | None) -> User:
    """An admin, or a planner of the unit that owns the item (else 403)."""
    if user is None:
        raise Forbidden("sign in as the unit's staff", message_vi="Hãy đăng nhập.")
    if user.role == "admin" or (organisation_id is not None
                                and user.organisation_id == organisation_id):
        return user
    raise Forbidden("this item belongs to another unit",
                    message_vi="Mục này thuộc đơn vị khác; bạn không có quyền xử lý.")


def by_private_link(session: Session, model: type[T], code: str | None, key: str | None,
                    not_found: NotFound) -> T:
    """The question or request a citizen's private link names (code and key): ``not_found``
    alike for a wrong code and a wrong key, so that the link tells nothing of other items."""
    canonical = codes.normalise_code(code)
    item = session.scalar(select(model).where(model.code == canonical)) if canonical else None
    if item is None or not codes.key_matches(key, item.token_sha256):
        raise not_found
    return item


def for_unit_staff(session: Session, user: User | None, model: type[T], item_id: int,
                   not_found: NotFound) -> T:
    """An item by id for the staff of the unit that owns it (404, then 403 for another unit)."""
    item = session.get(model, item_id)
    if item is None:
        raise not_found
    require_unit_staff(user, item.organisation_id)
    return item


def plot_value(plot: BaseGeometry) -> WKBElement:
    """A citizen's plot (EPSG:5897) as the value of a ``plot`` column, which holds
    MultiPolygons: a question's and an information request's alike."""
    return from_shape(plot if plot.geom_type == "MultiPolygon" else MultiPolygon([plot]),
                      STORAGE_SRID)


def staff_emails(session: Session, organisation_id: int | None) -> list[str]:
    """Who is told about a new item: the unit's active planners, or the admins when no unit."""
    q = select(User.email).where(User.is_active)
    if organisation_id is None:
        q = q.where(User.role == "admin")
    else:
        q = q.where(User.organisation_id == organisation_id)
    return list(session.scalars(q.order_by(User.id)))


def organisation_name(session: Session, organisation_id: int | None) -> str:
    if organisation_id is None:
        return "Chưa xác định đơn vị (quản trị phân công)"
    return session.get(Organisation, organisation_id).name
