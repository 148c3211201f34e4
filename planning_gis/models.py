"""The planning database, as GeoAlchemy2 models.

Geometries are stored in VN-2000 / TM-3 105°00' (EPSG:5897), the system Hanoi's plans are drawn
in, so that areas and distances are metres without reprojection. Alembic migrations own the
schema; these models mirror them (``tests/test_models.py`` checks they agree).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from planning_gis.crs import STORAGE_SRID

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Kinds of plan (Luật Quy hoạch đô thị 2009), most detailed last; the order ranks governance.
PLAN_KINDS = {
    "chung": ("Quy hoạch chung", "Master plan", 1),
    "phan_khu": ("Quy hoạch phân khu", "Zoning plan", 2),
    "tuyen_duong": ("Quy hoạch tuyến đường (chỉ giới đường đỏ)", "Road plan (red lines)", 3),
    "cum_cong_nghiep": ("Quy hoạch cụm công nghiệp", "Industrial-cluster plan", 3),
    "chi_tiet": ("Quy hoạch chi tiết", "Detailed plan", 4),
}
PLAN_STATUSES = {
    "draft": ("Dự thảo lấy ý kiến", "Draft under consultation"),
    "approved": ("Đã phê duyệt", "Approved"),
    "amended": ("Đã điều chỉnh", "Amended"),
    "superseded": ("Hết hiệu lực (bị thay thế)", "Superseded"),
}
DOCUMENT_TYPES = {
    "quyet_dinh": ("Quyết định phê duyệt", "Approval decision"),
    "thuyet_minh": ("Thuyết minh", "Explanatory report"),
    "quy_dinh": ("Quy định quản lý theo đồ án", "Management regulation"),
    "ban_ve": ("Bản vẽ", "Drawings"),
    "dieu_chinh": ("Văn bản điều chỉnh", "Amendment"),
}
SHEET_STATES = ("uploaded", "control_points", "georeferenced", "published")
USER_ROLES = ("admin", "planner")
UNIT_LEVELS = ("thanh_pho", "quan", "huyen", "thi_xa", "phuong", "xa", "thi_tran")


def _tsv(expr: str) -> Computed:
    """A generated ``search_tsv`` column (migration 0002 owns the same expression)."""
    return Computed(expr, persisted=True)


#: The expressions of the generated ``search_tsv`` columns, as migration 0002 creates them.
SEARCH_TSV = {
    "documents": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(title, '') || ' ' || coalesce(number, ''))), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(issuer, ''))),"
        " 'B') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(text, ''))),"
        " 'D')"
    ),
    "plans": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(name, '') || ' ' || coalesce(decision_number, ''))), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(approving_body, '') || ' ' || coalesce(organisation, ''))), 'B') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
        "coalesce(description, ''))), 'D')"
    ),
    "land_use_zones": (
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(label)), 'A') || "
        "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(note, ''))),"
        " 'D')"
    ),
    "admin_units": "to_tsvector('simple'::regconfig, public.f_search_norm(name))",
}
#: A document's title, number and issuer only: small, so ranking can read it for every match
#: (migration 0004).
DOCUMENT_TITLE_TSV = (
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm("
    "coalesce(title, '') || ' ' || coalesce(number, ''))), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, public.f_search_norm(coalesce(issuer, ''))),"
    " 'B')"
)


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


plan_documents = Table(
    "plan_documents",
    Base.metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    Column("sort_order", Integer, nullable=False, server_default="0"),
    Index("ix_plan_documents_document_id", "document_id"),
)


class LandUseLegend(Base):
    """A land-use function code and its colour: the legend is data, never constants."""

    __tablename__ = "land_use_legend"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text, nullable=False)
    name_en: Mapped[str] = mapped_column(Text, nullable=False)
    color: Mapped[str] = mapped_column(String(7), nullable=False)
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    __table_args__ = (CheckConstraint("color ~ '^#[0-9a-fA-F]{6}$'", name="color_hex"),)


class AdminUnit(Base):
    """An administrative unit as it was between two dates (names change; plans keep old ones)."""

    __tablename__ = "admin_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str | None] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"))
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True))
    search_tsv = mapped_column(TSVECTOR, _tsv(SEARCH_TSV["admin_units"]))

    __table_args__ = (
        Index("ix_admin_units_search_tsv", "search_tsv", postgresql_using="gin"),
        CheckConstraint(f"level IN ({_in(UNIT_LEVELS)})", name="level_known"),
        CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
                        name="valid_dates"),
    )


class Plan(Base):
    """An urban plan (đồ án quy hoạch) with its approval decision and validity."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    scale_denominator: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="approved")
    decision_number: Mapped[str | None] = mapped_column(Text)
    decision_date: Mapped[dt.date | None] = mapped_column(Date)
    approving_body: Mapped[str | None] = mapped_column(Text)
    organisation: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    # indexed: every look-up asks, for each plan under the point, which plan replaces it
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), index=True
    )
    area_ha: Mapped[float | None] = mapped_column(Numeric(12, 2))
    description: Mapped[str | None] = mapped_column(Text)
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    search_tsv = mapped_column(TSVECTOR, _tsv(SEARCH_TSV["plans"]))

    supersedes: Mapped[Plan | None] = relationship(remote_side="Plan.id")
    zones: Mapped[list[LandUseZone]] = relationship(back_populates="plan")
    sheets: Mapped[list[MapSheet]] = relationship(back_populates="plan")
    documents: Mapped[list[PlanDocument]] = relationship(
        secondary=plan_documents, back_populates="plans"
    )

    __table_args__ = (
        Index("ix_plans_search_tsv", "search_tsv", postgresql_using="gin"),
        CheckConstraint(f"kind IN ({_in(PLAN_KINDS)})", name="kind_known"),
        CheckConstraint(f"status IN ({_in(PLAN_STATUSES)})", name="status_known"),
        CheckConstraint("scale_denominator IS NULL OR scale_denominator > 0", name="scale_positive"),
        CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
                        name="valid_dates"),
        CheckConstraint("supersedes_id IS NULL OR supersedes_id <> id", name="not_self_superseding"),
    )


