// The comparison view: side a (before) and side b (after) drawn from /api/compare's zones,
// coloured by the legend, the changed zones outlined; side by side (two maps moving together) or
// swiped (b laid over a, clipped at the slider). Data goes into the page as text only.
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "dataset") Object.assign(node.dataset, v);
      else if (k in node) node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map(String));
    return node;
  }
  const KINDS = { added: "Thêm mới", removed: "Bị bỏ", modified: "Thay đổi", split: "Tách ô", merged: "Gộp ô", reshaped: "Sắp xếp lại" };
  const query = new URLSearchParams(location.search);
  const mapA = L.map("map-a", { zoomControl: true, attributionControl: false });
  const mapB = L.map("map-b", { zoomControl: false, attributionControl: false });
  // the two maps move together
  let syncing = false;
  function follow(from, to) {
    from.on("move", () => {
      if (syncing) return;
      syncing = true; to.setView(from.getCenter(), from.getZoom(), { animate: false }); syncing = false;
    });
  }
  follow(mapA, mapB); follow(mapB, mapA);
  const zoneStyle = (f) => ({ color: "#666", weight: 1, fillColor: f.properties.color || "#ccc", fillOpacity: 0.7 });
  const changedStyle = { color: "#111", weight: 3, fill: false, dashArray: null };
  let swipeLayer = null;
  let changedLayers = [];

  function sideName(s) {
    return `${s.name}${s.date ? " — ngày " + s.date.split("-").reverse().join("/") : " — hiện nay"}`;
  }
  function clip() {
    if (!swipeLayer) return;
    const pane = mapA.getPane("sideB");
    const nw = mapA.containerPointToLayerPoint([0, 0]);
    const se = mapA.containerPointToLayerPoint(mapA.getSize());
    const x = nw.x + mapA.getSize().x * Number($("#swipe-range").value) / 100;
    pane.style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`;
  }
  function setMode(mode) {
    const swipe = mode === "swipe";
    $("#maps").classList.toggle("swipe", swipe);
    $("#swipe").hidden = !swipe;
    if (swipeLayer) { if (swipe) swipeLayer.addTo(mapA); else swipeLayer.remove(); }
    document.body.dataset.mode = mode;
    setTimeout(() => { mapA.invalidateSize(); mapB.invalidateSize(); clip(); }, 0);
  }
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", (e) => setMode(e.target.value)));
  $("#swipe-range").addEventListener("input", clip);
  mapA.on("move zoom resize", clip);

  async function load() {
    const q = new URLSearchParams(query);
    q.set("geometry", "1"); q.set("sides", "1"); q.delete("format");
    const r = await fetch(`/api/compare?${q}`, { headers: { Accept: "application/json" } });
    const doc = await r.json().catch(() => ({}));
    if (!r.ok) { $("#cmp-counts").replaceChildren(el("span", { className: "error", role: "alert" }, doc.detail_vi || doc.detail || r.statusText)); document.body.dataset.ready = "1"; return; }
    $("#title-a").textContent = `Trước: ${sideName(doc.a)}`;
    $("#title-b").textContent = `Sau: ${sideName(doc.b)}`;
    const a = L.geoJSON(doc.sides.a, { style: zoneStyle, interactive: false }).addTo(mapA);
    L.geoJSON(doc.sides.b, { style: zoneStyle, interactive: false }).addTo(mapB);
    mapA.createPane("sideB").style.zIndex = 450;
    swipeLayer = L.geoJSON(doc.sides.b, { style: zoneStyle, interactive: false, pane: "sideB", renderer: L.svg({ pane: "sideB" }) });
    changedLayers = doc.changes.map((c) => [L.geoJSON(c.geometry, { style: changedStyle, interactive: false }).addTo(mapA),
      L.geoJSON(c.geometry, { style: changedStyle, interactive: false }).addTo(mapB)]);
    const all = L.featureGroup([a, ...changedLayers.map((p) => p[0])]);
    const bounds = all.getBounds();
    if (bounds.isValid()) mapA.fitBounds(bounds, { padding: [20, 20] }); else mapA.setView([21.03, 105.79], 15);
    const n = doc.counts;
    $("#cmp-counts").textContent = `${doc.changes.length} thay đổi (thêm ${n.added}, bỏ ${n.removed}, thay đổi ${n.modified}, tách ${n.split}, gộp ${n.merged}); ${n.unchanged} ô không đổi.`;
    $("#changes").replaceChildren(...doc.changes.map((c, i) => el("li", { dataset: { kind: c.kind, index: String(i) }, tabIndex: 0 },
      el("b", {}, KINDS[c.kind] || c.kind), ": ", c.summary_vi)));
    $("#dl-csv").href = doc.links.csv; $("#dl-html").href = doc.links.html;
    document.body.dataset.changes = String(doc.changes.length);
    document.body.dataset.ready = "1";
  }
  $("#changes").addEventListener("click", (e) => {
    const li = e.target.closest("li[data-index]");
    if (!li) return;
    const layer = changedLayers[Number(li.dataset.index)][0];
    mapA.fitBounds(layer.getBounds(), { padding: [40, 40], maxZoom: 19 });
  });
  setMode("side");
  load();
})();
