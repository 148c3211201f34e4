/* Control-point editor: the scan (pixel space, Leaflet CRS.Simple) beside a reference map.
   Click the scan, then click the map or type X (north) / Y (east) in VN-2000. Every change goes
   to the server, which answers with the points and the residual report of every method. */
(function () {
  "use strict";
  var root = document.getElementById("editor");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var api = root.dataset.api;
  var W = +root.dataset.width, H = +root.dataset.height, MZ = +root.dataset.maxzoom;
  var statusEl = document.getElementById("status");
  var mode = "points", pending = null, pendingMarker = null, maskPts = [], maskLine = null;
  var scanMarkers = L.layerGroup(), refMarkers = L.layerGroup(), maskLayer = null, preview = null;
  var state = null;

  function say(msg, isError) {
    statusEl.textContent = msg || "";
    statusEl.className = "ws-status" + (isError ? " error" : "");
  }
  function call(method, url, body, isForm) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    var opts = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      if (isForm) { opts.body = body; } else { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.detail_vi || data.detail || ("Lỗi " + r.status)); e.data = data; throw e; }
        return data;
      });
    });
  }
  function fail(e) { say(e.message, true); }
  /* Every label comes from a planner: it goes into the page as text, never as HTML.
     el("td", { className: "x" }, "text", node, ...) builds an element; strings become text nodes. */
  function el(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "dataset") { Object.keys(props[k]).forEach(function (d) { node.dataset[d] = props[k][d]; }); }
      else if (k in node) { node[k] = props[k]; }
      else { node.setAttribute(k, props[k]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c !== null && c !== undefined) { node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c))); }
    }
    return node;
  }
  function fmt(v, n) { return v === null || v === undefined ? "–" : Number(v).toFixed(n === undefined ? 3 : n); }

  /* --- the two maps --- */
  var scanMap = L.map("scan-map", { crs: L.CRS.Simple, minZoom: 0, maxZoom: MZ + 2, attributionControl: false });
  function ll(px, py) { return scanMap.unproject([px, py], MZ); }
  function px(latlng) { var p = scanMap.project(latlng, MZ); return [p.x, p.y]; }
  var imgBounds = L.latLngBounds(ll(0, H), ll(W, 0));
  /* container point of a scan pixel: lets tests click a known pixel */
  window.__scanMapPoint = function (x, y) { var p = scanMap.latLngToContainerPoint(ll(x, y)); return [p.x, p.y]; };
  function tileUrl() { return root.dataset.tiles + "?v=" + encodeURIComponent(state ? state.width + "x" + state.height + (state.rev || "") : ""); }
  var scanTiles = L.tileLayer(root.dataset.tiles, { minZoom: 0, maxZoom: MZ + 2, maxNativeZoom: MZ, noWrap: true, bounds: imgBounds, tileSize: 256 }).addTo(scanMap);
  scanMap.fitBounds(imgBounds);
  scanMarkers.addTo(scanMap);

  var refMap = L.map("ref-map", { attributionControl: false });
  var pb = JSON.parse(root.dataset.planBounds || "null") || [105.78, 21.0, 105.86, 21.06];
  refMap.fitBounds([[pb[1], pb[0]], [pb[3], pb[2]]]);
  refMarkers.addTo(refMap);
  /* The VN-2000 grid and the cursor read in X (north) / Y (east): the server fits quadratics
     between lon/lat and EPSG:5897 over the plan (pyproj with the datum shift; error in mm). */
  var vg = JSON.parse(root.dataset.vnGrid || "null");
  function quad(c, u, v) { return c[0] + c[1] * u + c[2] * v + c[3] * u * u + c[4] * u * v + c[5] * v * v; }
  function toVn(lon, lat) { var u = lon - vg.lonlat_origin[0], v = lat - vg.lonlat_origin[1]; return [quad(vg.east, u, v), quad(vg.north, u, v)]; }
  function toLl(e, n) { var u = (e - vg.en_origin[0]) / 1000, v = (n - vg.en_origin[1]) / 1000; return [quad(vg.lat, u, v), quad(vg.lon, u, v)]; }
  function grouped(v) { return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " "); }
  var gridLayer = L.layerGroup();
  function drawGrid() {
    gridLayer.clearLayers();
    if (!vg) { return; }
    var b = refMap.getBounds(), corners = [toVn(b.getWest(), b.getSouth()), toVn(b.getEast(), b.getNorth()),
      toVn(b.getWest(), b.getNorth()), toVn(b.getEast(), b.getSouth())];
    var e0 = Math.min.apply(null, corners.map(function (c) { return c[0]; })), e1 = Math.max.apply(null, corners.map(function (c) { return c[0]; }));
    var n0 = Math.min.apply(null, corners.map(function (c) { return c[1]; })), n1 = Math.max.apply(null, corners.map(function (c) { return c[1]; }));
    var step = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000].find(function (s) { return (e1 - e0) / s <= 12; }) || 10000;
    var style = { color: "#1a5fb4", weight: 1, opacity: 0.6, interactive: false, className: "vn-grid" };
    for (var e = Math.ceil(e0 / step) * step; e <= e1; e += step) {
      gridLayer.addLayer(L.polyline([toLl(e, n0), toLl(e, (n0 + n1) / 2), toLl(e, n1)], style));
    }
    for (var n = Math.ceil(n0 / step) * step; n <= n1; n += step) {
      gridLayer.addLayer(L.polyline([toLl(e0, n), toLl((e0 + e1) / 2, n), toLl(e1, n)], style));
    }
  }
  refMap.on("moveend", drawGrid);
  gridLayer.addTo(refMap);
  drawGrid();
  var readout = document.getElementById("cursor-vn");
  refMap.on("mousemove", function (ev) {
    if (!vg) { return; }
    var p = toVn(ev.latlng.lng, ev.latlng.lat);
    readout.textContent = "X = " + grouped(p[1]) + "  Y = " + grouped(p[0]);
  });
  var scanArrows = L.layerGroup().addTo(scanMap), refArrows = L.layerGroup().addTo(refMap);
  var vertexLayer = L.layerGroup().addTo(scanMap);
  var zonesLayer = L.layerGroup().addTo(refMap);
  L.control.layers(null, { "Lưới VN-2000": gridLayer, "Ô quy hoạch của đồ án": zonesLayer, "Mũi tên sai số": refArrows }, { collapsed: false }).addTo(refMap);
  fetch(root.dataset.zones + "?bbox=" + pb.join(",")).then(function (r) { return r.json(); }).then(function (fc) {
    zonesLayer.addLayer(L.geoJSON(fc, { style: function (f) { return { color: "#555", weight: 1, fillColor: f.properties.color, fillOpacity: 0.5 }; },
      onEachFeature: function (f, layer) { layer.bindTooltip(el("span", { className: "ws-zone-tip" }, f.properties.label + " " + f.properties.function_code)); } }));
  }).catch(function () {});

  function label(text, cls) { return L.divIcon({ className: "", html: el("span", { className: "ws-label " + (cls || "") }, text), iconSize: null, iconAnchor: [-4, 8] }); }

  /* --- drawing the state --- */
  function render(data) {
    state = data;
    document.getElementById("sheet-state").textContent = data.state_vi;
    var rep = data.report || {};
    var blunders = {};
    (rep.residuals || []).forEach(function (r) { if (r.blunder) { blunders[r.id] = true; } });
    scanMarkers.clearLayers(); refMarkers.clearLayers();
    var tbody = document.querySelector("#points-table tbody");
    tbody.replaceChildren();
    data.points.forEach(function (p) {
      var cls = blunders[p.id] ? "blunder" : "";
      var m = L.marker(ll(p.pixel_x, p.pixel_y), { draggable: true, icon: label(p.label, cls), title: p.label });
      m.on("dragend", function () { var q = px(m.getLatLng()); pushUndo("di chuyển điểm " + p.label, function () { return call("PATCH", api + "/diem/" + p.id, { pixel_x: p.pixel_x, pixel_y: p.pixel_y }); });
        call("PATCH", api + "/diem/" + p.id, { pixel_x: q[0], pixel_y: q[1] }).then(render).catch(fail); });
      scanMarkers.addLayer(m);
      L.circleMarker(ll(p.pixel_x, p.pixel_y), { radius: 3, color: blunders[p.id] ? "#d00" : "#06c" }).addTo(scanMarkers);
      var r = L.marker([p.lat, p.lon], { draggable: true, icon: label(p.label, cls), title: p.label });
      r.on("dragend", function () { var q = r.getLatLng(); pushUndo("di chuyển điểm " + p.label, function () { return call("PATCH", api + "/diem/" + p.id, { x_north: p.northing, y_east: p.easting }); });
        call("PATCH", api + "/diem/" + p.id, { lon: q.lng, lat: q.lat }).then(render).catch(fail); });
      refMarkers.addLayer(r);
      L.circleMarker([p.lat, p.lon], { radius: 3, color: blunders[p.id] ? "#d00" : "#06c" }).addTo(refMarkers);
      var tr = document.createElement("tr");
      tr.dataset.pointId = p.id;
      tr.className = (blunders[p.id] ? "blunder " : "") + (p.enabled ? "" : "disabled");
      tr.append(el("td", {}, p.label), el("td", {}, fmt(p.pixel_x, 1)), el("td", {}, fmt(p.pixel_y, 1)), el("td", {}, fmt(p.x_north, 2)),
        el("td", {}, fmt(p.y_east, 2)), el("td", { className: "residual", title: p.enabled ? "Sai số tại điểm khống chế" : "Điểm kiểm tra: sai số so với phép nắn không dùng điểm này" }, fmt(p.residual_m), p.enabled ? null : el("small", { className: "check-tag" }, " (kiểm tra)")),
        el("td", { className: "loo" }, fmt(p.loo_error_m)),
        el("td", {}, el("input", { type: "checkbox", className: "enable", checked: !!p.enabled, "aria-label": "Dùng điểm " + p.label + " để nắn" })),
        el("td", {}, el("button", { type: "button", className: "delete", "aria-label": "Xóa điểm " + p.label }, "Xóa")));
      tr.querySelector(".enable").addEventListener("change", function (ev) { var was = p.enabled;
        pushUndo((was ? "tắt" : "bật") + " điểm " + p.label, function () { return call("PATCH", api + "/diem/" + p.id, { enabled: was }); });
        call("PATCH", api + "/diem/" + p.id, { enabled: ev.target.checked }).then(render).catch(fail); });
      tr.querySelector(".delete").addEventListener("click", function () {
        pushUndo("xóa điểm " + p.label, function () {
          return call("POST", api + "/diem", { pixel_x: p.pixel_x, pixel_y: p.pixel_y, x_north: p.northing, y_east: p.easting, label: p.label }).then(function (d) {
            if (p.enabled) { return d; }
            var back = d.points.filter(function (x) { return x.label === p.label; }).pop();
            return back ? call("PATCH", api + "/diem/" + back.id, { enabled: false }) : d;
          });
        });
        call("DELETE", api + "/diem/" + p.id).then(render).catch(fail); });
      tbody.appendChild(tr);
    });
    /* Residual arrows on both maps, from each point to where the fit puts it, exaggerated so
       the largest is a twentieth of the sheet (the factor is said beside the maps). */
    scanArrows.clearLayers(); refArrows.clearLayers();
    var rows = (rep.residuals || []).filter(function (r) { return r.id && r.total_px !== null; });
    var maxPx = Math.max.apply(null, rows.map(function (r) { return r.total_px || 0; }).concat([1e-9]));
    var k = Math.min(1000, Math.max(1, 0.05 * W / maxPx));
    var byId = {}; data.points.forEach(function (p) { byId[p.id] = p; });
    rows.forEach(function (r) {
      var p = byId[r.id]; if (!p) { return; }
      var style = { color: r.blunder ? "#d00" : "#c64600", weight: 2, interactive: false, className: "residual-arrow" };
      scanArrows.addLayer(L.polyline([ll(p.pixel_x, p.pixel_y), ll(p.pixel_x + k * (r.dx_px || 0), p.pixel_y + k * (r.dy_px || 0))], style));
      if (vg) { refArrows.addLayer(L.polyline([[p.lat, p.lon], toLl(p.easting + k * (r.dx_m || 0), p.northing + k * (r.dy_m || 0))], style)); }
    });
    document.getElementById("arrow-scale").textContent = rows.length ? "Mũi tên sai số phóng đại ×" + Math.round(k) + "." : "";
    var mt = document.querySelector("#methods-table tbody");
    mt.replaceChildren();
    var summary = document.getElementById("fit-summary");
    var choice = document.getElementById("method-choice");
    choice.value = data.method_choice || "auto";
    if (rep.ok) {
      summary.replaceChildren(data.method_choice && data.method_choice !== "auto" ? "Phép nắn đã chọn: " : "Tự động chọn: ", el("strong", { id: "chosen-method" }, rep.method), " · RMSE " + fmt(rep.rmse_m) +
        " m · LOO RMSE " + fmt(rep.loo_rmse_m) + " m",
        rep.check_count ? el("span", { id: "check-summary" }, " · Điểm kiểm tra độc lập (" + rep.check_count + "): RMSE " + fmt(rep.check_rmse_m) + " m") : null,
        el("br"), el("small", { id: "fit-reason", title: rep.reason || "" }, rep.reason_vi || rep.reason));
      Object.keys(rep.methods).forEach(function (m) {
        var s = rep.methods[m], tr = document.createElement("tr");
        tr.dataset.method = m;
        if (m === rep.method) { tr.className = "chosen"; }
        tr.append(el("td", { title: s.description || "" }, m + " – " + (s.description_vi || s.description)), el("td", {}, fmt(s.rmse_m)), el("td", {}, fmt(s.loo_rmse_m)), el("td", { title: s.why_not || "" }, s.why_not_vi || s.why_not || ""));
        mt.appendChild(tr);
      });
    } else {
      summary.textContent = data.points.length ? ("Chưa nắn được: " + (rep.error_vi || rep.error || "")) : "Chưa có điểm khống chế.";
    }
    var bl = document.getElementById("blunders");
    bl.replaceChildren();
    (rep.blunders || []).forEach(function (b) {
      var p = document.createElement("p");
      p.className = "ws-error blunder-note";
      p.textContent = "Điểm " + b.label + " có vẻ sai (" + fmt(b.error_m, 1) + " m): " + (b.likely_cause_vi || b.likely_cause) + " – " + (b.detail_vi || b.detail);
      p.title = b.likely_cause + " – " + b.detail;
      bl.appendChild(p);
    });
    drawMask(data.neatline);
    loadVersions();
  }

  function drawMask(coords) {
    if (maskLayer) { scanMap.removeLayer(maskLayer); maskLayer = null; }
    vertexLayer.clearLayers();
    if (!coords) { return; }
    var outer = [ll(-W, -H), ll(2 * W, -H), ll(2 * W, 2 * H), ll(-W, 2 * H)];
    var inner = coords.map(function (c) { return ll(c[0], c[1]); });
    maskLayer = L.polygon([outer, inner], { color: "#ff0", weight: 2, fillColor: "#000", fillOpacity: 0.6, interactive: false }).addTo(scanMap);
    /* Each vertex can be dragged; the neatline is saved at once (and the edit can be undone). */
    var ring = coords.slice();
    if (ring.length > 3 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1]) { ring.pop(); }
    ring.forEach(function (c, i) {
      var v = L.marker(ll(c[0], c[1]), { draggable: true, zIndexOffset: 1000, title: "Đỉnh khung " + (i + 1),
        icon: L.divIcon({ className: "neatline-vertex", iconSize: [10, 10] }) });
      v.on("dragend", function () {
        var moved = ring.map(function (x) { return x.slice(); });
        moved[i] = px(v.getLatLng());
        pushUndo("di chuyển đỉnh khung", function () { return call("PUT", api + "/khung", { coordinates: ring }); });
        call("PUT", api + "/khung", { coordinates: moved }).then(function (d) { render(d); say("Đã lưu khung bản đồ."); }).catch(fail);
      });
      vertexLayer.addLayer(v);
    });
  }

  function loadVersions() {
    call("GET", api + "/phien-ban").then(function (vs) {
      var ul = document.getElementById("versions");
      ul.replaceChildren();
      vs.forEach(function (v) {
        var li = document.createElement("li");
        li.textContent = "Phiên bản " + v.version + " · " + v.method + " · RMSE " + fmt(v.rmse_m) + " m · " + new Date(v.created_at).toLocaleString("vi-VN") + (v.current ? " (đang công bố) " : " ");
        if (!v.current) {
          var b = document.createElement("button");
          b.type = "button"; b.textContent = "Khôi phục"; b.className = "restore";
          b.addEventListener("click", function () { say("Đang khôi phục…"); call("POST", api + "/khoi-phuc/" + v.version).then(function () { say("Đã khôi phục phiên bản " + v.version + "."); return call("GET", api); }).then(render).catch(fail); });
          li.appendChild(b);
        }
        ul.appendChild(li);
      });
    }).catch(function () {});
  }

  /* --- interactions --- */
  function setMode(m) {
    mode = m;
    document.getElementById("mode-points").classList.toggle("active", m === "points");
    document.getElementById("mode-mask").classList.toggle("active", m === "mask");
    document.getElementById("mask-save").hidden = m !== "mask";
    maskPts = [];
    if (maskLine) { scanMap.removeLayer(maskLine); maskLine = null; }
    say(m === "mask" ? "Bấm lần lượt các góc của khung bản đồ trên ảnh quét, rồi bấm “Lưu khung”." : "");
  }
  document.getElementById("mode-points").addEventListener("click", function () { setMode("points"); });
  document.getElementById("mode-mask").addEventListener("click", function () { setMode("mask"); });
  document.getElementById("mask-save").addEventListener("click", function () {
    if (maskPts.length < 3) { say("Khung bản đồ cần ít nhất 3 đỉnh.", true); return; }
    call("PUT", api + "/khung", { coordinates: maskPts }).then(function (d) { setMode("points"); render(d); say("Đã lưu khung bản đồ."); }).catch(fail);
  });
  document.getElementById("mask-clear").addEventListener("click", function () {
    call("PUT", api + "/khung", { coordinates: null }).then(function (d) { render(d); say("Đã xóa khung."); }).catch(fail);
  });

  scanMap.on("click", function (ev) {
    var q = px(ev.latlng);
    if (q[0] < 0 || q[1] < 0 || q[0] > W || q[1] > H) { return; }
    if (mode === "mask") {
      maskPts.push(q);
      if (maskLine) { scanMap.removeLayer(maskLine); }
      maskLine = L.polygon(maskPts.map(function (c) { return ll(c[0], c[1]); }), { color: "#ff0", weight: 2, fill: false }).addTo(scanMap);
      return;
    }
    pending = q;
    if (pendingMarker) { scanMap.removeLayer(pendingMarker); }
    pendingMarker = L.marker(ev.latlng, { icon: label("?", "pending") }).addTo(scanMap);
    document.getElementById("pending").textContent = "Điểm ảnh (" + q[0].toFixed(1) + ", " + q[1].toFixed(1) + "): bấm vào bản đồ hoặc nhập X, Y.";
    predictNext(q);
  });
  /* Once 3 points are in use, the map position of the next point is predicted (an affine fit of
     the enabled points, as QGIS does) and marked on the reference map; the X/Y boxes show it. */
  var predictedMarker = null;
  function affineFit(pts) {
    // least squares of [1, x, y] -> e and -> n, by the 3x3 normal equations
    var a = [[0, 0, 0], [0, 0, 0], [0, 0, 0]], be = [0, 0, 0], bn = [0, 0, 0];
    pts.forEach(function (p) {
      var t = [1, p.pixel_x, p.pixel_y];
      for (var i = 0; i < 3; i++) { be[i] += t[i] * p.easting; bn[i] += t[i] * p.northing; for (var j = 0; j < 3; j++) { a[i][j] += t[i] * t[j]; } }
    });
    function solve(b) {
      var m = a.map(function (r, i) { return r.concat([b[i]]); });
      for (var c = 0; c < 3; c++) {
        var piv = c; for (var r = c + 1; r < 3; r++) { if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) { piv = r; } }
        var tmp = m[c]; m[c] = m[piv]; m[piv] = tmp;
        if (Math.abs(m[c][c]) < 1e-12) { return null; }
        for (var r2 = 0; r2 < 3; r2++) { if (r2 !== c) { var f = m[r2][c] / m[c][c]; for (var k = c; k < 4; k++) { m[r2][k] -= f * m[c][k]; } } }
      }
      return [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
    }
    var ce = solve(be), cn = solve(bn);
    return ce && cn ? function (x, y) { return [ce[0] + ce[1] * x + ce[2] * y, cn[0] + cn[1] * x + cn[2] * y]; } : null;
  }
  function predictNext(q) {
    if (predictedMarker) { refMap.removeLayer(predictedMarker); predictedMarker = null; }
    var used = ((state && state.points) || []).filter(function (p) { return p.enabled; });
    var f = used.length >= 3 ? affineFit(used) : null;
    var form = document.getElementById("point-form");
    if (!f || !vg) { form.x_north.placeholder = "2 3xx xxx"; form.y_east.placeholder = "5xx xxx"; return; }
    var en = f(q[0], q[1]);
    predictedMarker = L.circleMarker(toLl(en[0], en[1]), { radius: 8, color: "#e66100", dashArray: "3 3", className: "predicted-point" }).addTo(refMap);
    form.x_north.placeholder = "≈ " + grouped(en[1]);
    form.y_east.placeholder = "≈ " + grouped(en[0]);
    document.getElementById("pending").textContent += " Vị trí dự đoán: X ≈ " + grouped(en[1]) + ", Y ≈ " + grouped(en[0]) + ".";
  }
  function addPoint(extra) {
    if (!pending) { say("Hãy bấm vào ảnh quét trước để chọn điểm.", true); return; }
    var body = { pixel_x: pending[0], pixel_y: pending[1] };
    Object.keys(extra).forEach(function (k) { body[k] = extra[k]; });
    var before = {}; ((state && state.points) || []).forEach(function (x) { before[x.id] = true; });
    call("POST", api + "/diem", body).then(function (d) {
      var added = d.points.filter(function (x) { return !before[x.id]; })[0];
      if (added) { pushUndo("thêm điểm " + added.label, function () { return call("DELETE", api + "/diem/" + added.id); }); }
      pending = null;
      if (pendingMarker) { scanMap.removeLayer(pendingMarker); pendingMarker = null; }
      if (predictedMarker) { refMap.removeLayer(predictedMarker); predictedMarker = null; }
      document.getElementById("point-form").reset();
      render(d); say("Đã thêm điểm.");
    }).catch(fail);
  }
  refMap.on("click", function (ev) { if (mode === "points" && pending) { addPoint({ lon: ev.latlng.lng, lat: ev.latlng.lat }); } });
  document.getElementById("point-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    addPoint({ x_north: f.x_north.value, y_east: f.y_east.value, label: f.label.value });
  });
  document.getElementById("import-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var fd = new FormData(ev.target);
    if (!ev.target.file.files.length) { say("Hãy chọn tệp .points hoặc CSV.", true); return; }
    if (!ev.target.replace.checked) { fd.delete("replace"); }
    say("Đang nhập điểm…");
    var before = tableNow();
    call("POST", api + "/nhap-diem", fd, true).then(function (d) {
      pushUndo("nhập điểm", function () { return call("PUT", api + "/diem", { points: before }); });
      render(d); say("Đã nhập " + d.points.length + " điểm.");
    }).catch(fail);
  });
  /* "Tìm điểm khống chế": the server finds the printed grid and reads its labels; the points
     come back in the table for review, with what was found, used and refused. */
  document.getElementById("detect-points").addEventListener("click", function () {
    say("Đang tìm lưới tọa độ trên ảnh quét…");
    var before = tableNow();
    call("POST", api + "/tim-diem", {}).then(function (d) {
      if (d.detection && d.detection.added) {
        pushUndo("tìm điểm khống chế", function () { return call("PUT", api + "/diem", { points: before }); });
      }
      render(d);
      var r = d.detection || {}, box = document.getElementById("detect-report");
      var lab = r.labels || {}, cr = r.crosses || {}, tk = r.ticks || {};
      box.hidden = false;
      box.replaceChildren(
        el("strong", {}, "Tìm điểm khống chế: "),
        "thêm " + r.added + " điểm (tìm được " + r.found + "). Dấu chữ thập: " + cr.found + " tìm thấy, " + (cr.completed_from_lattice || 0) +
        " bổ sung theo lưới, " + (cr.off_lattice_refused + (cr.off_neighbours_refused || 0)) + " loại (lệch lưới). Vạch khung: " + tk.found + ". Nhãn tọa độ: " + lab.found + " đọc được, " + lab.used + " dùng, " + lab.refused + " loại.",
        (r.notes || []).length ? el("br") : "", (r.notes_vi || r.notes || []).join("; "));
      (lab.readings || []).forEach(function (x) {
        if (x.status === "refused") { box.appendChild(el("div", { className: "ws-error" }, "Nhãn “" + x.text + "” bị loại: " + (x.why_vi || x.why))); }
      });
      say("Đã thêm " + r.added + " điểm khống chế từ lưới tọa độ; hãy kiểm tra trước khi công bố.");
    }).catch(fail);
  });
  function rotate(turns, flip) {
    say("Đang xoay ảnh…");
    call("POST", api + "/xoay", { quarter_turns: turns, flip: flip }).then(function (d) {
      W = d.width; H = d.height;
      imgBounds = L.latLngBounds(ll(0, H), ll(W, 0));
      scanTiles.options.bounds = imgBounds;
      scanTiles.setUrl(root.dataset.tiles + "?r=" + Date.now());
      scanMap.fitBounds(imgBounds);
      render(d); say("Đã xoay ảnh.");
    }).catch(fail);
  }
  document.getElementById("rotate-cw").addEventListener("click", function () { rotate(1, false); });
  document.getElementById("rotate-ccw").addEventListener("click", function () { rotate(3, false); });
  document.getElementById("flip").addEventListener("click", function () { rotate(0, true); });

  var opacity = document.getElementById("opacity");
  opacity.addEventListener("input", function () { if (preview) { preview.setOpacity(+opacity.value); } });
  /* Swipe: the preview is shown left of a vertical line that the slider moves across the map,
     the reference map (zones, grid) right of it. */
  var swipe = document.getElementById("swipe");
  function applySwipe() {
    if (!preview || !preview.getElement()) { return; }
    var img = preview.getElement(), box = refMap.getContainer().getBoundingClientRect(), r = img.getBoundingClientRect();
    var cut = box.left + box.width * (+swipe.value) - r.left;  // px from the image's left edge
    img.style.clipPath = +swipe.value >= 1 ? "" : "inset(0 " + Math.max(0, r.width - cut) + "px 0 0)";
  }
  swipe.addEventListener("input", applySwipe);
  refMap.on("move zoom zoomend moveend", applySwipe);
  document.getElementById("preview").addEventListener("click", function () {
    say("Đang nắn thử ảnh…");
    call("POST", api + "/xem-truoc").then(function (d) {
      if (preview) { refMap.removeLayer(preview); }
      preview = L.imageOverlay(d.url + "?t=" + Date.now(), d.bounds, { opacity: +opacity.value, className: "warp-preview" }).addTo(refMap);
      preview.on("load", applySwipe);
      refMap.fitBounds(d.bounds);
      say("Ảnh xem trước: " + d.method + ", RMSE " + fmt(d.rmse_m) + " m.");
      return call("GET", api);
    }).then(render).catch(fail);
  });
  /* Publishing is a background job (minutes for a large sheet): poll it until done or failed. */
  var publishBtn = document.getElementById("publish");
  function watchJob(url) {
    return call("GET", url).then(function (j) {
      if (j.state === "done") {
        var r = j.result;
        say("Đã công bố phiên bản " + r.version + " (" + r.method + ", RMSE " + fmt(r.rmse_m) + " m).");
        publishBtn.disabled = false;
        return call("GET", api).then(render);
      }
      if (j.state === "failed") {
        publishBtn.disabled = false;
        say("Công bố không thành công: " + (j.error_vi || j.error || "lỗi không rõ") + " Tờ bản đồ không thay đổi.", true);
        return null;
      }
      say(j.state === "queued" ? "Đang chờ xử lý việc công bố…"
        : "Đang tạo ảnh nắn (COG) và công bố… " + Math.round(100 * j.progress) + " %");
      return new Promise(function (ok) { setTimeout(ok, 1000); }).then(function () { return watchJob(url); });
    });
  }
  publishBtn.addEventListener("click", function () {
    /* A confirmation first: publishing puts the sheet on the citizens' map. */
    var rep = (state && state.report) || {};
    var what = rep.ok ? (" Phép nắn: " + rep.method + ", RMSE " + fmt(rep.rmse_m) + " m" +
      (rep.check_count ? ", điểm kiểm tra độc lập RMSE " + fmt(rep.check_rmse_m) + " m" : "") + ".") : "";
    if (!window.confirm("Công bố tờ bản đồ này lên bản đồ công khai cho người dân?" + what)) {
      say("Chưa công bố.");
      return;
    }
    publishBtn.disabled = true;
    say("Đang gửi yêu cầu công bố…");
    call("POST", api + "/cong-bo").then(function (d) { return watchJob(d.url); })
      .catch(function (e) { publishBtn.disabled = false; fail(e); });
  });
  /* Undo (button or Ctrl+Z): each point edit pushes the call that reverses it; an import or a
     "Tìm điểm khống chế" pushes the whole table as it was before, put back in one request. */
  function tableNow() {
    return ((state && state.points) || []).map(function (p) {
      return { pixel_x: p.pixel_x, pixel_y: p.pixel_y, x_north: p.northing, y_east: p.easting, label: p.label, enabled: p.enabled };
    });
  }
  var undoStack = [], undoBtn = document.getElementById("undo");
  function pushUndo(what, fn) {
    undoStack.push({ what: what, fn: fn });
    if (undoStack.length > 50) { undoStack.shift(); }
    undoBtn.disabled = false; undoBtn.title = "Hoàn tác: " + what;
  }
  function undo() {
    var op = undoStack.pop();
    undoBtn.disabled = !undoStack.length;
    undoBtn.title = undoStack.length ? "Hoàn tác: " + undoStack[undoStack.length - 1].what : "";
    if (!op) { return; }
    op.fn().then(function () { return call("GET", api); }).then(function (d) { render(d); say("Đã hoàn tác: " + op.what + "."); }).catch(fail);
  }
  undoBtn.addEventListener("click", undo);
  document.addEventListener("keydown", function (ev) {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && !/^(INPUT|TEXTAREA|SELECT)$/.test(ev.target.tagName)) { ev.preventDefault(); undo(); }
  });
  /* The planner's own method, saved with the sheet: the report, the preview and publish use it. */
  document.getElementById("method-choice").addEventListener("change", function (ev) {
    call("POST", api + "/phep-nan", { method: ev.target.value }).then(function (d) {
      say(ev.target.value === "auto" ? "Đã trở về chế độ tự động chọn phép nắn." : "Đã lưu phép nắn: " + ev.target.value + ".");
      render(d);
    }).catch(fail);
  });
  document.getElementById("delete-sheet").addEventListener("click", function () {
    if (!window.confirm("Xóa tờ bản đồ nháp này cùng các điểm khống chế? Không thể hoàn tác.")) { return; }
    call("POST", api + "/xoa").then(function (d) { window.location.href = d.url; }).catch(fail);
  });
  document.getElementById("unpublish").addEventListener("click", function () {
    call("POST", api + "/an").then(function () { say("Đã ngừng công bố."); return call("GET", api); }).then(render).catch(fail);
  });

  call("GET", api).then(render).catch(fail);
})();