class PlanDocument(Base):
    """A legal or technical document (hồ sơ quy hoạch); the file is stored by its sha256."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(16), nullable=False)
    number: Mapped[str | None] = mapped_column(Text)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    issuer: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    file_name: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    search_tsv = mapped_column(TSVECTOR, _tsv(SEARCH_TSV["documents"]))
    title_tsv = mapped_column(TSVECTOR, _tsv(DOCUMENT_TITLE_TSV))

    plans: Mapped[list[Plan]] = relationship(secondary=plan_documents, back_populates="documents")
    pages: Mapped[list[DocumentPage]] = relationship(
        back_populates="document", order_by="DocumentPage.page_no", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_documents_search_tsv", "search_tsv", postgresql_using="gin"),
        Index("ix_documents_title_tsv", "title_tsv", postgresql_using="gin"),
        Index("ix_documents_doc_type", "doc_type"),
        CheckConstraint(f"doc_type IN ({_in(DOCUMENT_TYPES)})", name="type_known"),
        CheckConstraint("file_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("file_size > 0", name="size_positive"),
    )


class DocumentPage(Base):
    """The text of one page, from the PDF's text layer or from OCR (NFC)."""

    __tablename__ = "document_pages"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(String(8), nullable=False, default="text")

    document: Mapped[PlanDocument] = relationship(back_populates="pages")

    __table_args__ = (
        CheckConstraint("page_no >= 1", name="page_positive"),
        CheckConstraint("source IN ('text', 'ocr', 'none')", name="source_known"),
    )


