"""geo.io."""

from __future__ import annotations

from geo.io.files import DEFAULT_FILES, default_boundaries_dir, read_default_files
from geo.io.osm import MIN_COVERAGE, WALKABLE_HIGHWAYS, keep_way, read_osm_network
from geo.io.roads import read_road_graph
from geo.io.tables import (
    MAX_TABLE_BYTES,
    ReadLimitError,
    ReadLimits,
    read_catalogue,
    read_geofile,
    read_package_text,
    read_table,
    write_geojson,
)

__all__ = ["DEFAULT_FILES", "MAX_TABLE_BYTES", "MIN_COVERAGE", "WALKABLE_HIGHWAYS", "ReadLimitError", "ReadLimits", "default_boundaries_dir", "keep_way", "read_catalogue", "read_default_files", "read_geofile", "read_osm_network", "read_package_text", "read_road_graph", "read_table", "write_geojson"]
