// The first zoning tiles of the view the link asks for, requested while the page's scripts are
// still on their way: on a slow phone each request costs a round trip of half a second, and the
// map's own request would only start once Leaflet, VectorGrid and citizen.js have arrived and run.
// citizen.js takes these answers (window.firstTiles) instead of asking again. The page inlines
// this file (the CSP names its hash). It mirrors citizen.js's parseHash/applyState and Leaflet's
// tile range for a view; a view it gets wrong costs a few unused kilobytes, never a wrong map.
(function () {
  "use strict";
  // Tiles read from PMTiles archives (the static read side) are not asked of the API.
  var mapEl = document.getElementById("map");
  if (!mapEl || mapEl.dataset.staticTiles) return;
  var h = new URLSearchParams(location.hash.slice(1));
  var pair = function (v) {
    var p = (v || "").split(",").map(Number);
    return p.length === 2 && p.every(Number.isFinite) ? p : null;
  };
  var point = pair(h.get("p"));
  var center = pair(h.get("c")) || point || [21.03, 105.79];
  var z = Number(h.get("z"));
  if (!(h.get("z") && Number.isFinite(z) && z >= 9 && z <= 20)) z = point ? 17 : 14;
  z = Math.round(z);
  var layers = h.has("l") ? h.get("l").split(",") : ["zones"];
  var level = ["chung", "phan_khu", "chi_tiet", "all"].indexOf(h.get("lv")) >= 0 ? h.get("lv") : "governing";
  var name = layers.indexOf("zones") >= 0 && level === "governing" && z >= 12 ? "governing" : "zones";
  // Leaflet's range: the view's pixel box at the tile zoom (VectorGrid's maxNativeZoom is 18),
  // here the whole window's, which holds the map's.
  var tz = Math.min(z, 18), scale = Math.pow(2, z - tz), size = 256 * Math.pow(2, tz);
  var lat = Math.max(Math.min(center[0], 85.0511287798), -85.0511287798) * Math.PI / 180;
  var px = Math.floor(size * (center[1] + 180) / 360);
  var py = Math.floor(size * (1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2);
  var hw = window.innerWidth / (2 * scale), hh = window.innerHeight / (2 * scale);
  var x0 = Math.floor((px - hw) / 256), x1 = Math.ceil((px + hw) / 256) - 1;
  var y0 = Math.floor((py - hh) / 256), y1 = Math.ceil((py + hh) / 256) - 1;
  var tiles = [];
  for (var x = x0; x <= x1; x++) {
    for (var y = y0; y <= y1; y++) tiles.push([Math.abs(x + 0.5 - px / 256) + Math.abs(y + 0.5 - py / 256), x, y]);
  }
  // The four tiles nearest the centre. The page inlines this at the end of its body, so it runs
  // once the stylesheets have come (a script waits for them) and their connections are free; at
  // the top of the page it held the parser before <body>, and Chromium then let the scripts
  // download only one at a time (measured: 0.5 s later).
  tiles.sort(function (a, b) { return a[0] - b[0]; });
  var early = new Map();
  tiles.slice(0, 4).forEach(function (t) {
    var url = "/tiles/" + name + "/" + tz + "/" + t[1] + "/" + t[2] + ".mvt";
    early.set(url, fetch(url, { priority: "high" }));
  });
  window.firstTiles = early;
})();