class MapSheet(Base):
    """One scanned paper sheet of a plan and the state of its georeference."""

    __tablename__ = "map_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    scan_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    scan_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    scan_name: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    crs_epsg: Mapped[int] = mapped_column(Integer, nullable=False, default=STORAGE_SRID)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    method: Mapped[str | None] = mapped_column(String(16))
    # The planner's own choice of transformation (NULL: auto), used by the report and publish.
    method_choice: Mapped[str | None] = mapped_column(String(16))
    rmse_m: Mapped[float | None] = mapped_column(Float)
    loo_rmse_m: Mapped[float | None] = mapped_column(Float)
    check_error_m: Mapped[float | None] = mapped_column(Float)
    cog_path: Mapped[str | None] = mapped_column(Text)
    # The neatline in scan pixel coordinates (x right, y down): no SRID.
    neatline = mapped_column(Geometry("POLYGON", spatial_index=False))
    footprint = mapped_column(Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=True))
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    scan_format: Mapped[str | None] = mapped_column(String(8))
    current_version: Mapped[int | None] = mapped_column(Integer)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    plan: Mapped[Plan] = relationship(back_populates="sheets")
    control_points: Mapped[list[ControlPoint]] = relationship(
        back_populates="sheet", cascade="all, delete-orphan", order_by="ControlPoint.id"
    )

    __table_args__ = (
        CheckConstraint(f"state IN ({_in(SHEET_STATES)})", name="state_known"),
        CheckConstraint("width > 0 AND height > 0", name="size_positive"),
        CheckConstraint("scan_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        # a deleted draft's scan leaves the store only when no other sheet uses it
        Index("ix_map_sheets_scan_sha256", "scan_sha256"),
        CheckConstraint("state <> 'published' OR cog_path IS NOT NULL", name="published_has_cog"),
        CheckConstraint("neatline IS NULL OR ST_IsValid(neatline)", name="neatline_valid"),
    )


class ControlPoint(Base):
    """A control point: a spot on the scan (pixels) and where it is on the ground (EPSG:5897)."""

    __tablename__ = "control_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(
        ForeignKey("map_sheets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    label: Mapped[str | None] = mapped_column(Text)
    pixel_x: Mapped[float] = mapped_column(Float, nullable=False)
    pixel_y: Mapped[float] = mapped_column(Float, nullable=False)
    easting: Mapped[float] = mapped_column(Float, nullable=False)
    northing: Mapped[float] = mapped_column(Float, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    residual_m: Mapped[float | None] = mapped_column(Float)
    loo_error_m: Mapped[float | None] = mapped_column(Float)

    sheet: Mapped[MapSheet] = relationship(back_populates="control_points")

    __table_args__ = (
        CheckConstraint("pixel_x >= 0 AND pixel_y >= 0", name="pixel_non_negative"),
        UniqueConstraint("sheet_id", "pixel_x", "pixel_y", name="uq_control_points_pixel"),
    )


class LandUseZone(Base):
    """A land-use zone (ô quy hoạch) with its planning indicators."""

    __tablename__ = "land_use_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sheet_id: Mapped[int | None] = mapped_column(ForeignKey("map_sheets.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(Text, nullable=False)
    function_code: Mapped[str] = mapped_column(
        ForeignKey("land_use_legend.code"), nullable=False, index=True
    )
    area_m2: Mapped[float | None] = mapped_column(Float)
    coverage_pct: Mapped[float | None] = mapped_column(Float)
    floors_min: Mapped[int | None] = mapped_column(Integer)
    floors_max: Mapped[int | None] = mapped_column(Integer)
    far: Mapped[float | None] = mapped_column(Float)
    population: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False
    )
    search_tsv = mapped_column(TSVECTOR, _tsv(SEARCH_TSV["land_use_zones"]))

    plan: Mapped[Plan] = relationship(back_populates="zones")
    legend: Mapped[LandUseLegend] = relationship()

    __table_args__ = (
        Index("ix_land_use_zones_search_tsv", "search_tsv", postgresql_using="gin"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint("coverage_pct IS NULL OR (coverage_pct >= 0 AND coverage_pct <= 100)",
                        name="coverage_range"),
        CheckConstraint("floors_min IS NULL OR floors_min >= 0", name="floors_min_non_negative"),
        CheckConstraint("floors_max IS NULL OR floors_max >= 0", name="floors_max_non_negative"),
        CheckConstraint("floors_min IS NULL OR floors_max IS NULL OR floors_max >= floors_min",
                        name="floors_order"),
        CheckConstraint("far IS NULL OR far >= 0", name="far_non_negative"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
        CheckConstraint("area_m2 IS NULL OR area_m2 > 0", name="area_positive"),
        CheckConstraint("label <> ''", name="label_not_empty"),
    )


class RedLine(Base):
    """A red boundary line (chỉ giới đường đỏ) of a road plan."""

    __tablename__ = "red_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    road_name: Mapped[str | None] = mapped_column(Text)
    width_m: Mapped[float | None] = mapped_column(Float)
    #: The plan's cross-section (mặt cắt, e.g. "1-1") and the building line's setback (migration
    #: 0011); the road reserve between the two sides is built by a trigger when not given.
    cross_section: Mapped[str | None] = mapped_column(Text)
    setback_m: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(
        Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True), nullable=False
    )
    reserve = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False))

    __table_args__ = (
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint("width_m IS NULL OR width_m > 0", name="width_positive"),
        CheckConstraint("setback_m IS NULL OR setback_m >= 0", name="setback_non_negative"),
        Index("idx_red_lines_reserve", "reserve", postgresql_using="gist"),
    )


BASEMAP_SOURCES = ("osm", "demo", "file")


class Street(Base):
    """A street of the base map (OpenStreetMap or the demo's fictional ones), with its name."""

    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, default="road")
    ref: Mapped[str | None] = mapped_column(Text)
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom = mapped_column(
        Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True), nullable=False
    )

    __table_args__ = (CheckConstraint(f"source IN ({_in(BASEMAP_SOURCES)})", name="source"),)


