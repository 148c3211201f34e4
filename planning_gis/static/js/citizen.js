// The citizen's map: "what is planned here?" in two taps. Vietnamese first, English switch.
// Leaflet + VectorGrid draw our own vector tiles on canvas (no WebGL, no external base map unless
// the server is configured with one); the state lives in the URL hash so that links and the
// back button work.
(function () {
  "use strict";

  // ---- strings ---------------------------------------------------------------------------
  const T = {
    vi: {
      title: "Bản đồ quy hoạch Hà Nội", skip: "Chuyển tới ô tìm kiếm",
      searchLabel: "Tìm địa danh, đồ án, ô đất, số quyết định hoặc tọa độ",
      searchPlaceholder: "Tìm: Xuân Thủy, Cầu Giấy, 1259/QĐ-TTg, X Y…", search: "Tìm kiếm",
      searchHint: "Tọa độ VN-2000 nhập theo thứ tự X (Bắc) rồi Y (Đông); hoặc kinh độ, vĩ độ.",
      locate: "Vị trí của tôi", layersBtn: "Lớp & chú giải", langAria: "EN – English", close: "Đóng",
      mapAria: "Bản đồ quy hoạch. Chạm hoặc nhấn Enter để tra cứu tại tâm bản đồ.",
      swipeLabel: "So sánh: kéo để chia bản đồ quét và ô quy hoạch",
      layers: "Lớp bản đồ", lyrZones: "Quy hoạch sử dụng đất", lyrRedlines: "Chỉ giới đường đỏ",
      lyrPlans: "Ranh giới đồ án", lyrUnits: "Ranh giới hành chính", scan: "Bản đồ gốc (bản quét)",
      scanNone: "— không hiển thị —", opacity: "Độ đục của bản quét (0 = trong suốt)",
      lyrStreets: "Đường phố", level: "Cấp quy hoạch hiển thị", levelGoverning: "Đồ án áp dụng tại từng nơi (mặc định)",
      levelChung: "Quy hoạch chung", levelPhanKhu: "Quy hoạch phân khu", levelChiTiet: "Quy hoạch chi tiết", levelAll: "Tất cả các cấp (chồng lớp)",
      zoomIn: "Phóng to", zoomOut: "Thu nhỏ",
      redLine: "Chỉ giới đường đỏ", road: "Tuyến đường", width: "Lộ giới (bề rộng quy hoạch)", section: "mặt cắt",
      setback: "Khoảng lùi (chỉ giới xây dựng)", toRedLine: "Khoảng cách tới chỉ giới đường đỏ", insideReserve: "Trong phạm vi lộ giới",
      yes: "CÓ", no: "Không", byPlan: "Theo đồ án", street: "Đường phố gần nhất",
      why: "Vì sao áp dụng", whyText: "chi tiết hơn và còn hiệu lực", details: "Cụ thể hóa đồ án", replacedBy: "thay thế bởi",
      cutArea: "Diện tích trong chỉ giới đường đỏ", remaining: "Diện tích còn lại", setbackStrip: "Trong khoảng lùi (không được xây)", buildable: "Có thể xây dựng",
      plotFile: "Hoặc chọn tệp (GeoJSON, hoặc tệp văn bản/CSV tọa độ các góc)",
      swipe: "So sánh (vuốt) với ô quy hoạch", legend: "Chú giải", download: "Tải về",
      changesHere: "Thay đổi tại đây", compareLink: "So sánh", noChanges: "Chưa ghi nhận điều chỉnh nào tại vị trí này.",
      fictional: "Dữ liệu minh họa, không có giá trị pháp lý",
      noSheets: "Chưa có tờ bản đồ quét nào được công bố.",
      loading: "Đang tra cứu…", zone: "Ô đất", noZone: "Vị trí này không thuộc ô quy hoạch nào của đồ án đang có hiệu lực.",
      area: "Diện tích", coverage: "Mật độ xây dựng", floors: "Tầng cao", far: "Hệ số sử dụng đất",
      population: "Dân số", people: "người", times: "lần", floorsUnit: "tầng",
      governing: "Đồ án áp dụng", others: "Các đồ án khác tại vị trí này", superseded: "Hết hiệu lực",
      decision: "Quyết định", issuedBy: "Cơ quan phê duyệt", date: "ngày", number: "số",
      accuracy: "Sai số nắn bản đồ quét (vị trí tờ bản đồ, không phải ranh giới ô đất)", noAccuracy: "chưa có số đo độc lập (ô không vẽ từ tờ bản đồ quét đã nắn chỉnh)",
      accCheck: "sai số tại điểm kiểm tra độc lập", accLoo: "sai số kiểm tra chéo bỏ-một-điểm", sheetWord: "tờ",
      sheetAccuracy: "Độ chính xác của tờ", showScan: "Xem bản quét",
      plotBtn: "Thửa đất", plotTitle: "Phiếu thông tin cho thửa đất",
      plotHelp: "Vẽ thửa đất trên bản đồ, hoặc dán GeoJSON, hoặc nhập tọa độ các góc thửa, mỗi góc một dòng: X (Bắc) Y (Đông) theo VN-2000 như trên sổ đỏ, hoặc kinh độ vĩ độ.",
      plotDraw: "Vẽ trên bản đồ", plotText: "GeoJSON hoặc tọa độ các góc", plotSubmit: "Tra cứu và lập phiếu",
      plotDone: "Xong", plotCancel: "Hủy", plotDrawing: "Chạm vào các góc thửa đất theo thứ tự", corners: "góc",
      plotNeed3: "Cần ít nhất 3 góc để tạo thửa đất.", plotBadText: "Không đọc được: hãy dán GeoJSON hoặc mỗi dòng hai số (X Y hoặc kinh độ vĩ độ).",
      plotMixed: "Các góc phải cùng một hệ tọa độ (tất cả VN-2000 hoặc tất cả kinh độ/vĩ độ).",
      plotArea: "Diện tích thửa", sharePct: "Tỷ lệ", inPlot: "Diện tích trong thửa", total: "Cộng", plotPdf: "Tải phiếu thông tin (PDF)",
      plotNoZone: "Thửa đất không cắt ô quy hoạch nào.",
      documents: "Hồ sơ, tài liệu", allDocuments: "Xem tất cả {n} văn bản của đồ án", view: "Xem", page: "Trang", openPdf: "Mở PDF", zoomPageIn: "Phóng to trang", pageSize: "Cỡ trang", zoomPageOut: "Thu nhỏ trang", pageText: "Chữ của trang", noPageText: "(trang không có chữ)", noPages: "Chưa có ảnh trang; hãy mở hoặc tải tệp PDF.", coords: "Tọa độ", units: "Đơn vị hành chính",
      oldName: "tên cũ", sheetPdf: "Phiếu thông tin (PDF)", ask: "Hỏi đơn vị phụ trách", share: "Chia sẻ", copied: "Đã chép đường dẫn",
      shareLink: "Đường dẫn chia sẻ", noPlan: "Không có đồ án quy hoạch nào tại vị trí này.",
      results: "Kết quả tìm kiếm", noResults: "Không tìm thấy kết quả.", reading: "Đọc là",
      swap: "Thử đảo thứ tự hai số", geoUnsupported: "Trình duyệt không hỗ trợ định vị.",
      geoDenied: "Không lấy được vị trí của bạn", error: "Có lỗi",
      geoOutside: "Vị trí của bạn ({where}) nằm ngoài Hà Nội. Bản đồ này chỉ có quy hoạch của Hà Nội: hãy tìm theo địa danh hoặc tọa độ.", dataDate: "Dữ liệu đến ngày",
      kinds: { plan: "Đồ án", zone: "Ô đất", document: "Tài liệu", place: "Địa danh", decision: "Quyết định", street: "Đường", address: "Số nhà" },
    },
    en: {
      title: "Hanoi planning map", skip: "Skip to search",
      searchLabel: "Search places, plans, zones, decision numbers or coordinates",
      searchPlaceholder: "Search: Xuan Thuy, Cau Giay, 1259/QĐ-TTg, X Y…", search: "Search",
      searchHint: "VN-2000 coordinates: X (northing) first, then Y (easting); or lon, lat.",
      locate: "My location", layersBtn: "Layers & legend", langAria: "VI – Tiếng Việt", close: "Close",
      mapAria: "Planning map. Tap, or press Enter to look up the centre of the map.",
      swipeLabel: "Compare: drag to split the scan and the zones",
      layers: "Map layers", lyrZones: "Land-use zoning", lyrRedlines: "Red boundary lines",
      lyrPlans: "Plan outlines", lyrUnits: "Administrative boundaries", scan: "Original map (scan)",
      scanNone: "— hidden —", opacity: "Scan opacity (0 = transparent)",
      lyrStreets: "Streets", level: "Planning level shown", levelGoverning: "The plan that governs at each place (default)",
      levelChung: "Master plans", levelPhanKhu: "Zoning plans", levelChiTiet: "Detailed plans", levelAll: "Every level (overlaid)",
      zoomIn: "Zoom in", zoomOut: "Zoom out",
      redLine: "Red line (road reserve)", road: "Road", width: "Planned width", section: "cross-section",
      setback: "Setback (building line)", toRedLine: "Distance to the red line", insideReserve: "Inside the road reserve",
      yes: "YES", no: "No", byPlan: "Plan", street: "Nearest street",
      why: "Why it governs", whyText: "more detailed and in force", details: "Details the plan", replacedBy: "replaced by",
      cutArea: "Area inside the red line", remaining: "Area remaining", setbackStrip: "In the setback (not buildable)", buildable: "Buildable",
      plotFile: "Or choose a file (GeoJSON, or a text/CSV file of corner coordinates)",
      swipe: "Compare (swipe) with the zones", legend: "Legend", download: "Download",
      changesHere: "What changed here", compareLink: "Compare", noChanges: "No adjustment recorded at this place.",
      fictional: "Fictional demo data, no legal value",
      noSheets: "No scanned sheet has been published yet.",
      loading: "Looking up…", zone: "Zone", noZone: "No zone of a plan in force covers this point.",
      area: "Area", coverage: "Building coverage", floors: "Floors", far: "Floor-area ratio",
      population: "Population", people: "people", times: "×", floorsUnit: "floors",
      governing: "Governing plan", others: "Other plans at this point", superseded: "Superseded",
      decision: "Decision", issuedBy: "Approved by", date: "of", number: "no.",
      accuracy: "Scan georeferencing error (where the sheet lies, not the zone's boundary)", noAccuracy: "no independent measure (zone not traced from a georeferenced scan)",
      accCheck: "error at independent check points", accLoo: "leave-one-out error", sheetWord: "sheet",
      sheetAccuracy: "Sheet accuracy", showScan: "Show the scan",
      plotBtn: "Plot", plotTitle: "Information sheet for a plot",
      plotHelp: "Draw the plot on the map, or paste GeoJSON, or type its corners one per line: X (northing) Y (easting) in VN-2000 as on the land certificate, or lon lat.",
      plotDraw: "Draw on the map", plotText: "GeoJSON or corner coordinates", plotSubmit: "Look up and make the sheet",
      plotDone: "Done", plotCancel: "Cancel", plotDrawing: "Tap the plot's corners in order", corners: "corners",
      plotNeed3: "A plot needs at least 3 corners.", plotBadText: "Cannot read this: paste GeoJSON or two numbers per line (X Y or lon lat).",
      plotMixed: "All corners must be in one system (all VN-2000 or all lon/lat).",
      plotArea: "Plot area", sharePct: "Share of the plot", inPlot: "Area in the plot", total: "Total", plotPdf: "Download the information sheet (PDF)",
      plotNoZone: "The plot crosses no planning zone.",
      documents: "Documents", allDocuments: "All {n} documents of the plan", view: "View", page: "Page", openPdf: "Open PDF", zoomPageIn: "Zoom in on the pages", pageSize: "Page size", zoomPageOut: "Zoom out of the pages", pageText: "Text of the page", noPageText: "(no text on this page)", noPages: "No page images yet: open or download the PDF.", coords: "Coordinates", units: "Administrative units",
      oldName: "former name", sheetPdf: "Information sheet (PDF)", ask: "Ask the responsible unit", share: "Share", copied: "Link copied",
      shareLink: "Link to share", noPlan: "No plan covers this point.",
      results: "Search results", noResults: "Nothing found.", reading: "Read as",
      swap: "Try the two numbers swapped", geoUnsupported: "This browser cannot give a location.",
      geoDenied: "Could not get your location", error: "Error",
      geoOutside: "Your location ({where}) is outside Hanoi. This map holds Hanoi's plans only: search for a place or coordinates.", dataDate: "Data as of",
      kinds: { plan: "Plan", zone: "Zone", document: "Document", place: "Place", decision: "Decision", street: "Street", address: "Address" },
    },
  };
  const LAYERS = ["zones", "streets", "redlines", "plans", "units"];
  const LEVELS = ["governing", "chung", "phan_khu", "chi_tiet", "all"];
  // Hanoi's extent: planning_gis.crs.HANOI_BOUNDS_LONLAT, the box the server checks every point against.
  const HANOI = L.latLngBounds([20.53, 105.25], [21.42, 106.05]);
  const DEFAULT = { z: 14, lat: 21.03, lon: 105.79, layers: ["zones", "streets", "redlines", "plans"] };

  const $ = (sel) => document.querySelector(sel);
  // Data (zone labels, plan names, documents, messages) goes into the page as text nodes, never as
  // HTML: el("p", { className: "x", role: "alert" }, "text", node, [more]) builds an element.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "style") Object.assign(node.style, v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k in node) node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (typeof c === "object" ? c : String(c))));
    return node;
  }
  const swatch = (color) => el("span", { className: "swatch", "aria-hidden": "true", style: { background: color || "" } });
  // title_html from the search API is escaped text with <mark> around matched words: read it back
  // as text pieces and <mark> elements (markupsafe's entities decoded; nothing parsed as HTML).
  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&#34;": '"', "&quot;": '"', "&#39;": "'", "&#x27;": "'" };
  const unescapeHtml = (x) => x.replace(/&(?:amp|lt|gt|quot|#34|#39|#x27);/g, (e) => ENTITIES[e]);
  const marked = (html) => String(html ?? "").split(/(<mark>[\s\S]*?<\/mark>)/).filter(Boolean).map((part) =>
    part.startsWith("<mark>") && part.endsWith("</mark>") ? el("mark", {}, unescapeHtml(part.slice(6, -7))) : unescapeHtml(part));
  const state = { lang: "vi", point: null, info: null, sheet: "", opacity: 80, swipe: false, layers: new Set(DEFAULT.layers), level: "governing" };
  const t = (key) => T[state.lang][key] ?? T.vi[key] ?? key;
  // Timings read by bench/citizen.py (ms since navigation, or since the tap / the search).
  window.citizenMetrics = { firstTile: null, firstZoning: null, panelShown: null, searchStart: null, centred: null };

  // ---- numbers and dates, written the Vietnamese way in Vietnamese -------------------------
  function num(v, digits = 1) {
    if (v === null || v === undefined) return "—";
    const loc = state.lang === "vi" ? "vi-VN" : "en-GB";
    return Number(v).toLocaleString(loc, { maximumFractionDigits: digits });
  }
  function date(iso) {
    if (!iso) return "—";
    const [y, m, d] = iso.slice(0, 10).split("-");
    return state.lang === "vi" ? `${d}/${m}/${y}` : `${y}-${m}-${d}`;
  }

  // ---- the map ------------------------------------------------------------------------------
  const mapEl = $("#map");
  const map = L.map(mapEl, { preferCanvas: true, zoomControl: false, minZoom: 9, maxZoom: 20, keyboard: true,
    maxBounds: [[20.4, 105.1], [21.6, 106.2]] });
  // Leaflet's own zoom buttons speak the page's language (their titles are set again by setLang).
  const zoomControl = L.control.zoom({ zoomInTitle: "Phóng to", zoomOutTitle: "Thu nhỏ" }).addTo(map);
  map.attributionControl.setPrefix(false);
  const tileUrl = (layer) => `/tiles/${layer}/{z}/{x}/{y}.mvt`;
  // The static read side (PLANNING_STATIC_TILES_URL): the tiles come from the PMTiles archives
  // that `import_maps.py publish static` wrote, read with HTTP range requests (the `pmtiles`
  // package), wherever they are served; the look-up, search and lists still ask the API.
  const STATIC = mapEl.dataset.staticTiles || "";
  mapEl.dataset.tileSource = STATIC ? "pmtiles" : "api";
  const archives = new Map();
  function archive(path) {
    let a = archives.get(path);
    if (!a) { a = new pmtiles.PMTiles(`${STATIC}/${path}`); archives.set(path, a); }
    return a;
  }
  // VectorGrid over an archive: the tile's bytes from the archive (already unzipped by pmtiles)
  // handed to VectorGrid's own decoder through a blob: URL, so the styles, events and drawing
  // are the same as over the API. A tile the archive does not hold is empty, as a 204 is.
  const PMTilesGrid = STATIC ? L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise(coords, tileBounds) {
      const parent = L.VectorGrid.Protobuf.prototype._getVectorTilePromise;
      const src = this.options.archive;
      // An archive that cannot be read (a layer without data has none) is asked once, not per tile.
      return this.options.ready.then((ok) => ok ? src.getZxy(coords.z, coords.x, coords.y) : null).then((tile) => {
        if (!tile) return { layers: [] };
        const url = URL.createObjectURL(new Blob([tile.data]));
        const template = this._url;
        this._url = url;
        try {
          return parent.call(this, coords, tileBounds).finally(() => URL.revokeObjectURL(url));
        } finally { this._url = template; }
      }).catch(() => ({ layers: [] }));
    },
  }) : null;
  const vg = (layer, styles, opts = {}) => {
    const options = Object.assign({
      rendererFactory: L.canvas.tile, interactive: false, maxNativeZoom: 18, maxZoom: 20,
      // Tiles yield to the look-up: on a slow phone the panel's request must not queue behind them.
      fetchOptions: { priority: "low" },
      vectorTileLayerStyles: { [layer]: styles },
    }, opts);
    if (!STATIC) return L.vectorGrid.protobuf(tileUrl(layer), options);
    options.archive = archive(`${layer}.pmtiles`);
    let grid = null;
    // Beyond the archive's top zoom (publish static's --max-zoom) its top tiles are overzoomed.
    options.ready = options.archive.getHeader().then((h) => {
      if (h.maxZoom < grid.options.maxNativeZoom) {
        grid.options.maxNativeZoom = h.maxZoom;
        if (grid._map) grid.redraw();
      }
      return true;
    }, () => false);
    grid = new PMTilesGrid("", options);
    return grid;
  };
  const HIDE = [];

  // Base: our own data (units, roads and water from the zones layer) unless production has one.
  let base;
  if (mapEl.dataset.baseUrl) {
    base = L.tileLayer(mapEl.dataset.baseUrl, { attribution: mapEl.dataset.baseAttribution, maxZoom: 20 });
  } else {
    // Roads and water come from the zones layer itself (see zoneStyle), so no tile is fetched twice.
    base = vg("units", { fill: true, fillColor: "#f1efe6", fillOpacity: 1, color: "#b9b2a0", weight: 1 }, { zIndex: 0 });
    map.attributionControl.addAttribution("Dữ liệu: Sở QH-KT Hà Nội (minh họa)");
  }
  // The base goes on the map after the zoning (applyState): on a slow phone (six connections,
  // half a second each) the zoning's tiles are asked for first, the base fill under them next.

  // The master plan's big zones stay light so that the detailed zoning drawn over them reads.
  const OPACITY = { chung: 0.28, phan_khu: 0.6 };
  const drawnZones = new Set();
  // With the zoning switched off the zones layer still draws the base: roads white, water blue.
  const baseStyle = (p) => p.function_code === "GT" ? { fill: true, fillColor: "#ffffff", fillOpacity: 1, color: "#cfcac0", weight: 1 }
    : p.function_code === "MN" ? { fill: true, fillColor: "#a9d3f0", fillOpacity: 1, color: "#7fb6de", weight: 1 } : HIDE; // zones seen in the tiles (the test reads the count)
  const overlays = {
    zones: vg("zones", (p) => (drawnZones.add(`${p.plan_id}:${p.label}`), p.plan_status === "superseded") ? HIDE
      : !state.layers.has("zones") ? baseStyle(p)
      : (state.level !== "all" && state.level !== "governing" && p.plan_kind !== state.level) ? baseStyle(p)
      : { fill: true, fillColor: p.color || "#cccccc", fillOpacity: OPACITY[p.plan_kind] ?? 0.8,
        color: p.plan_kind === "chung" ? "#8a8a8a" : "#555555", weight: p.plan_kind === "chung" ? 0.4 : 0.6 }, { zIndex: 2 }),
    // The zoning of the plan that governs at each place: one level, colours as in the legend.
    governing: vg("governing", (p) => (drawnZones.add(`${p.plan_id}:${p.label}`), { fill: true, fillColor: p.color || "#cccccc",
      fillOpacity: 0.8, color: "#555555", weight: 0.6 }), { zIndex: 2, minZoom: 12 }),
    streets: vg("streets", (p) => ({ color: ["motorway", "trunk", "primary"].includes(p.kind) ? "#f3c46b" : "#ffffff",
      weight: ["motorway", "trunk", "primary", "secondary"].includes(p.kind) ? 5 : 3, opacity: 0.95 }), { zIndex: 3 }),
    redlines: vg("redlines", (p) => p.plan_status === "superseded" ? HIDE : { color: "#e00000", weight: 2.2 }, { zIndex: 6 }),
    // A draft under consultation is purple and dashed, never drawn like a plan in force.
    plans: vg("plans", (p) => p.status === "superseded" ? { color: "#777777", weight: 1.2, dashArray: "6 4", fill: false }
      : p.status === "draft" ? { color: "#6a1b9a", weight: 2.4, dashArray: "8 5", fill: true, fillColor: "#ce93d8", fillOpacity: 0.15 }
      : { color: "#1d1d1d", weight: 2, fill: false }, { zIndex: 4 }),
    units: vg("units", { color: "#6a4c93", weight: 1.6, dashArray: "5 3", fill: false }, { zIndex: 4 }),
  };
  overlays.zones.on("tileload", () => { mapEl.dataset.zones = String(drawnZones.size); });
  function firstTile() {
    if (window.citizenMetrics.firstTile === null) {
      window.citizenMetrics.firstTile = performance.now();
      mapEl.dataset.firstTile = "1";
    }
  }
  // What the first paint does not need (the legend, the sheets' list, street names) waits for
  // the first zoning tile, all zoning tiles, or 4 s, whichever comes first, so that it does not
  // hold a connection the zoning's tiles are waiting for.
  let mapDrawn;
  const mapDrawnOnce = new Promise((resolve) => { mapDrawn = resolve; });
  setTimeout(() => mapDrawn(), 4000);
  // The first tile that drew zoning (not only the base fill): the issue's "first zoning tile".
  function firstZoning() {
    if (window.citizenMetrics.firstZoning === null && drawnZones.size > 0 && state.layers.has("zones")) {
      window.citizenMetrics.firstZoning = performance.now();
      mapEl.dataset.firstZoning = "1";
      mapDrawn();
    }
  }
  overlays.zones.on("tileload", () => { firstTile(); firstZoning(); });
  overlays.governing.on("tileload", () => { mapEl.dataset.zones = String(drawnZones.size); firstTile(); firstZoning(); });
  overlays.zones.on("load", () => mapDrawn());
  overlays.governing.on("load", () => mapDrawn());
  // By default the map draws the governing plan's zoning from z12 (the zones layer below, where
  // its tiles hold only the master plans); another level or all of them through the zones layer.
  function syncZoning() {
    const gov = state.level === "governing" && state.layers.has("zones") && map.getZoom() >= 12;
    if (gov && !map.hasLayer(overlays.governing)) overlays.governing.addTo(map);
    if (!gov && map.hasLayer(overlays.governing)) map.removeLayer(overlays.governing);
    if (gov && map.hasLayer(overlays.zones)) map.removeLayer(overlays.zones);
    if (!gov && !map.hasLayer(overlays.zones)) overlays.zones.addTo(map);
    mapEl.dataset.level = state.level;
  }
  map.on("zoomend", () => { if (!applying) syncZoning(); });
  // Street names, drawn by us from the streets layer's GeoJSON at street scale (no external map).
  const labels = L.layerGroup().addTo(map);
  let labelsFor = "";
  async function streetLabels() {
    await mapDrawnOnce; // names come after the first zoning tile (see mapDrawnOnce)
    if (!state.layers.has("streets") || map.getZoom() < 16) { labels.clearLayers(); labelsFor = ""; return; }
    const b = map.getBounds();
    const key = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(4)).join(",");
    if (key === labelsFor) return;
    labelsFor = key;
    try {
      const doc = await apiGet(`/ogc/collections/streets/items?bbox=${key}&limit=200`);
      if (labelsFor !== key) return;
      labels.clearLayers();
      const seen = new Set();
      for (const f of doc.features || []) {
        const name = f.properties && f.properties.name;
        const g = f.geometry;
        if (!name || seen.has(name) || !g) continue;
        const lines = g.type === "MultiLineString" ? g.coordinates : [g.coordinates];
        const line = lines.reduce((a, c) => (c.length > a.length ? c : a), []);
        const inView = line.filter(([x, y]) => b.contains([y, x]));
        if (inView.length < 2) continue;
        const [x0, y0] = inView[0], [x1, y1] = inView[inView.length - 1];
        const mid = inView[Math.floor(inView.length / 2)];
        const at = inView.length === 2 ? [(y0 + y1) / 2, (x0 + x1) / 2] : [mid[1], mid[0]];
        const p0 = map.latLngToContainerPoint([y0, x0]), p1 = map.latLngToContainerPoint([y1, x1]);
        let angle = Math.atan2(p1.y - p0.y, p1.x - p0.x) * 180 / Math.PI;
        if (angle > 90) angle -= 180; if (angle < -90) angle += 180;
        seen.add(name);
        const span = el("span", { className: "street-label", style: { transform: `translate(-50%, -50%) rotate(${angle.toFixed(0)}deg)` } }, name);
        labels.addLayer(L.marker(at, { interactive: false, keyboard: false,
          icon: L.divIcon({ className: "street-label-box", html: "", iconSize: [0, 0] }) }).on("add", function () { this.getElement().append(span); }));
      }
      mapEl.dataset.streetLabels = String(seen.size);
    } catch (_e) { labelsFor = ""; }
  }
  map.on("moveend", streetLabels);
  base.on("tileload", firstTile);
  let marker = null;

  // ---- URL state ----------------------------------------------------------------------------
  function parseHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const out = {};
    const pair = (v) => { const p = (v || "").split(",").map(Number); return p.length === 2 && p.every(Number.isFinite) ? p : null; };
    const z = Number(h.get("z")); if (Number.isFinite(z) && z >= 9 && z <= 20 && h.get("z")) out.z = z;
    const c = pair(h.get("c")); if (c) out.center = c;
    const p = pair(h.get("p")); out.point = p;
    if (h.has("l")) out.layers = h.get("l").split(",").filter((x) => LAYERS.includes(x));
    out.level = LEVELS.includes(h.get("lv")) ? h.get("lv") : "governing";
    out.sheet = h.get("s") || "";
    const o = Number(h.get("o")); out.opacity = h.has("o") && o >= 0 && o <= 100 ? o : 80;
    out.swipe = h.get("w") === "1";
    out.lang = h.get("lang") === "en" ? "en" : "vi";
    return out;
  }
  function hashNow() {
    const c = map.getCenter();
    const h = new URLSearchParams();
    h.set("z", String(map.getZoom()));
    h.set("c", `${c.lat.toFixed(5)},${c.lng.toFixed(5)}`);
    h.set("l", [...state.layers].join(","));
    // The tapped point exactly as tapped: rounding it moved the VN-2000 shown after a reload.
    if (state.point) h.set("p", `${state.point[0]},${state.point[1]}`);
    if (state.level !== "governing") h.set("lv", state.level);
    if (state.sheet) { h.set("s", state.sheet); h.set("o", String(state.opacity)); if (state.swipe) h.set("w", "1"); }
    if (state.lang === "en") h.set("lang", "en");
    return "#" + h.toString().replace(/%2C/g, ",");
  }
  let applying = false;
  function save(push) {
    if (applying) return;
    const h = hashNow();
    if (h === location.hash) return;
    history[push ? "pushState" : "replaceState"](null, "", h);
  }

  function applyState(s, first) {
    applying = true;
    try {
      setLang(s.lang);
      const zoningBefore = state.layers.has("zones");
      if (s.layers) state.layers = new Set(s.layers);
      $("input[name=layer][value=zones]").checked = state.layers.has("zones");
      const levelBefore = state.level;
      state.level = s.level || "governing";
      $("#level").value = state.level;
      const center = s.center || (s.point ? s.point : (first ? [DEFAULT.lat, DEFAULT.lon] : null));
      if (center) map.setView(center, s.z || (s.point ? 17 : DEFAULT.z), { animate: false });
      // The zoning layers once the map has its view (removing a layer mid-start breaks VectorGrid),
      // then the base and the other layers: their tiles queue behind the zoning's.
      const hadZones = map.hasLayer(overlays.zones);
      syncZoning();
      if (!map.hasLayer(base)) base.addTo(map);
      for (const name of LAYERS) {
        if (name === "zones") continue;
        const on = state.layers.has(name);
        const box = document.querySelector(`input[name=layer][value=${name}]`);
        if (box) box.checked = on;
        if (on && !map.hasLayer(overlays[name])) overlays[name].addTo(map);
        if (!on && map.hasLayer(overlays[name])) map.removeLayer(overlays[name]);
      }
      if (hadZones && map.hasLayer(overlays.zones) && (zoningBefore !== state.layers.has("zones") || levelBefore !== state.level)) overlays.zones.redraw();
      state.opacity = s.opacity; $("#opacity").value = String(s.opacity);
      setSheet(s.sheet || "", s.swipe);
      const same = s.point && state.point && s.point[0] === state.point[0] && s.point[1] === state.point[1];
      if (s.point && !same) select(L.latLng(s.point[0], s.point[1]), { push: false, pan: false });
      if (!s.point && state.point) closePanel(false);
    } finally {
      applying = false;
    }
  }

  // ---- language -----------------------------------------------------------------------------
  function setLang(lang) {
    state.lang = lang === "en" ? "en" : "vi";
    document.documentElement.lang = state.lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    const btn = $("#lang");
    btn.textContent = state.lang === "vi" ? "EN" : "VI";
    btn.lang = state.lang === "vi" ? "en" : "vi";
    document.title = t("title");
    const zin = mapEl.querySelector(".leaflet-control-zoom-in"), zout = mapEl.querySelector(".leaflet-control-zoom-out");
    if (zin) { zin.title = t("zoomIn"); zin.setAttribute("aria-label", t("zoomIn")); }
    if (zout) { zout.title = t("zoomOut"); zout.setAttribute("aria-label", t("zoomOut")); }
    renderLegend();
    sheetNote();
    if (state.info) renderPanel(state.info);
  }
  $("#lang").addEventListener("click", () => { setLang(state.lang === "vi" ? "en" : "vi"); save(false); });

  // ---- legend and layers --------------------------------------------------------------------
  let legendRows = [];
  function renderLegend() {
    const ul = $("#legend");
    ul.replaceChildren(...legendRows.map((r) => el("li", {}, swatch(r.color), el("b", {}, r.code), " ",
      el("span", {}, state.lang === "vi" ? r.name_vi : r.name_en))));
  }
  mapDrawnOnce.then(() => fetch("/api/legend")).then((r) => r.json()).then((rows) => { legendRows = rows; renderLegend(); });

  const layersCard = $("#layers");
  function toggleLayers(open, focus = true) {
    layersCard.hidden = !open;
    $("#layers-btn").setAttribute("aria-expanded", String(open));
    if (open && focus) layersCard.querySelector("input, select").focus({ preventScroll: true });
  }
  $("#layers-btn").addEventListener("click", () => toggleLayers(layersCard.hidden));
  layersCard.querySelector("[data-close=layers]").addEventListener("click", () => { toggleLayers(false); $("#layers-btn").focus(); });
  if (window.matchMedia("(min-width: 900px)").matches) toggleLayers(true, false);
  for (const box of document.querySelectorAll("input[name=layer]")) {
    box.addEventListener("change", () => {
      if (box.checked) state.layers.add(box.value); else state.layers.delete(box.value);
      if (box.value === "zones") { syncZoning(); overlays.zones.redraw(); }
      else if (box.checked) overlays[box.value].addTo(map);
      else map.removeLayer(overlays[box.value]);
      if (box.value === "streets") streetLabels();
      save(true);
    });
  }

  $("#level").addEventListener("change", (e) => {
    state.level = LEVELS.includes(e.target.value) ? e.target.value : "governing";
    syncZoning();
    if (map.hasLayer(overlays.zones)) overlays.zones.redraw();
    save(true);
  });

  // ---- scanned sheets: raster tiles, opacity, swipe -----------------------------------------
  let sheets = [];
  let sheetLayer = null;
  const swipeEl = $("#swipe");
  // A sheet asked for in the link is fetched at once; otherwise the list waits for the map.
  const sheetsWanted = new URLSearchParams(location.hash.slice(1)).has("s") ? Promise.resolve() : mapDrawnOnce;
  sheetsWanted.then(() => fetch("/api/sheets")).then((r) => r.json()).then((rows) => {
    sheets = rows;
    const sel = $("#sheet");
    for (const s of rows) {
      const o = document.createElement("option");
      o.value = String(s.id);
      o.textContent = `${s.title} — ${s.plan}`;
      sel.appendChild(o);
    }
    sel.disabled = !rows.length;
    sheetNote();
    if (state.sheet) setSheet(state.sheet, state.swipe);
  });
  function setSheet(id, swipe) {
    state.sheet = id; state.swipe = !!swipe && !!id;
    $("#sheet").value = id; $("#swipe-on").checked = state.swipe;
    if (sheetLayer) { map.removeLayer(sheetLayer); sheetLayer = null; }
    const s = sheets.find((x) => String(x.id) === String(id));
    if (s) {
      const options = { opacity: state.opacity / 100, maxZoom: 20, maxNativeZoom: 20, zIndex: 3,
        className: `sheet-${s.id}`, bounds: s.bounds ? L.latLngBounds([s.bounds[1], s.bounds[0]], [s.bounds[3], s.bounds[2]]) : undefined };
      if (STATIC) {
        // The sheet's archive (sheets/<id>.pmtiles); one published after the last `publish
        // static` has none yet: its tiles then come from the API.
        const src = archive(`sheets/${s.id}.pmtiles`);
        src.getHeader().then((h) => pmtiles.leafletRasterLayer(src, Object.assign(options, { minNativeZoom: h.minZoom, maxNativeZoom: h.maxZoom })),
          () => L.tileLayer(s.tiles, options)).then((layer) => showSheet(id, layer));
      } else showSheet(id, L.tileLayer(s.tiles, options));
    }
    swipeEl.hidden = !state.swipe;
    sheetNote();
    clip();
  }
  function showSheet(id, layer) {
    if (String(state.sheet) !== String(id)) return; // another sheet was chosen meanwhile
    if (sheetLayer) map.removeLayer(sheetLayer);
    sheetLayer = layer;
    sheetLayer.on("tileload", clip);
    sheetLayer.addTo(map);
    clip();
  }
  // The chosen sheet's accuracy: the independent check-point error, else leave-one-out.
  function sheetAcc(a) {
    if (!a) return null;
    if (a.check_error_m != null) return { m: a.check_error_m, what: t("accCheck") };
    if (a.loo_rmse_m != null) return { m: a.loo_rmse_m, what: t("accLoo") };
    return null;
  }
  function sheetNote() {
    const note = $("#scan-note");
    if (!sheets.length) { note.textContent = t("noSheets"); return; }
    const s = sheets.find((x) => String(x.id) === String(state.sheet));
    const a = s && sheetAcc(s.accuracy);
    note.textContent = a ? `${t("sheetAccuracy")}: ± ${num(a.m, 1)} m (${a.what})` : "";
  }
  function clip() {
    const zones = overlays.zones.getContainer && overlays.zones.getContainer();
    const scan = sheetLayer && sheetLayer.getContainer();
    if (!state.swipe || !scan) {
      if (zones) zones.style.clip = "";
      if (scan) scan.style.clip = "";
      return;
    }
    const ratio = Number($("#swipe-range").value) / 100;
    const nw = map.containerPointToLayerPoint([0, 0]);
    const se = map.containerPointToLayerPoint(map.getSize());
    const x = nw.x + (se.x - nw.x) * ratio;
    scan.style.clip = `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`;
    if (zones) zones.style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`;
    swipeEl.querySelector(".swipe-line").style.left = `${ratio * 100}%`;
  }
  map.on("move", clip);
  $("#swipe-range").addEventListener("input", clip);
  $("#sheet").addEventListener("change", (e) => { setSheet(e.target.value, state.swipe); save(true); });
  $("#swipe-on").addEventListener("change", (e) => { setSheet(state.sheet, e.target.checked); save(true); });
  $("#opacity").addEventListener("input", (e) => {
    state.opacity = Number(e.target.value);
    if (sheetLayer) sheetLayer.setOpacity(state.opacity / 100);
    save(false);
  });

  // ---- the panel ----------------------------------------------------------------------------
  const panel = $("#panel");
  const body = $("#panel-body");
  async function apiGet(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, priority: "high" });
    const doc = await r.json().catch(() => ({}));
    if (!r.ok) { const e = new Error(doc.detail || r.statusText); e.doc = doc; throw e; }
    return doc;
  }
  function errorText(e) {
    const d = e.doc || {};
    return state.lang === "vi" ? (d.detail_vi || d.detail || e.message) : (d.detail || e.message);
  }

  // What changed here: each adjustment in one sentence, with the link to its full comparison; an
  // empty, hidden slot while it is being asked for (or when the answer failed).
  function changesSection(info) {
    if (!info.changes) return el("section", { className: "changes", hidden: true });
    const vi = state.lang === "vi";
    const sec = el("section", { className: "changes", "aria-label": t("changesHere") }, el("h3", {}, t("changesHere")));
    if (!info.changes.length) sec.append(el("p", { className: "muted" }, t("noChanges")));
    else sec.append(el("ul", { className: "changes-list" }, info.changes.map((c) => el("li", { dataset: { kind: c.kind } },
      el("span", { dataset: { field: "change" } }, vi ? c.summary_vi : c.summary_en), " ",
      el("a", { className: "compare-link", href: String(c.links.page) }, t("compareLink"))))));
    return sec;
  }

  async function select(latlng, { push = true, pan = true } = {}) {
    const tapped = performance.now();
    state.point = [latlng.lat, latlng.lng];
    if (!marker) marker = L.circleMarker(latlng, { radius: 9, color: "#fff", weight: 3, fillColor: "#1450c8", fillOpacity: 1 }).addTo(map);
    else marker.setLatLng(latlng).addTo(map);
    panel.hidden = false;
    document.body.classList.add("has-panel");
    body.replaceChildren(el("p", { className: "loading" }, t("loading")));
    save(push);
    try {
      const q = `lon=${latlng.lng}&lat=${latlng.lat}`;
      // "What is planned here" is the serving layer's look-up; units and the data's date come beside
      // it, and the red-line answer (is this inside a planned road's reserve?) with them.
      // "What changed here" is asked for once the panel is shown: on a slow phone whose six
      // connections are busy with tiles, one request fewer before the answer.
      const [look, place, red] = await Promise.all([apiGet(`/api/lookup?${q}`), apiGet(`/api/citizen/place?${q}`),
        apiGet(`/api/citizen/red-line?${q}`).catch(() => null)]);
      const info = Object.assign({}, look, { point: look.query, units: place.units, data_date: place.data_date, red,
        changes: undefined });
      if (!state.point || state.point[0] !== latlng.lat || state.point[1] !== latlng.lng) return; // a newer tap won
      state.info = info;
      renderPanel(info);
      drawSelection(info);
      window.citizenMetrics.panelShown = performance.now() - tapped;
      panel.dataset.ready = "1";
      apiGet(`/api/citizen/changes?${q}`).then((c) => c.changes, () => null).then((changes) => {
        if (state.info !== info) return; // another point was chosen meanwhile
        info.changes = changes;
        const slot = body.querySelector("section.changes");
        if (slot) slot.replaceWith(changesSection(info));
      });
      if (pan && window.matchMedia("(max-width: 899px)").matches) {
        // Keep the point visible above the bottom sheet.
        const y = map.latLngToContainerPoint(latlng).y;
        const top = map.getSize().y - panel.offsetHeight;
        if (y > top - 30) map.panBy([0, y - top / 2], { animate: false });
      }
    } catch (e) {
      state.info = null;
      body.replaceChildren(panelHead(t("error")), el("p", { className: "error", role: "alert" }, errorText(e)));
      panel.dataset.ready = "1";
    }
  }
  function panelHead(title) {
    return el("div", { className: "card-head" }, el("h2", { id: "panel-title" }, title),
      el("button", { type: "button", className: "close", id: "panel-close", "aria-label": t("close") }, "×"));
  }
  // What the panel speaks of, drawn on the map: the road (its reserve and red lines) when the point
  // is by a planned road, and the selected zone's outline.
  const selection = L.layerGroup().addTo(map);
  async function drawSelection(info) {
    selection.clearLayers();
    const road = info.red && info.red.road;
    if (road && road.geometry) {
      if (road.geometry.reserve) selection.addLayer(L.geoJSON(road.geometry.reserve, { interactive: false,
        style: { color: "#e00000", weight: 0, fillColor: "#e00000", fillOpacity: road.inside_reserve ? 0.28 : 0.14 } }));
      if (road.geometry.red_lines) selection.addLayer(L.geoJSON(road.geometry.red_lines, { interactive: false,
        style: { color: "#c00000", weight: 4 } }));
      mapEl.dataset.road = road.road_name || "";
    } else delete mapEl.dataset.road;
    const gov = info.plans.find((p) => p.governing);
    const z = gov && gov.zones[0];
    if (!z || (road && road.inside_reserve)) return;
    try {
      const feat = await apiGet(`/ogc/collections/zones/items/${Number(z.id)}`);
      if (state.info !== info) return;
      selection.addLayer(L.geoJSON(feat, { interactive: false, style: { color: "#1450c8", weight: 3, fill: false, dashArray: null } }));
      mapEl.dataset.outlined = String(z.id);
    } catch (_e) { /* the outline is a help, the panel says it all */ }
  }
  function closePanel(push = true) {
    state.point = null; state.info = null;
    selection.clearLayers();
    panel.hidden = true; delete panel.dataset.ready;
    document.body.classList.remove("has-panel");
    if (marker) map.removeLayer(marker);
    save(push);
  }
  body.addEventListener("click", (e) => {
    if (e.target.closest("#panel-close")) { closePanel(); mapEl.focus(); }
    const view = e.target.closest("[data-view]");
    if (view) { e.preventDefault(); openDoc(view.dataset.view, view.dataset.title, view.dataset.pages); }
    if (e.target.closest("#share")) share();
    const show = e.target.closest("[data-sheet]");
    if (show) { setSheet(show.dataset.sheet, state.swipe); save(true); renderPanel(state.info); }
  });

  function floors(z) {
    if (z.floors_min == null && z.floors_max == null) return "—";
    if (z.floors_min == null || z.floors_min === z.floors_max) return `${z.floors_max} ${t("floorsUnit")}`;
    return `${z.floors_min}–${z.floors_max} ${t("floorsUnit")}`;
  }
  function decisionText(d) {
    if (!d || !d.number) return "—";
    return `${t("number")} ${d.number} ${t("date")} ${date(d.date)}${d.approving_body ? " — " + d.approving_body : ""}`;
  }
  function accuracyNodes(z) {
    const a = z && z.accuracy;
    const what = a && { check_points: t("accCheck"), leave_one_out: t("accLoo") }[a.basis];
    if (!a || a.sheet_id == null || !what || a.error_m == null) return [t("noAccuracy")];
    return [`± ${num(a.error_m, 1)} m `, el("small", {}, `(${what}; ${t("sheetWord")}: ${a.sheet_title})`),
      (sheets.some((s) => String(s.id) === String(a.sheet_id)) && String(state.sheet) !== String(a.sheet_id))
        ? [" ", el("button", { type: "button", className: "btn", dataset: { sheet: String(a.sheet_id) } }, t("showScan"))] : null];
  }
  function replacedBy(p, plans) {
    const by = plans.find((q) => q.id === p.superseded_by);
    if (!by) return null;
    return [el("br"), el("small", { dataset: { field: "replaced-by" } }, `${t("replacedBy")}: ${by.name} — ${t("decision")} ${decisionText(by.decision)}`)];
  }
  function metres(v) { return v == null ? "—" : `${num(v, 1)} m`; }
  // The red-line answer: the sentence, then the road's facts (width, section, plan, decision).
  function redLineSection(red) {
    const vi = state.lang === "vi";
    const road = red.road;
    const fact = (label, field, value) => el("div", {}, el("dt", {}, label), el("dd", { dataset: { field } }, value));
    const sec = el("section", { className: "redline" + (red.inside_reserve ? " inside" : ""), "aria-label": t("redLine") },
      el("h3", {}, t("redLine")), el("p", { className: "redline-summary", dataset: { field: "redline" } }, vi ? red.summary_vi : red.summary_en));
    if (road) {
      sec.append(el("dl", { className: "facts" },
        fact(t("road"), "road", road.road_name || "—"),
        fact(t("width"), "width", `${metres(road.width_m)}${road.cross_section ? `, ${t("section")} ${road.cross_section}` : ""}`),
        road.setback_m ? fact(t("setback"), "setback", metres(road.setback_m)) : null,
        fact(t("toRedLine"), "distance", metres(road.distance_m)),
        "cut_m2" in red ? null : fact(t("insideReserve"), "inside", red.inside_reserve ? t("yes") : t("no")),
        fact(t("byPlan"), "road-plan", `${road.plan.name} — ${t("decision")} ${decisionText(road.plan.decision)}`)));
    }
    if ("cut_m2" in red) {
      sec.append(el("dl", { className: "facts" },
        fact(t("cutArea"), "cut", `${num(red.cut_m2, 1)} m² (${num(red.cut_pct, 1)} %)`),
        fact(t("remaining"), "remaining", `${num(red.remaining_m2, 1)} m²`),
        red.setback_strip_m2 ? fact(t("setbackStrip"), "setback-strip", `${num(red.setback_strip_m2, 1)} m²`) : null,
        red.setback_strip_m2 ? fact(t("buildable"), "buildable", `${num(red.buildable_m2, 1)} m²`) : null));
    } else if (red.street) {
      sec.append(el("p", { className: "muted" }, `${t("street")}: ${red.street.name}`));
    }
    return sec;
  }
  function renderPanel(info) {
    const vi = state.lang === "vi";
    const gov = info.plans.find((p) => p.governing);
    const z = gov && gov.zones.length ? gov.zones[0] : null;
    const ind = z ? z.indicators : null;
    const red = info.red;
    const road = red && red.road;
    // Tapping a road shows the road: its name, not the road zone's label.
    const onRoad = road && road.inside_reserve;
    const onStreet = !onRoad && z && z.function_code === "GT" && red && red.street;
    const title = onRoad ? (road.road_name || t("redLine")) : onStreet ? red.street.name
      : z ? `${t("zone")} ${z.label}` : (gov ? gov.name : t("noPlan"));
    const parts = [panelHead(title)];
    if (red) parts.push(redLineSection(red));
    const fact = (label, field, value) => el("div", {}, el("dt", {}, label), el("dd", { dataset: { field } }, value));
    if (z) {
      parts.push(el("p", { className: "function" }, swatch(z.legend.color),
        el("span", { dataset: { field: "function" } }, el("b", {}, vi ? z.legend.name_vi : z.legend.name_en), ` (${z.function_code})`),
        el("br"), el("small", { lang: vi ? "en" : "vi" }, vi ? z.legend.name_en : z.legend.name_vi)));
      parts.push(el("dl", { className: "indicators" },
        fact(t("area"), "area", `${num(ind.area_m2, 0)} m²`),
        fact(t("coverage"), "coverage", ind.coverage_pct == null ? "—" : `${num(ind.coverage_pct, 1)} %`),
        fact(t("floors"), "floors", floors(ind)),
        fact(t("far"), "far", ind.far == null ? "—" : num(ind.far, 2) + " " + t("times")),
        fact(t("population"), "population", ind.population == null ? "—" : num(ind.population, 0) + " " + t("people"))));
    } else {
      parts.push(el("p", {}, t("noZone")));
    }
    if (gov) {
      // Why this plan: the most detailed plan in force here; the plan it details is the next one.
      const detailsPlan = info.plans.find((p) => p.in_force && !p.governing && p.kind.rank < gov.kind.rank);
      const sec = el("section", { className: "gov", "aria-label": t("governing") }, el("h3", {}, t("governing")),
        el("p", { className: "plan-name", dataset: { field: "plan" } }, gov.name),
        el("p", { className: "why", dataset: { field: "why" } }, `${t("why")}: ${t("whyText")}`,
          detailsPlan ? [el("br"), `${t("details")}: `, el("span", {}, detailsPlan.name)] : null),
        el("p", { className: "muted" }, `${vi ? gov.kind.name_vi : gov.kind.name_en}${gov.scale ? ", " + gov.scale : ""} · ${vi ? gov.status.name_vi : gov.status.name_en}`),
        el("dl", { className: "facts" }, fact(t("decision"), "decision", decisionText(gov.decision)),
          fact(t("accuracy"), "accuracy", accuracyNodes(z))));
      if (gov.documents.length) {
        sec.append(el("h4", {}, t("documents")), el("ul", { className: "docs" }, gov.documents.map((d) => {
          const file = `/documents/${Number(d.id)}/file`;
          return el("li", {},
            el("span", {}, `${vi ? d.type_vi : d.type_en}${d.number ? " " + d.number : ""}${d.issued_on ? ", " + date(d.issued_on) : ""}`,
              el("br"), el("small", {}, d.title)),
            el("span", { className: "doc-actions" },
              el("a", { href: file, className: "btn", dataset: { view: String(Number(d.id)), title: d.title || "", pages: String(d.pages || 0) } }, t("view")),
              el("a", { href: file, className: "btn", download: "" }, t("download"))));
        })));
        if (gov.documents_total > gov.documents.length) {
          sec.append(el("p", {}, el("a", { href: `/tai-lieu?plan=${Number(gov.id)}`, className: "all-docs" },
            t("allDocuments").replace("{n}", String(Number(gov.documents_total))))));
        }
      }
      parts.push(sec);
    }
    parts.push(changesSection(info));
    const others = info.plans.filter((p) => !p.governing);
    if (others.length) {
      parts.push(el("section", {}, el("h3", {}, t("others")), el("ul", { className: "others" }, others.map((p) => {
        const oz = p.zones[0];
        return el("li", { className: p.superseded ? "superseded" : "" },
          p.superseded ? [el("span", { className: "badge" }, t("superseded")), " "] : null,
          el("span", {}, p.name), oz ? ` — ${oz.label} (${vi ? oz.legend.name_vi : oz.legend.name_en})` : null,
          el("br"), el("small", {}, `${t("decision")} ${decisionText(p.decision)}`),
          p.superseded ? replacedBy(p, info.plans) : null);
      }))));
    }
    const pt = info.point;
    const coords = el("section", {}, el("h3", {}, t("coords")),
      el("p", { className: "muted", dataset: { field: "coords" } }, `WGS 84: ${pt.lat.toFixed(6)}, ${pt.lon.toFixed(6)}`, el("br"),
        `VN-2000: X ${num(pt.x_north, 2)} · Y ${num(pt.y_east, 2)}`));
    if (info.units.length) {
      coords.append(el("p", { className: "muted" }, `${t("units")}: ` +
        info.units.map((u) => u.name + (u.current ? "" : ` (${t("oldName")})`)).join("; ")));
    }
    coords.append(el("p", { className: "muted" }, `${t("dataDate")}: ${date(info.data_date)}`));
    parts.push(coords);
    const q = `lon=${Number(pt.lon)}&lat=${Number(pt.lat)}`;
    parts.push(el("div", { className: "actions" },
      el("a", { className: "btn primary", id: "info-sheet", href: `/api/info-sheet.pdf?${q}`, target: "_blank", rel: "noopener" }, t("sheetPdf")),
      el("a", { className: "btn", id: "ask-question", href: `/hoi-dap/hoi?${q}` }, t("ask")),
      el("button", { type: "button", className: "btn", id: "share" }, t("share"))),
      el("label", { className: "share-row", htmlFor: "share-url" }, t("shareLink")),
      el("input", { id: "share-url", readOnly: true, value: location.href }));
    body.replaceChildren(...parts);
  }

  async function share() {
    const url = location.href;
    const input = $("#share-url");
    input.value = url; input.select();
    try {
      if (navigator.share && window.matchMedia("(max-width: 899px)").matches) await navigator.share({ title: t("title"), url });
      else { await navigator.clipboard.writeText(url); $("#share").textContent = t("copied"); }
    } catch (_e) { /* the link stays selected in the box: the citizen can copy it */ }
  }

  // ---- documents in the page ----------------------------------------------------------------
  const viewer = $("#viewer");
  // Pages are shown as images rendered by the library: phones do not draw a PDF inside a page.
  // Each page is as wide as the viewer (the whole screen on a phone), zoomed with − / + (the
  // pages then scroll sideways) or the fingers, and its text follows it, so that it can be read,
  // copied and enlarged by the phone's own text size.
  const ZOOMS = [1, 1.5, 2, 3];
  let zoomAt = 0, openSeq = 0;
  function setPageZoom(i) {
    zoomAt = Math.max(0, Math.min(ZOOMS.length - 1, i));
    const pagesEl = $("#viewer-pages");
    pagesEl.style.setProperty("--page-zoom", String(ZOOMS[zoomAt]));
    pagesEl.classList.toggle("zoomed", zoomAt > 0);
    pagesEl.dataset.zoom = String(ZOOMS[zoomAt]);
    $("#viewer-zoom-out").disabled = zoomAt === 0;
    $("#viewer-zoom-in").disabled = zoomAt === ZOOMS.length - 1;
    $("#viewer-zoom-level").textContent = `${Math.round(ZOOMS[zoomAt] * 100)} %`;
    // Enlarged pages are drawn from the sharper 200 dpi rendering (the library's largest).
    for (const img of pagesEl.querySelectorAll(".page img")) {
      const base = img.dataset.src;
      if (base) img.src = zoomAt > 0 ? `${base}?dpi=200` : base;
    }
  }
  function pageFigures(doc, n) {
    return Array.from({ length: n }, (_, i) => el("figure", { className: "page" },
      el("div", { className: "page-image" },
        el("img", { src: `/documents/${doc}/pages/${i + 1}.png`, alt: `${t("page")} ${i + 1}`, loading: i ? "lazy" : "eager",
          dataset: { src: `/documents/${doc}/pages/${i + 1}.png` } })),
      el("figcaption", {}, el("b", {}, `${t("page")} ${i + 1}`),
        el("div", { className: "page-text", lang: "vi", dataset: { page: String(i + 1) } }))));
  }
  function openDoc(id, title, pages) {
    const doc = Number(id);
    const file = `/documents/${doc}/file`;
    const pagesEl = $("#viewer-pages");
    $("#viewer-title").textContent = title;
    $("#viewer-download").href = file;
    $("#viewer-open").href = file;
    // The panel knows the page count; a search hit does not: the document's record then tells.
    let n = Math.min(Number(pages) || 0, 60);
    pagesEl.replaceChildren(...(n ? pageFigures(doc, n) : [el("p", { className: "loading" }, t("loading"))]));
    pagesEl.scrollTo(0, 0);
    setPageZoom(0);
    viewer.showModal();
    // The text of each page, read by the library (from the PDF or by OCR), as text.
    const mine = ++openSeq;
    fetch(`/api/documents/${doc}`).then((r) => (r.ok ? r.json() : null)).then((d) => {
      if (mine !== openSeq) return;
      if (!n) {
        n = Math.min(Number(d && d.page_count) || 0, 60);
        // Without a page count (text not read yet) only the PDF links are offered.
        pagesEl.replaceChildren(...(n ? pageFigures(doc, n) : [el("p", {}, t("noPages"))]));
      }
      if (!d || !Array.isArray(d.pages)) return;
      for (const p of d.pages) {
        const box = pagesEl.querySelector(`.page-text[data-page="${Number(p.page)}"]`);
        if (!box) continue;
        const words = String(p.text ?? "").trim();
        box.textContent = words || t("noPageText");
        box.classList.toggle("empty", !words);
      }
      pagesEl.dataset.text = "1";
    }).catch(() => {
      if (mine === openSeq && !n) pagesEl.replaceChildren(el("p", {}, t("noPages")));
    });
  }
  $("#viewer-close").addEventListener("click", () => viewer.close());
  $("#viewer-zoom-in").addEventListener("click", () => setPageZoom(zoomAt + 1));
  $("#viewer-zoom-out").addEventListener("click", () => setPageZoom(zoomAt - 1));
  viewer.addEventListener("close", () => { openSeq++; $("#viewer-pages").replaceChildren(); delete $("#viewer-pages").dataset.text; });

  // ---- tap, keyboard ------------------------------------------------------------------------
  map.on("click", (e) => (drawing ? addCorner(e.latlng) : select(e.latlng)));
  mapEl.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === mapEl) { e.preventDefault(); select(map.getCenter()); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    if (!$("#results").hidden) { hideResults(); $("#q").focus(); } else if (!panel.hidden) closePanel();
  });
  map.on("moveend", () => save(false));

  // ---- search -------------------------------------------------------------------------------
  const results = $("#results");
  function hideResults() { results.hidden = true; results.replaceChildren(); }
  // A result's box: [west, south, east, north] (the search API) or a GeoJSON polygon.
  function bboxBounds(b) {
    if (Array.isArray(b) && b.length === 4 && b.every(Number.isFinite)) return L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    const ring = b && b.coordinates && b.coordinates[0];
    if (!ring) return null;
    return L.latLngBounds(ring.map(([x, y]) => [y, x]));
  }
  let lastResults = [];
  async function runSearch(q, jump) {
    if (!q.trim()) { hideResults(); return; }
    if (jump) window.citizenMetrics.searchStart = performance.now();
    let doc;
    try {
      doc = await apiGet(`/api/citizen/find?q=${encodeURIComponent(q)}`);
    } catch (e) {
      if (!jump && !(e.doc && e.doc.code === "outside_hanoi")) return;
      const nums = q.match(/[-+]?\d+(?:[.,]\d+)?/g);
      const swap = e.doc && e.doc.code === "outside_hanoi" && nums && nums.length === 2 && /đảo|swap/i.test(e.doc.detail_vi + e.doc.detail);
      results.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(e)),
        swap ? el("button", { type: "button", className: "btn", id: "swap", dataset: { q: nums[1] + " " + nums[0] } }, `${t("swap")}: ${nums[1]} ${nums[0]}`) : "");
      results.hidden = false;
      return;
    }
    if ($("#q").value.trim() !== q.trim()) return; // the citizen typed on
    if (doc.coordinates) {
      const c = doc.coordinates;
      results.replaceChildren(el("p", { className: "reading", dataset: { field: "reading" } },
        `${t("reading")}: ${state.lang === "vi" ? c.reading_vi : c.reading_en} → ${c.lat.toFixed(6)}, ${c.lon.toFixed(6)}`));
      results.hidden = false;
      if (jump) {
        const ll = L.latLng(c.lat, c.lon);
        map.setView(ll, Math.max(map.getZoom(), 17), { animate: false });
        select(ll);
      }
      return;
    }
    lastResults = doc.results;
    if (!doc.results.length) {
      results.replaceChildren(el("p", {}, t("noResults")));
    } else {
      results.replaceChildren(el("ul", { role: "list" }, doc.results.map((r, i) =>
        el("li", {}, el("button", { type: "button", className: "hit", dataset: { i: String(i) } },
          el("span", { className: "kind" }, T[state.lang].kinds[r.kind] || r.kind), " ",
          el("span", { className: "hit-title" }, marked(r.title_html)),
          r.subtitle ? [el("br"), el("small", {}, r.subtitle)] : null)))));
    }
    results.hidden = false;
    // Enter jumps to the best result that is a place on the map; documents open only when chosen.
    const place = doc.results.find((r) => bboxBounds(r.bbox));
    if (jump && place) goTo(place, false);
  }
  function goTo(r, close = true) {
    const b = bboxBounds(r.bbox);
    if (b) map.fitBounds(b, { maxZoom: 17, animate: false, padding: [20, 20] });
    if (b && window.citizenMetrics.searchStart !== null) {
      window.citizenMetrics.centred = performance.now() - window.citizenMetrics.searchStart;
      window.citizenMetrics.searchStart = null;
    }
    if (r.kind === "address" && r.point) select(L.latLng(r.point.lat, r.point.lon));
    else if (r.kind === "zone" && b) select(b.getCenter());
    else if (r.kind === "document" || r.kind === "decision") openDoc(r.id, r.title, r.page_count || 0);
    mapEl.dataset.jumped = String(r.kind) + ":" + r.id;
    save(true);
    if (close) hideResults();
  }
  results.addEventListener("click", (e) => {
    const hit = e.target.closest(".hit");
    if (hit) goTo(lastResults[Number(hit.dataset.i)]);
    const swap = e.target.closest("#swap");
    if (swap) { $("#q").value = swap.dataset.q; runSearch(swap.dataset.q, true); }
  });
  $("#search").addEventListener("submit", (e) => { e.preventDefault(); runSearch($("#q").value, true); });
  let typing = null;
  $("#q").addEventListener("input", () => {
    clearTimeout(typing);
    const q = $("#q").value;
    if (q.trim().length < 3) { hideResults(); return; }
    typing = setTimeout(() => runSearch(q, false), 350);
  });

  // ---- a plot: drawn, pasted as GeoJSON or typed as corners; shares and the PDF ------------
  const plotDlg = $("#plot");
  let drawing = null; // { corners: [LatLng], shape: L.Polygon } while the citizen taps corners
  let plotPdfUrl = null;
  let drawnShape = null; // the last drawn plot stays on the map
  $("#plot-btn").addEventListener("click", () => { toggleLayers(false, false); plotDlg.showModal(); });
  $("#plot-close").addEventListener("click", () => plotDlg.close());
  function drawText() {
    $("#draw-text").textContent = `${t("plotDrawing")} (${drawing.corners.length} ${t("corners")})`;
  }
  $("#plot-draw").addEventListener("click", () => {
    plotDlg.close();
    if (drawnShape) drawnShape.remove();
    drawing = { corners: [], shape: L.polygon([], { color: "#1450c8", weight: 3, fillOpacity: 0.15, interactive: false }).addTo(map) };
    document.body.classList.add("drawing");
    $("#draw-bar").hidden = false;
    drawText();
  });
  function addCorner(ll) {
    drawing.corners.push(ll);
    drawing.shape.setLatLngs(drawing.corners);
    drawText();
  }
  function stopDrawing() {
    document.body.classList.remove("drawing");
    $("#draw-bar").hidden = true;
    const corners = drawing ? drawing.corners : [];
    drawnShape = drawing ? drawing.shape : null;
    drawing = null;
    return corners;
  }
  $("#draw-cancel").addEventListener("click", () => { stopDrawing(); if (drawnShape) drawnShape.remove(); });
  $("#draw-done").addEventListener("click", () => {
    if (drawing.corners.length < 3) { $("#draw-text").textContent = t("plotNeed3"); return; }
    const ring = stopDrawing().map((ll) => [Number(ll.lng.toFixed(7)), Number(ll.lat.toFixed(7))]);
    $("#plot-text").value = JSON.stringify({ type: "Polygon", coordinates: [[...ring, ring[0]]] });
    plotDlg.showModal();
    submitPlot();
  });
  // GeoJSON (WGS 84), or one corner a line: "X Y" in VN-2000 (northing first, as on land papers)
  // or "lon lat"; a leading corner number is skipped. Returns { geometry, crs } or throws a message.
  function readPlot(text) {
    const raw = text.trim();
    if (!raw) throw new Error(t("plotNeed3"));
    if (raw.startsWith("{")) {
      let doc;
      try { doc = JSON.parse(raw); } catch (_e) { throw new Error(t("plotBadText")); }
      if (doc.type === "FeatureCollection") doc = (doc.features || [])[0] || {};
      return { geometry: doc.type === "Feature" ? doc.geometry : doc, crs: "4326" };
    }
    const pairs = raw.split(/\n|;/).map((line, i, all) => {
      if (i === 0 && all.length > 3 && !/\d/.test(line)) return null; // a header: "STT, X (m), Y (m)"
      let tok = line.replace(/[xy]\s*[=:]/gi, " ").trim().split(/[\s\t]+/).filter(Boolean);
      if (tok.length === 1) tok = tok[0].split(",");
      tok = tok.map((x) => x.replace(/,$/, "").replace(",", ".")).filter(Boolean);
      if (tok.length === 3) tok = tok.slice(1);
      const nums = tok.map(Number);
      if (!line.trim()) return null;
      if (nums.length !== 2 || !nums.every(Number.isFinite)) throw new Error(t("plotBadText"));
      return nums;
    }).filter(Boolean);
    if (pairs.length < 3) throw new Error(t("plotNeed3"));
    const big = pairs.map(([a, b]) => Math.abs(a) > 1000 && Math.abs(b) > 1000);
    if (big.some((x) => x !== big[0])) throw new Error(t("plotMixed"));
    const ring = big[0] ? pairs.map(([x, y]) => [y, x]) : pairs; // GeoJSON is easting, northing
    const first = ring[0], last = ring[ring.length - 1];
    if (first[0] !== last[0] || first[1] !== last[1]) ring.push(first);
    return { geometry: { type: "Polygon", coordinates: [ring] }, crs: big[0] ? "5897" : "4326" };
  }
  async function postJson(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) { const doc = await r.json().catch(() => ({})); const e = new Error(doc.detail || r.statusText); e.doc = doc; throw e; }
    return r;
  }
  function sharesNodes(look) {
    const plans = look.plans.filter((p) => p.zones.length);
    const out = [el("p", { dataset: { field: "plot-area" } }, el("b", {}, `${t("plotArea")}:`), ` ${num(look.query.plot_area_m2, 1)} m²`)];
    if (!plans.length) return [...out, el("p", {}, t("plotNoZone"))];
    const vi = state.lang === "vi";
    for (const p of plans) {
      const role = p.governing ? t("governing") : (p.superseded ? t("superseded") : t("others"));
      out.push(el("h3", { className: "plot-plan" }, `${role}: ${p.name}`));
      out.push(el("table", { className: "shares", dataset: p.governing ? { governing: "1" } : {} },
        el("thead", {}, el("tr", {}, el("th", {}, t("zone")), el("th", {}, t("lyrZones")),
          el("th", { className: "n" }, t("inPlot")), el("th", { className: "n" }, t("sharePct")))),
        el("tbody", {}, [...p.zones].sort((a, b) => b.share_m2 - a.share_m2).map((z) => el("tr", {},
          el("td", {}, z.label),
          el("td", {}, swatch(z.legend.color), vi ? z.legend.name_vi : z.legend.name_en),
          el("td", { className: "n" }, `${num(z.share_m2, 1)} m²`),
          el("td", { className: "n", dataset: { share: "" } }, `${num(z.share_pct, 1)} %`)))),
        el("tfoot", {}, el("tr", {}, el("td", { colspan: "2" }, t("total")),
          el("td", { className: "n" }, `${num(p.plot_covered_m2, 1)} m²`),
          el("td", { className: "n", dataset: { total: "" } }, `${num(p.plot_covered_pct, 1)} %`)))));
    }
    return out;
  }
  let plotShape = null;
  let plotCut = null;
  // A small file (GeoJSON, or corners one per line as typed) is read here into the text box.
  $("#plot-file").addEventListener("change", async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    if (file.size > 512 * 1024) { $("#plot-result").replaceChildren(el("p", { className: "error", role: "alert" }, t("plotBadText"))); return; }
    $("#plot-text").value = (await file.text()).replace(/^\ufeff/, "");
    submitPlot();
  });
  async function submitPlot() {
    const out = $("#plot-result");
    let plot;
    try { plot = readPlot($("#plot-text").value); } catch (e) {
      out.replaceChildren(el("p", { className: "error", role: "alert" }, e.message)); return;
    }
    out.replaceChildren(el("p", { className: "loading" }, t("loading")));
    try {
      const [look, red] = await Promise.all([postJson(`/api/lookup?crs=${plot.crs}`, plot.geometry).then((r) => r.json()),
        postJson(`/api/citizen/red-line?crs=${plot.crs}`, plot.geometry).then((r) => r.json()).catch(() => null)]);
      out.replaceChildren(...(red ? [redLineSection(red)] : []), ...sharesNodes(look),
        el("p", { className: "loading", id: "plot-pdf-wait" }, "…"));
      if (plotCut) { plotCut.remove(); plotCut = null; }
      if (red && red.cut) {
        plotCut = L.geoJSON(red.cut, { interactive: false, style: { color: "#c00000", weight: 2, fillColor: "#e00000", fillOpacity: 0.45 } }).addTo(map);
        mapEl.dataset.plotCut = String(red.cut_m2);
      }
      if (plotShape) plotShape.remove();
      const pdf = await (await postJson(`/api/info-sheet.pdf?crs=${plot.crs}`, plot.geometry)).blob();
      if (plotPdfUrl) URL.revokeObjectURL(plotPdfUrl);
      plotPdfUrl = URL.createObjectURL(pdf);
      $("#plot-pdf-wait").replaceWith(el("div", { className: "actions" },
        el("a", { className: "btn primary", id: "plot-pdf", href: plotPdfUrl, download: "phieu-thong-tin-thua-dat.pdf" }, t("plotPdf")),
        // a question about this plot (WGS 84 plots: the form reads lon/lat GeoJSON)
        String(plot.crs) === "4326" ? el("a", { className: "btn", id: "plot-ask",
          href: `/hoi-dap/hoi?plot=${encodeURIComponent(JSON.stringify(plot.geometry))}` }, t("ask")) : null));
      const c = look.query.centroid;
      plotShape = L.circleMarker([c.lat, c.lon], { radius: 6, color: "#1450c8", weight: 2, fillOpacity: 0.6, interactive: false }).addTo(map);
      out.dataset.ready = "1";
    } catch (e) {
      out.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(e)));
      out.dataset.ready = "1";
    }
  }
  $("#plot-submit").addEventListener("click", () => { delete $("#plot-result").dataset.ready; submitPlot(); });

  // ---- my location --------------------------------------------------------------------------
  $("#locate").addEventListener("click", () => {
    if (!navigator.geolocation) { results.replaceChildren(el("p", { className: "error", role: "alert" }, t("geoUnsupported"))); results.hidden = false; return; }
    navigator.geolocation.getCurrentPosition((pos) => {
      const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      if (!HANOI.contains(ll)) {
        const where = `${num(ll.lat, 4)}; ${num(ll.lng, 4)}`;
        results.replaceChildren(el("p", { className: "error", role: "alert", dataset: { field: "geo" } }, t("geoOutside").replace("{where}", where)));
        results.hidden = false;
        return;
      }
      hideResults();
      map.setView(ll, 17, { animate: false });
      select(ll);
    }, (err) => {
      results.replaceChildren(el("p", { className: "error", role: "alert" }, `${t("geoDenied")}: ${err.message}`));
      results.hidden = false;
    }, { enableHighAccuracy: true, timeout: 15000 });
  });

  // The skip link focuses the box without touching the hash (the hash is the map's state).
  $(".skip").addEventListener("click", (e) => { e.preventDefault(); $("#q").focus(); });

  // ---- start --------------------------------------------------------------------------------
  window.addEventListener("popstate", () => applyState(parseHash(), false));
  applyState(parseHash(), true);
  mapEl.dataset.ready = "1";
})();
