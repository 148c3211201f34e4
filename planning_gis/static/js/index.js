// First page: the demo zones on a map, coloured by the legend (all assets served by us).
(function () {
  "use strict";
  const el = document.getElementById("map");
  const map = L.map(el, { preferCanvas: true }).setView([21.03, 105.80], 14);
  if (el.dataset.baseUrl) {
    L.tileLayer(el.dataset.baseUrl, { attribution: el.dataset.baseAttribution, maxZoom: 20 }).addTo(map);
  }
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  fetch("/api/legend").then((r) => r.json()).then((rows) => {
    const ul = document.querySelector("#legend ul");
    for (const row of rows) {
      const li = document.createElement("li");
      li.innerHTML = `<span class="swatch" style="background:${esc(row.color)}"></span><b>${esc(row.code)}</b> ${esc(row.name_vi)}`;
      ul.appendChild(li);
    }
  });
  fetch("/api/zones.geojson").then((r) => r.json()).then((fc) => {
    const layer = L.geoJSON(fc, {
      style: (f) => ({ color: "#444", weight: 0.6, fillColor: f.properties.color, fillOpacity: 0.75 }),
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindPopup(`<b>${esc(p.label)}</b> – ${esc(p.name_vi)}<br><small>${esc(p.plan)}</small>`);
      },
    }).addTo(map);
    if (fc.features.length) map.fitBounds(layer.getBounds());
    el.dataset.zones = String(fc.features.length);
  });
})();