class HouseNumber(Base):
    """A house number on a street (OSM ``addr:housenumber`` / ``addr:street``)."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    housenumber: Mapped[str] = mapped_column(Text, nullable=False)
    street: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)

    __table_args__ = (CheckConstraint(f"source IN ({_in(BASEMAP_SOURCES)})", name="source"),)


class NamedPlace(Base):
    """A named place of the base map (OSM ``place=*``: quarter, neighbourhood, village...)."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    osm_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    is_fictional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)

    __table_args__ = (CheckConstraint(f"source IN ({_in(BASEMAP_SOURCES)})", name="source"),)


def _trgm(name: str, column: Column) -> Index:
    """A trigram GIN index over the normalised text of a column (migration 0002)."""
    label = f"{column.name}_norm"
    return Index(name, func.f_search_norm(column).label(label), postgresql_using="gin",
                 postgresql_ops={label: "gin_trgm_ops"})


_trgm("ix_plans_name_trgm", Plan.__table__.c.name)
_trgm("ix_admin_units_name_trgm", AdminUnit.__table__.c.name)
_trgm("ix_land_use_zones_label_trgm", LandUseZone.__table__.c.label)
_trgm("ix_streets_name_trgm", Street.__table__.c.name)
_trgm("ix_places_name_trgm", NamedPlace.__table__.c.name)
_trgm("ix_addresses_street_trgm", HouseNumber.__table__.c.street)
Index("ix_documents_issued_on", PlanDocument.__table__.c.issued_on.desc().nulls_last(),
      PlanDocument.__table__.c.id.desc())


def _prefix(name: str, column: Column) -> Index:
    """A btree index for prefix searches over a normalised decision number (migration 0004)."""
    label = f"{column.name}_norm"
    return Index(name, func.f_search_norm(column).label(label),
                 postgresql_ops={label: "text_pattern_ops"})


_prefix("ix_documents_number_prefix", PlanDocument.__table__.c.number)
_prefix("ix_plans_decision_number_prefix", Plan.__table__.c.decision_number)


class Organisation(Base):
    """A department or a district/commune unit; planners edit only their organisation's plans."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # The administrative unit it answers for: a citizen's question at a point no plan governs
    # goes to the organisation of the smallest current unit containing it (migration 0015).
    admin_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (CheckConstraint("name <> ''", name="name_not_empty"),)


class User(Base):
    """A signed-in person of the city: an admin, or a planner of one organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    full_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    organisation: Mapped[Organisation | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"role IN ({_in(USER_ROLES)})", name="role_known"),
        CheckConstraint("email = lower(email) AND email LIKE '%_@_%'", name="email_shape"),
        CheckConstraint("role = 'admin' OR organisation_id IS NOT NULL",
                        name="planner_has_organisation"),
        CheckConstraint("failed_logins >= 0", name="failed_non_negative"),
    )


