// The consultation page's map: the draft plan's outline (dashed, unlike plans in force), the
// published comments' spots, and a tap that chooses the spot a new comment is about.
(function () {
  "use strict";
  const mapEl = document.getElementById("consultation-map");
  const data = document.getElementById("consultation-data");
  if (!mapEl || !data || typeof L === "undefined") return;
  const doc = JSON.parse(data.textContent);
  function el(tag, props, text) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.textContent = text ?? ""; // citizens' text: a text node, never HTML
    return node;
  }
  const map = L.map(mapEl, { attributionControl: false, scrollWheelZoom: false });
  const outline = L.geoJSON(doc.outline, {
    style: { color: "#6a1b9a", weight: 2, dashArray: "6 4", fillColor: "#ce93d8", fillOpacity: 0.2 },
  }).addTo(map);
  map.fitBounds(outline.getBounds(), { padding: [10, 10] });
  for (const c of doc.spots) {
    const m = L.circleMarker([c.lat, c.lon], { radius: 5, color: "#1b5e9a" }).addTo(map);
    m.bindTooltip(el("span", {}, c.text));
  }
  const lon = document.getElementById("comment-lon");
  const lat = document.getElementById("comment-lat");
  const shown = document.getElementById("comment-spot");
  let marker = null;
  map.on("click", (e) => {
    if (!lon || !lat) return;
    lon.value = e.latlng.lng.toFixed(7);
    lat.value = e.latlng.lat.toFixed(7);
    if (marker) marker.remove();
    marker = L.marker(e.latlng).addTo(map);
    if (shown) shown.textContent = `Vị trí góp ý: ${lat.value}, ${lon.value}`;
  });
  mapEl.dataset.ready = "1";
})();
