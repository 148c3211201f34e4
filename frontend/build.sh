#!/usr/bin/env bash
# Copy the installed npm packages' distributable files into the Flask static folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out/leaflet"
cp -r "$here/node_modules/leaflet/dist/leaflet.js" "$here/node_modules/leaflet/dist/leaflet.css" \
  "$here/node_modules/leaflet/dist/images" "$out/leaflet/"