class UserSession(Base):
    """One signed-in browser: the cookie carries a random token, the row its sha256.

    The row, not the signed cookie, decides whether the session is alive: sign-out, a password
    change and an admin's "sign out everywhere" set ``revoked_at``, after which a copy of the
    cookie is refused."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Who changed what, when: written in the same transaction as the change itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_email: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    object_type: Mapped[str | None] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    detail = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(Text)

    # The public record reads each plan's newest entry (migration 0015).
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id", "at"),)


class SheetVersion(Base):
    """One publication of a sheet: its COG, fit and points; earlier ones can be restored."""

    __tablename__ = "sheet_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_id: Mapped[int] = mapped_column(
        ForeignKey("map_sheets.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    cog_path: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    rmse_m: Mapped[float | None] = mapped_column(Float)
    loo_rmse_m: Mapped[float | None] = mapped_column(Float)
    points = mapped_column(JSONB, nullable=False)
    neatline_wkt: Mapped[str | None] = mapped_column(Text)
    report = mapped_column(JSONB)
    footprint = mapped_column(Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("version > 0", name="version_positive"),
        UniqueConstraint("sheet_id", "version", name="uq_sheet_versions_sheet_version"),
    )


JOB_KINDS = ("publish",)
JOB_STATES = ("queued", "running", "done", "failed")


class Job(Base):
    """A long task (publishing a sheet) done by the worker process (``import_maps.py jobs run``)
    and polled by the editor page."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    sheet_id: Mapped[int] = mapped_column(
        ForeignKey("map_sheets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    params = mapped_column(JSONB, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    error_vi: Mapped[str | None] = mapped_column(Text)
    result = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(JOB_KINDS)})", name="kind_known"),
        CheckConstraint(f"state IN ({_in(JOB_STATES)})", name="state_known"),
    )


class LayerEdition(Base):
    """How many times a vector-tile layer's data has changed: the key of its tile cache.

    Written only by the statement triggers of migration 0006, never by the application.
    """

    __tablename__ = "layer_editions"

    layer: Mapped[str] = mapped_column(String(32), primary_key=True)
    edition: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


# --- Two-way exchange with citizens (migration 0015) -------------------------------------------

QUESTION_STATES = ("received", "answered")
COMMENT_STATES = ("pending", "published", "rejected")
REQUEST_STATES = ("received", "in_progress", "answered", "returned")
#: Topics of consultation comments (counted on the consultation's page and in its report).
COMMENT_TOPICS = {
    "su_dung_dat": ("Chức năng sử dụng đất", "Land use"),
    "chi_tieu": ("Chỉ tiêu (mật độ, tầng cao)", "Indicators (coverage, floors)"),
    "giao_thong": ("Giao thông, chỉ giới đường đỏ", "Roads, red lines"),
    "ha_tang": ("Hạ tầng kỹ thuật", "Utilities"),
    "cong_cong": ("Công trình công cộng, cây xanh", "Public facilities, green space"),
    "moi_truong": ("Môi trường", "Environment"),
    "boi_thuong": ("Bồi thường, tái định cư", "Compensation, resettlement"),
    "khac": ("Ý kiến khác", "Other"),
}


class Question(Base):
    """A citizen's question on a place or a plan, owned by the unit that must answer it.

    The contact (e-mail or phone) and the name are personal data: only the unit's staff and
    the retention command read them; public pages, APIs and layers read ``public_*`` columns,
    which are written with personal data removed when the answer is published."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"),
                                                index=True)
    admin_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_units.id", ondelete="SET NULL"))
    routed_by: Mapped[str] = mapped_column(String(16), nullable=False)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))
    plot = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    asker_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="received")
    is_private: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reports: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    due_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_officer: Mapped[str | None] = mapped_column(Text)
    answer_document_ids = mapped_column(JSONB, nullable=False, server_default="[]")
    answer_info_sheet: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    public_body: Mapped[str | None] = mapped_column(Text)
    public_answer: Mapped[str | None] = mapped_column(Text)
    routing = mapped_column(JSONB, nullable=False, server_default="[]")
    contact_erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(QUESTION_STATES)})", name="status_known"),
        CheckConstraint("routed_by IN ('plan', 'unit', 'none', 'staff')", name="routed_by_known"),
        CheckConstraint("body <> ''", name="body_not_empty"),
        CheckConstraint("status <> 'answered' OR (answered_at IS NOT NULL AND answer_text IS NOT"
                        " NULL)", name="answered_has_answer"),
        Index("ix_questions_inbox", "organisation_id", "status", "due_on"),
        Index("ix_questions_created", "organisation_id", "created_at"),
    )


class Consultation(Base):
    """The community consultation (lấy ý kiến cộng đồng dân cư) on a draft plan: its window,
    set by the unit within Law 47/2024/QH15 Art. 37 (20 to 30 days, both ends counted)."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"),
                                         nullable=False, unique=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    opens_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    closes_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    summary: Mapped[str | None] = mapped_column(Text)
    report_text: Mapped[str | None] = mapped_column(Text)
    report_published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("closes_on - opens_on + 1 BETWEEN 20 AND 30", name="window_legal"),
    )


