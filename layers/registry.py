"""The published datasets, each declared once: what every output (MVT, OGC API, OpenAPI) reads.

pygeoapi's resource configuration is the model: one declaration per dataset names its source,
its geometry, its properties with their types and titles, the filters a client may use, the
zoom range of its tiles, and which outputs serve it. The vector-tile SQL, the OGC items SQL, the
TileJSON fields, the OGC queryables and the OpenAPI parameters are all derived from it, so a new
layer is one :class:`Dataset` here (and the migration that makes its table or view).

Every SQL fragment here is a constant written by us; request values only ever reach the
statements built from it as bind parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from planning_gis.errors import NotFound

#: The outputs a dataset can feed.
MVT = "mvt"
OGC = "ogc"
OUTPUTS = frozenset({MVT, OGC})

#: JSON Schema type of a property -> TileJSON field type.
_TILEJSON_TYPES = {"integer": "Number", "number": "Number", "boolean": "Boolean"}


@dataclass(frozen=True)
class Field:
    """One property of a dataset: its SQL expression over the source (aliased ``t``)."""

    sql: str
    type: str = "string"  # JSON Schema type: string, integer, number, boolean
    format: str | None = None  # date, date-time
    title_vi: str = ""
    title: str = ""
    queryable: bool = False  # an OGC exact-match filter
    outputs: frozenset[str] = OUTPUTS  # tiles carry only what the map needs

    @property
    def tilejson_type(self) -> str:
        return _TILEJSON_TYPES.get(self.type, "String")


@dataclass(frozen=True)
class ZoomBand:
    """What a layer's tiles carry from ``minzoom`` up to the next band's.

    Why: over a dense city a low-zoom tile would hold every zone of every plan (24 MB at z10).
    Each band says what a map needs at its scale: which features (``where``), which properties
    (``fields``; None keeps them all), the smallest feature worth sending (``min_pixels``, in
    tile pixels of area), and optionally a precomputed ``source`` used only while
    ``current_sql`` says it is up to date with the data (else the live source, with ``where``).
    """

    minzoom: int
    where: str = "TRUE"
    fields: tuple[str, ...] | None = None
    min_pixels: float = 0.0
    order_by: str | None = None
    source: str | None = None  # FROM clause of a generalised relation (main alias ``t``)
    geom_sql: str | None = None  # geometry in that source
    web_geom_sql: str | None = None  # the same geometry in EPSG:3857, when the source holds it
    area_sql: str | None = None  # its area in m², when the source holds it (for min_pixels)
    current_sql: str | None = None  # SQL boolean: is that source current?


@dataclass(frozen=True)
class Dataset:
    """One published dataset (a layer of the map, a collection of the OGC API)."""

    id: str
    title: str
    title_vi: str
    description: str
    source: str  # a FROM clause whose main relation is aliased ``t`` (a table or a view)
    fields: dict[str, Field]
    geometry_type: str  # OGC/GeoJSON type: MultiPolygon, Polygon, MultiLineString
    geom_sql: str = "t.geom"
    #: The table whose GiST index on the geometry answers the box test (tests EXPLAIN it).
    indexed_table: str = ""
    where: str = "TRUE"
    tile_where: str = "TRUE"  # added for tiles only (e.g. current units on the map)
    tile_title: str | None = None
    tile_title_vi: str | None = None
    order_by: str = "t.id"  # drawing order in a tile
    minzoom: int = 0
    maxzoom: int = 22
    edition: str | None = None  # the layer_editions row writes bump (migration 0006)
    outputs: frozenset[str] = OUTPUTS
    zoom_bands: tuple[ZoomBand, ...] = ()  # by rising minzoom; below the first: the full layer
    #: Statements built from this declaration, once per shape of request.
    sql_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def fields_for(self, output: str) -> dict[str, Field]:
        return {k: f for k, f in self.fields.items() if output in f.outputs}

    @property
    def queryables(self) -> dict[str, Field]:
        return {k: f for k, f in self.fields.items() if f.queryable and OGC in f.outputs}

    @property
    def tile_geometry(self) -> str:
        """The TileJSON/MapLibre geometry kind: polygon, line or point."""
        g = self.geometry_type.lower()
        return "polygon" if "polygon" in g else "line" if "line" in g else "point"

    @property
    def tilejson_fields(self) -> dict[str, str]:
        return {k: f.tilejson_type for k, f in self.fields_for(MVT).items()}

    def band_for(self, zoom: int) -> ZoomBand | None:
        """The band a tile of ``zoom`` is drawn with, or None for the full layer."""
        chosen = None
        for band in self.zoom_bands:
            if band.minzoom <= zoom:
                chosen = band
        return chosen


_DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    """Add a dataset to every output it names (at import for ours; tests add throw-away ones)."""
    unknown = dataset.outputs - OUTPUTS
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)} for dataset {dataset.id}")
    if not dataset.id.isidentifier() or not dataset.id.islower():
        raise ValueError(f"dataset id {dataset.id!r} must be a lower-case identifier")
    _DATASETS[dataset.id] = dataset
    return dataset


def unregister(dataset_id: str) -> None:
    _DATASETS.pop(dataset_id, None)


def datasets(output: str) -> Iterator[Dataset]:
    """The datasets an output serves, in registration order."""
    return (d for d in list(_DATASETS.values()) if output in d.outputs)


def ids(output: str) -> list[str]:
    return [d.id for d in datasets(output)]


def find(dataset_id: str, output: str) -> Dataset | None:
    """The dataset if it feeds that output, else None."""
    d = _DATASETS.get(dataset_id)
    return d if d is not None and output in d.outputs else None


def get(dataset_id: str, output: str) -> Dataset:
    """The dataset, or a 404 that lists what there is."""
    d = find(dataset_id, output)
    if d is None:
        names = ", ".join(ids(output))
        if output == MVT:
            raise NotFound(f"unknown vector layer {dataset_id!r}: use one of {names}",
                           message_vi=f"Không có lớp dữ liệu {dataset_id!r}")
        raise NotFound(f"unknown collection {dataset_id!r}: use one of {names}",
                       message_vi=f"Không có tập dữ liệu {dataset_id!r}")
    return d


# --- the service's datasets ---------------------------------------------------------------

_ZONE_FIELDS = {
    "label": Field("t.label", title_vi="Ký hiệu ô đất", title="Zone label", queryable=True),
    "function_code": Field("t.function_code", title_vi="Mã chức năng", title="Land-use code",
                           queryable=True),
    "name_vi": Field("t.name_vi", title_vi="Chức năng sử dụng đất", title="Land use (Vietnamese)"),
    "name_en": Field("t.name_en", title_vi="Chức năng (tiếng Anh)", title="Land use"),
    "color": Field("t.color", title_vi="Màu chú giải", title="Legend colour"),
    "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                     queryable=True),
    "plan_name": Field("t.plan_name", title_vi="Tên đồ án", title="Plan name",
                       outputs=frozenset({OGC})),
    "plan_kind": Field("t.plan_kind", title_vi="Loại đồ án", title="Plan kind", queryable=True),
    "plan_status": Field("t.plan_status", title_vi="Tình trạng đồ án", title="Plan status",
                         queryable=True),
    "sheet_id": Field("t.sheet_id", "integer", title_vi="Tờ bản đồ", title="Map sheet id",
                      outputs=frozenset({OGC})),
    "area_m2": Field("round(t.area_m2::numeric, 1)::float8", "number", title_vi="Diện tích (m²)",
                     title="Area (m²)"),
    "coverage_pct": Field("t.coverage_pct", "number", title_vi="Mật độ xây dựng (%)",
                          title="Building coverage (%)"),
    "floors_min": Field("t.floors_min", "integer", title_vi="Tầng cao tối thiểu",
                        title="Floors (min)"),
    "floors_max": Field("t.floors_max", "integer", title_vi="Tầng cao tối đa", title="Floors (max)"),
    "far": Field("t.far", "number", title_vi="Hệ số sử dụng đất (lần)", title="Floor-area ratio"),
    "population": Field("t.population", "integer", title_vi="Dân số", title="Population"),
}

_OGC_ONLY = frozenset({OGC})

#: What the map draws a zone with (citizen.js, the MapLibre style); the indicators come with the
#: full layer from z16 and in the look-up's answer.
_ZONE_DRAWING = ("label", "function_code", "color", "plan_id", "plan_kind", "plan_status")
_IN_FORCE = "t.plan_status IN ('approved', 'amended')"
_BY_KIND = ("CASE t.plan_kind WHEN 'chung' THEN 1 WHEN 'phan_khu' THEN 2 WHEN 'chi_tiet' THEN 4"
            " ELSE 3 END, t.id")
#: Zones by zoom: the master plan's at city scale, the zoning plans' at district scale (both from
#: zone_overview), then the governing plan's zones (zone_coverage; migration 0009, refreshed by
#: layers/coverage.py), then from z16 every zone of every plan with all its indicators.
_CURRENT = "derived_layer_current('zone_coverage')"
#: The derived tables hold the drawing fields of their zones (migration 0014): a tile reads them
#: alone, under the zones view's names.
_OVERVIEW = "zone_overview t"
_COVERAGE = "zone_coverage t"
#: What the derived tables hold besides the zone: its geometry in the web grid and its area.
_DERIVED = {"geom_sql": "t.geom", "web_geom_sql": "t.geom_web", "area_sql": "t.area_m2",
            "current_sql": _CURRENT}
ZONE_BANDS = (
    ZoomBand(10, where=f"t.plan_kind = 'chung' AND {_IN_FORCE}", fields=_ZONE_DRAWING,
             min_pixels=4, order_by=_BY_KIND, source=_OVERVIEW, **_DERIVED),
    ZoomBand(12, where=f"t.plan_kind IN ('chung', 'phan_khu') AND {_IN_FORCE}",
             fields=_ZONE_DRAWING, min_pixels=4, order_by=_BY_KIND, source=_OVERVIEW,
             **_DERIVED),
    ZoomBand(14, where=_IN_FORCE, fields=_ZONE_DRAWING, min_pixels=2, order_by=_BY_KIND,
             source=_COVERAGE, **_DERIVED),
    ZoomBand(16),
)

for _dataset in (
    Dataset(
        "zones", "Land-use zones", "Ô quy hoạch",
        "Land-use zones of every plan with their planning indicators and legend colour",
        "zones_with_legend t", _ZONE_FIELDS, "MultiPolygon", indexed_table="land_use_zones",
        minzoom=10, edition="zones", zoom_bands=ZONE_BANDS,
    ),
    Dataset(
        "redlines", "Red boundary lines", "Chỉ giới đường đỏ",
        "Red boundary lines of road plans",
        "red_lines t JOIN plans p ON p.id = t.plan_id",
        {
            "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                             queryable=True),
            "road_name": Field("t.road_name", title_vi="Tên đường", title="Road name",
                               queryable=True),
            "width_m": Field("t.width_m", "number", title_vi="Chiều rộng (m)", title="Width (m)"),
            "plan_status": Field("p.status", title_vi="Tình trạng đồ án", title="Plan status"),
        },
        "MultiLineString", indexed_table="red_lines", minzoom=10, edition="redlines",
    ),
    Dataset(
        "plans", "Plans", "Đồ án quy hoạch",
        "Plan outlines with kind, status, decision and validity",
        "plans t",
        {
            "name": Field("t.name", title_vi="Tên đồ án", title="Name", queryable=True),
            "kind": Field("t.kind", title_vi="Loại", title="Kind", queryable=True),
            "status": Field("t.status", title_vi="Tình trạng", title="Status", queryable=True),
            "scale_denominator": Field("t.scale_denominator", "integer", title_vi="Tỷ lệ",
                                       title="Scale denominator"),
            "decision_number": Field("t.decision_number", title_vi="Số quyết định",
                                     title="Decision number", queryable=True),
            "decision_date": Field("t.decision_date::text", format="date",
                                   title_vi="Ngày quyết định", title="Decision date"),
            "approving_body": Field("t.approving_body", title_vi="Cơ quan phê duyệt",
                                    title="Approving body", outputs=_OGC_ONLY),
            "valid_from": Field("t.valid_from::text", format="date", title_vi="Hiệu lực từ",
                                title="Valid from", outputs=_OGC_ONLY),
            "valid_to": Field("t.valid_to::text", format="date", title_vi="Hiệu lực đến",
                              title="Valid to", outputs=_OGC_ONLY),
            "supersedes_id": Field("t.supersedes_id", "integer", title_vi="Thay thế đồ án",
                                   title="Supersedes plan", outputs=_OGC_ONLY),
            "area_ha": Field("t.area_ha", "number", title_vi="Diện tích (ha)", title="Area (ha)",
                             outputs=_OGC_ONLY),
        },
        "MultiPolygon", indexed_table="plans", where="t.geom IS NOT NULL",
        tile_title="Plan outlines",
        tile_title_vi="Ranh giới đồ án quy hoạch",
        order_by="t.scale_denominator DESC NULLS FIRST, t.id", edition="plans",
    ),
    Dataset(
        "units", "Administrative units", "Đơn vị hành chính",
        "Administrative units with validity dates (old names stay searchable)",
        "admin_units t",
        {
            "name": Field("t.name", title_vi="Tên", title="Name", queryable=True),
            "level": Field("t.level", title_vi="Cấp", title="Level", queryable=True),
            "code": Field("t.code", title_vi="Mã", title="Code", queryable=True),
            "parent_id": Field("t.parent_id", "integer", title_vi="Đơn vị cấp trên",
                               title="Parent unit", outputs=_OGC_ONLY),
            "valid_from": Field("t.valid_from::text", format="date", title_vi="Hiệu lực từ",
                                title="Valid from"),
            "valid_to": Field("t.valid_to::text", format="date", title_vi="Hiệu lực đến",
                              title="Valid to", outputs=_OGC_ONLY),
        },
        "MultiPolygon", indexed_table="admin_units", where="t.geom IS NOT NULL",
        tile_where="t.valid_to IS NULL OR t.valid_to >= CURRENT_DATE",
        tile_title="Administrative units (current)",
        tile_title_vi="Đơn vị hành chính (hiện hành)", edition="units",
    ),
    Dataset(
        "governing", "Zoning of the governing plan", "Quy hoạch của đồ án áp dụng",
        "At each place the zones of the plan that governs there (the most detailed plan in "
        "force), without the overlapping levels: what the citizen's map shows by default",
        "zones_with_legend t", {k: _ZONE_FIELDS[k] for k in _ZONE_DRAWING}, "MultiPolygon",
        indexed_table="land_use_zones", minzoom=12, edition="zones", outputs=frozenset({MVT}),
        # Thinned by area like the zones layer, and at z12-13 without the street network of
        # the detailed plans (one polygon per plan whose holes are its blocks: ~1,600 vertices
        # that no simplification removes; the gaps between the blocks and the streets layer
        # draw the streets there): a z12 tile over the inner districts was 517 KB and 0.5 s.
        zoom_bands=tuple(
            ZoomBand(z, where=where, fields=_ZONE_DRAWING, min_pixels=px,
                     order_by=_BY_KIND, source=_COVERAGE, **_DERIVED)
            for z, px, where in (
                (12, 4, f"{_IN_FORCE} AND NOT (t.plan_kind = 'chi_tiet' AND "
                        "t.function_code = 'GT')"),
                (14, 2, _IN_FORCE), (16, 0.5, _IN_FORCE))),
    ),
    Dataset(
        "changes", "Zone changes (adjustment history)", "Thay đổi ô quy hoạch (lịch sử điều chỉnh)",
        "Every recorded change of a zone (migration 0016): added, removed, function, geometry or "
        "indicators changed, with the decision and the date it took effect; drawn where the "
        "zone is (removed zones where they were). Plans compared with each other: /api/compare",
        "zone_changes t",
        {
            # first: a box with a filter on a column without an index of its own still reads
            # the GiST index (tests/layers/test_features.py takes the first queryable)
            "change": Field("t.change", title_vi="Loại thay đổi", title="Change",
                            queryable=True),
            "zone_id": Field("t.zone_id", "integer", title_vi="Mã ô", title="Zone id",
                             queryable=True),
            "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                             queryable=True),
            "plan_name": Field("t.plan_name", title_vi="Tên đồ án", title="Plan name",
                               outputs=_OGC_ONLY),
            "label": Field("t.label", title_vi="Ký hiệu ô đất", title="Zone label",
                           queryable=True),
            "function_from": Field("t.function_from", title_vi="Chức năng trước",
                                   title="Function before"),
            "function_to": Field("t.function_to", title_vi="Chức năng sau",
                                 title="Function after"),
            "effective_on": Field("t.effective_on::text", format="date",
                                  title_vi="Ngày có hiệu lực", title="Effective on"),
            "decision": Field("t.decision", title_vi="Quyết định", title="Decision",
                              queryable=True),
            "recorded_at": Field("t.recorded_at::text", format="date-time",
                                 title_vi="Thời điểm ghi", title="Recorded at",
                                 outputs=_OGC_ONLY),
        },
        "MultiPolygon", indexed_table="history", minzoom=12, edition="zones",
        order_by="t.id",
    ),
    Dataset(
        "streets", "Streets", "Đường phố",
        "Named streets of the base map (OpenStreetMap, or the demo's fictional ones)",
        "streets t",
        {
            "name": Field("t.name", title_vi="Tên đường", title="Street name", queryable=True),
            "kind": Field("t.kind", title_vi="Loại đường", title="Road class", queryable=True),
            "ref": Field("t.ref", title_vi="Số hiệu", title="Road number", outputs=_OGC_ONLY),
            "source": Field("t.source", title_vi="Nguồn", title="Source", outputs=_OGC_ONLY),
            "fictional": Field("t.is_fictional", "boolean", title_vi="Minh họa",
                               title="Fictional", outputs=_OGC_ONLY),
        },
        "MultiLineString", indexed_table="streets", minzoom=13, edition="streets",
        where="t.name IS NOT NULL OR t.kind IN ('motorway', 'trunk', 'primary', 'secondary')",
    ),
    Dataset(
        "sheets", "Published map sheets", "Tờ bản đồ đã công bố",
        "Footprints of published scanned sheets with their georeferencing accuracy",
        "published_sheets t",
        {
            "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                             queryable=True),
            "title": Field("t.title", title_vi="Tên tờ", title="Title"),
            "method": Field("t.method", title_vi="Phép nắn", title="Georeferencing method",
                            queryable=True),
            "rmse_m": Field("t.rmse_m", "number", title_vi="Sai số trung phương (m)",
                            title="RMSE (m)"),
            "loo_rmse_m": Field("t.loo_rmse_m", "number", title_vi="Sai số kiểm tra chéo (m)",
                                title="Leave-one-out RMSE (m)"),
            "check_error_m": Field("t.check_error_m", "number",
                                   title_vi="Sai số tại điểm kiểm tra (m)",
                                   title="Check-point error (m)"),
            "published_at": Field("t.published_at::text", format="date-time",
                                  title_vi="Ngày công bố", title="Published at"),
        },
        "Polygon", geom_sql="t.footprint", indexed_table="map_sheets",
        where="t.footprint IS NOT NULL",
        outputs=_OGC_ONLY,
    ),
):
    register(_dataset)


# --- the exchange with citizens (migration 0015): public fields only --------------------------

for _dataset in (
    Dataset(
        "questions", "Citizens' questions and answers", "Hỏi đáp của người dân",
        "Questions on a place that the responsible unit answered in public (personal data "
        "removed; private questions are not listed)",
        "public_questions t",
        {
            "code": Field("t.code", title_vi="Mã", title="Tracking code", queryable=True),
            "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                             queryable=True),
            "organisation_id": Field("t.organisation_id", "integer", title_vi="Mã đơn vị",
                                     title="Unit id", queryable=True),
            "organisation": Field("t.organisation", title_vi="Đơn vị trả lời", title="Unit"),
            "asked_on": Field("t.asked_on::text", format="date", title_vi="Ngày hỏi",
                              title="Asked on"),
            "answered_on": Field("t.answered_on::text", format="date", title_vi="Ngày trả lời",
                                 title="Answered on"),
            "due_on": Field("t.due_on::text", format="date", title_vi="Hạn trả lời",
                            title="Due on"),
            "question": Field("t.public_body", title_vi="Câu hỏi", title="Question"),
            "answer": Field("t.public_answer", title_vi="Trả lời", title="Answer"),
        },
        "Point", indexed_table="questions", where="t.geom IS NOT NULL", outputs=_OGC_ONLY,
    ),
    Dataset(
        "consultation_comments", "Comments on draft plans", "Góp ý đồ án quy hoạch dự thảo",
        "Moderated comments of the community consultation on draft plans, with the unit's "
        "response (filter by plan_id for one draft plan)",
        "public_comments t",
        {
            "consultation_id": Field("t.consultation_id", "integer", title_vi="Mã đợt lấy ý kiến",
                                     title="Consultation id", queryable=True),
            "plan_id": Field("t.plan_id", "integer", title_vi="Mã đồ án", title="Plan id",
                             queryable=True),
            "zone_id": Field("t.zone_id", "integer", title_vi="Mã ô quy hoạch", title="Zone id",
                             queryable=True),
            "topic": Field("t.topic", title_vi="Chủ đề", title="Topic", queryable=True),
            "comment": Field("t.public_body", title_vi="Góp ý", title="Comment"),
            "response": Field("t.response_text", title_vi="Phản hồi", title="Response"),
            "posted_on": Field("t.posted_on::text", format="date", title_vi="Ngày góp ý",
                               title="Posted on"),
            "responded_on": Field("t.responded_on::text", format="date",
                                  title_vi="Ngày phản hồi", title="Responded on"),
        },
        "Point", indexed_table="consultation_comments", outputs=_OGC_ONLY,
    ),
    Dataset(
        "info_requests", "Planning-information requests", "Đề nghị cung cấp thông tin quy hoạch",
        "Requests of the planning-information procedure: status and timeliness at the plot's "
        "point (no applicant data, no plot outline)",
        "public_info_requests t",
        {
            "code": Field("t.code", title_vi="Mã hồ sơ", title="Code", queryable=True),
            "organisation_id": Field("t.organisation_id", "integer", title_vi="Mã đơn vị",
                                     title="Unit id", queryable=True),
            "organisation": Field("t.organisation", title_vi="Đơn vị", title="Unit"),
            "status": Field("t.status", title_vi="Trạng thái", title="Status", queryable=True),
            "received_on": Field("t.received_on::text", format="date",
                                 title_vi="Ngày tiếp nhận", title="Received on"),
            "due_on": Field("t.due_on::text", format="date", title_vi="Hạn", title="Due on"),
            "answered_on": Field("t.answered_on::text", format="date",
                                 title_vi="Ngày trả kết quả", title="Answered on"),
        },
        "Point", indexed_table="info_requests", outputs=_OGC_ONLY,
    ),
):
    register(_dataset)
