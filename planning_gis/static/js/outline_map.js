// A small map of plan outlines (GeoJSON in EPSG:4326, embedded in the page by the server).
(function () {
  "use strict";
  const el = document.getElementById("outline-map");
  const data = document.getElementById("outline-data");
  if (!el || !data || typeof L === "undefined") return;
  const fc = JSON.parse(data.textContent);
  const map = L.map(el, { attributionControl: false, scrollWheelZoom: false });
  const layer = L.geoJSON(fc, {
    style: { color: "#b22222", weight: 2, fillColor: "#f4a460", fillOpacity: 0.25 },
    onEachFeature: (f, l) => {
      const a = document.createElement("a");
      a.href = f.properties.url || "#";
      a.textContent = f.properties.name;
      l.bindTooltip(f.properties.name);
      l.on("click", () => { if (f.properties.url) window.location.href = f.properties.url; });
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  el.dataset.outlines = String(fc.features.length);
})();
