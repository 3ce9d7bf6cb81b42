#!/usr/bin/env bash
# Debian packages the tests use: PostGIS for the PostgreSQL server, Chromium for the browser tests,
# poppler-utils (pdftotext/pdftoppm) to check the PDF route sheets, gdal-bin (ogrinfo/ogr2ogr) as
# the GIS client of the OGC API tests, fonts-noto-cjk so browser screenshots show Chinese text. Needs root; skips what is there.
set -euo pipefail
pkgs=()
pg=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg" ]; then
  pkgs+=(postgresql postgresql-contrib)
  pg=15
fi
for p in "postgresql-${pg}-postgis-3" chromium poppler-utils gdal-bin fonts-noto-cjk; do
  dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "installing: ${pkgs[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
