"""Exchange fixtures: a real local SMTP server (aiosmtpd), a place governed by a unit's plan, a
draft plan of that unit, and settings that send mail there."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select, text

from planning_gis import db
from planning_gis.crs import vn2000_to_lonlat
from planning_gis.models import Organisation, Plan

CAU_GIAY = "UBND quận Cầu Giấy"


class Inbox:
    """What the SMTP server received: (envelope recipients, raw message) pairs."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd API
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def to(self, addr: str) -> list[bytes]:
        with self.lock:
            return [m for rcpt, m in self.messages if addr in rcpt]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(port: int, inbox: Inbox):
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    """A real SMTP server on a free loopback port; yields (port, inbox, controller)."""
    inbox = Inbox()
    port = free_port()
    controller = start_smtp(port, inbox)
    yield port, inbox, controller
    try:
        controller.stop()
    except Exception:  # noqa: BLE001 - a test may have stopped it already
        pass


@pytest.fixture
def mail_settings(demo, smtp):
    port, _inbox, _c = smtp
    return dataclasses.replace(demo, smtp_host="127.0.0.1", smtp_port=port, mail_retry_max_s=1)


@pytest.fixture(scope="session")
def cau_giay(demo):
    """(organisation id, lon, lat, easting, northing) of a point the unit's detailed plan
    governs in the demo city."""
    with db.session_scope(demo) as s:
        org = s.scalar(select(Organisation.id).where(Organisation.name == CAU_GIAY))
        e, n = s.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c FROM plans"
            " WHERE kind = 'chi_tiet' AND organisation = :o ORDER BY id LIMIT 1) x"),
            {"o": CAU_GIAY}).one()
    lon, lat = vn2000_to_lonlat(e, n)
    return org, lon, lat, e, n


@pytest.fixture(scope="session")
def draft_plan(demo, cau_giay):
    """A draft plan of Cầu Giấy over the governed point, with two zones (committed)."""
    return make_draft_plan(demo, cau_giay)


@pytest.fixture
def new_draft_plan(demo, cau_giay):
    """A draft plan of its own for a test that opens its consultation."""
    return make_draft_plan(demo, cau_giay)


def make_draft_plan(demo, cau_giay) -> int:
    from planning_gis.models import LandUseZone

    org, _lon, _lat, e, n = cau_giay
    with db.session_scope(demo) as s:
        plan = Plan(name="Điều chỉnh quy hoạch chi tiết ô đất thử (dự thảo, minh họa)",
                    kind="chi_tiet", scale_denominator=500, status="draft",
                    organisation=CAU_GIAY, organisation_id=org, is_fictional=True,
                    geom=from_shape(MultiPolygon([box(e - 100, n - 100, e + 100, n + 100)]),
                                    5897))
        s.add(plan)
        s.flush()
        for label, x0 in (("DT-1", e - 100), ("DT-2", e)):
            s.add(LandUseZone(plan_id=plan.id, label=label, function_code="CX",
                              geom=from_shape(MultiPolygon([box(x0, n - 100, x0 + 100, n + 100)]),
                                              5897)))
        s.flush()
        return plan.id


def today() -> dt.date:
    from planning_gis.exchange.common import hanoi_date

    return hanoi_date()
