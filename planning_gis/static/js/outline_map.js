// A small map of plan outlines (GeoJSON in EPSG:4326, embedded in the page by the server).
(function () {
  "use strict";
  const mapEl = document.getElementById("outline-map");
  const data = document.getElementById("outline-data");
  if (!mapEl || !data || typeof L === "undefined") return;
  const fc = JSON.parse(data.textContent);
  function el(tag, props, text) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.textContent = text ?? "";
    return node;
  }
  // A region, not an image: Leaflet makes the map and its zoom buttons focusable. The buttons
  // speak Vietnamese, like the citizen's map.
  const map = L.map(mapEl, { attributionControl: false, scrollWheelZoom: false, zoomControl: false });
  L.control.zoom({ zoomInTitle: "Phóng to", zoomOutTitle: "Thu nhỏ" }).addTo(map);
  const layer = L.geoJSON(fc, {
    style: { color: "#b22222", weight: 2, fillColor: "#f4a460", fillOpacity: 0.25 },
    onEachFeature: (f, l) => {
      l.bindTooltip(el("span", {}, f.properties.name)); // a text node: a plan's name is not HTML
      l.on("click", () => { if (f.properties.url) window.location.href = f.properties.url; });
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  mapEl.dataset.outlines = String(fc.features.length);
})();
