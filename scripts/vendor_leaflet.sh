#!/usr/bin/env bash
# Fetch the JavaScript/CSS that folium map pages load (Leaflet, jQuery, Bootstrap, Font Awesome,
# Awesome Markers, MarkerCluster, Leaflet.heat, OverlappingMarkerSpiderfier) into
# service/static/vendor/, so the service's pages (and the demo's maps, which get a copy beside
# them) work without internet. Uses `npm pack` (tarballs only; no
# node_modules); the file list is geo.maps.assets.VENDOR_ASSETS. Licences are copied alongside.
#
# Usage: scripts/vendor_leaflet.sh [DEST]      (default DEST: service/static/vendor)
#        PYTHON=/path/to/python scripts/vendor_leaflet.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/service/static/vendor}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
command -v npm >/dev/null || { echo "需要 npm（apt-get install npm）" >&2; exit 2; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
MANIFEST="$(cd "$ROOT" && "$PY" -c 'from geo.maps.assets import vendor_manifest; print(vendor_manifest(), end="")')"
FOLIUM_DIR="$("$PY" -c 'import folium, os; print(os.path.dirname(folium.__file__))')"

unpack() {  # unpack npm spec $1 once; print the directory holding its "package/" folder
  local spec="$1" key dir tgz
  key="$(printf '%s' "$spec" | tr '/@' '__')"
  dir="$WORK/$key"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tgz="$(cd "$WORK" && npm pack --silent "$spec" | tail -n 1)"
    tar xzf "$WORK/$tgz" -C "$dir"
  fi
  printf '%s' "$dir"
}

while IFS=$'\t' read -r source src local; do
  [ -n "$source" ] || continue
  case "$source" in
    npm:*) base="$(unpack "${source#npm:}")" ;;
    folium) base="$FOLIUM_DIR" ;;
    *) echo "未知来源 $source" >&2; exit 2 ;;
  esac
  case "$src" in
    */) mkdir -p "$DEST/$local"; cp -R "$base/$src". "$DEST/$local" ;;
    *\**) mkdir -p "$DEST/$local"; cp $base/$src "$DEST/$local" ;;
    *) mkdir -p "$(dirname "$DEST/$local")"; cp "$base/$src" "$DEST/$local" ;;
  esac
  echo "  $source $src -> $local"
done <<< "$MANIFEST"

echo "已写入 $DEST（$(find "$DEST" -type f | wc -l) 个文件，$(du -sh "$DEST" | cut -f1)）"