class ConsultationComment(Base):
    """A comment on a draft plan, on one of its zones or on a spot; public after moderation."""

    __tablename__ = "consultation_comments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), nullable=False)
    zone_id: Mapped[int | None] = mapped_column(
        ForeignKey("land_use_zones.id", ondelete="SET NULL"))
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True))
    topic: Mapped[str] = mapped_column(String(16), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    author_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    public_body: Mapped[str | None] = mapped_column(Text)
    reports: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    response_text: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    responded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    contact_erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"state IN ({_in(COMMENT_STATES)})", name="state_known"),
        CheckConstraint(f"topic IN ({_in(COMMENT_TOPICS)})", name="topic_known"),
        CheckConstraint("body <> ''", name="body_not_empty"),
        Index("ix_consultation_comments_state", "consultation_id", "state"),
    )


class InfoRequest(Base):
    """The planning-information request (thủ tục cung cấp thông tin quy hoạch) for one plot."""

    __tablename__ = "info_requests"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"))
    plot = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True),
                         nullable=False)
    # The plot's point on surface: what the public layer shows (not the family's outline).
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True),
                         nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, nullable=False)
    purpose: Mapped[str | None] = mapped_column(Text)
    applicant_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="received")
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    due_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    working_days: Mapped[int] = mapped_column(Integer, nullable=False)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    officer_name: Mapped[str | None] = mapped_column(Text)
    answer_note: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)
    contact_erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_in(REQUEST_STATES)})", name="status_known"),
        CheckConstraint("status <> 'answered' OR officer_name IS NOT NULL",
                        name="answered_signed"),
        CheckConstraint("status <> 'returned' OR return_reason IS NOT NULL",
                        name="returned_has_reason"),
        Index("ix_info_requests_inbox", "organisation_id", "status", "due_on"),
        Index("ix_info_requests_received", "organisation_id", "received_at"),
    )


class OutboxMessage(Base):
    """An e-mail to send, written in the transaction of the event it tells about and sent by
    the job worker with retries: an SMTP outage delays a message, it cannot lose it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    to_addr: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    next_attempt_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_outbox_due", "next_attempt_at", postgresql_where="sent_at IS NULL"),
    )


class RateCounter(Base):
    """Posts per client key and window, counted in PostgreSQL so that every worker of every
    node shares them (a per-process memory counter is multiplied by the number of workers)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
HISTORY_TABLES = ("land_use_zones", "red_lines", "plans")
HISTORY_OPS = ("I", "U", "D")


class HistoryEntry(Base):
    """One changed row of a zone, red line or plan: its state before and after, when, why, who.

    Written only by the statement triggers of migration 0016, never by the application (which
    says why it writes through :func:`planning_gis.history.context.change_context`).
    """

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(32), nullable=False)
    row_id: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_id: Mapped[int | None] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(1), nullable=False)
    old_row = mapped_column(JSONB)
    new_row = mapped_column(JSONB)
    old_geom = mapped_column(Geometry(srid=STORAGE_SRID, spatial_index=False))
    geom = mapped_column(Geometry(srid=STORAGE_SRID, spatial_index=False))
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    decision: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_email: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"op IN ({_in(HISTORY_OPS)})", name="op_known"),
        CheckConstraint(f"table_name IN ({_in(HISTORY_TABLES)})", name="table_known"),
        Index("ix_history_row", "table_name", "row_id", "id"),
        Index("ix_history_plan", "plan_id", "table_name"),
        Index("idx_history_geom", "geom", postgresql_using="gist"),
        Index("idx_history_old_geom", "old_geom", postgresql_using="gist"),
    )
