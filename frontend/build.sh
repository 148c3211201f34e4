#!/usr/bin/env bash
# Copy the installed npm packages' distributable files into the Flask static folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out/leaflet" "$out/leaflet.vectorgrid"
cp -r "$here/node_modules/leaflet/dist/leaflet.js" "$here/node_modules/leaflet/dist/leaflet.css" \
  "$here/node_modules/leaflet/dist/images" "$out/leaflet/"
# The bundled build carries its protobuf decoder (pbf, vector-tile): one file, no other deps.
cp "$here/node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js" \
  "$out/leaflet.vectorgrid/"
# pmtiles: the browser build (one file, global ``pmtiles``, its gzip decoder inside) reads tiles
# from a PMTiles archive with HTTP range requests: the citizen page on the static read side.
mkdir -p "$out/pmtiles"
cp "$here/node_modules/pmtiles/dist/pmtiles.js" "$out/pmtiles/"
# axe-core: only the browser tests load it (an accessibility audit of every page, run in the page
# through Playwright, never linked from our templates).
mkdir -p "$out/axe-core"
cp "$here/node_modules/axe-core/axe.min.js" "$here/node_modules/axe-core/LICENSE" "$out/axe-core/"
