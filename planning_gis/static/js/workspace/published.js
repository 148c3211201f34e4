/* Public list of published sheets: each sheet's raster tiles on a map, with its accuracy. */
(function () {
  "use strict";
  var sheets = JSON.parse(document.getElementById("sheets-data").textContent);
  var map = L.map("pub-map", { attributionControl: false }).setView([21.03, 105.82], 12);
  var layers = {};
  var all = null;
  sheets.forEach(function (s) {
    var layer = L.tileLayer(s.tiles, { maxZoom: 22, maxNativeZoom: 20, className: "sheet-" + s.id });
    if (s.bounds) { layer.options.bounds = L.latLngBounds([s.bounds[1], s.bounds[0]], [s.bounds[3], s.bounds[2]]); }
    layer.addTo(map);
    layers[s.id] = layer;
    if (s.bounds) {
      var b = L.latLngBounds([s.bounds[1], s.bounds[0]], [s.bounds[3], s.bounds[2]]);
      all = all ? all.extend(b) : b;
      L.rectangle(b, { color: "#c00", weight: 1, fill: false }).bindTooltip(s.title + " – RMSE " +
        (s.accuracy.rmse_m === null ? "–" : s.accuracy.rmse_m.toFixed(2)) + " m").addTo(map);
    }
  });
  if (all) { map.fitBounds(all); }
  document.querySelectorAll(".show-sheet").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      var s = sheets.find(function (x) { return String(x.id) === a.dataset.sheetId; });
      if (s && s.bounds) { map.fitBounds([[s.bounds[1], s.bounds[0]], [s.bounds[3], s.bounds[2]]]); }
    });
  });
})();
