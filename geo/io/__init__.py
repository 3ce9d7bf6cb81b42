"""Every file the library reads or writes: tables, GeoJSON, GeoParquet, road networks, defaults.

:func:`read_table` reads case tables (CSV/XLSX within :class:`ReadLimits`), :func:`read_geofile`
and :func:`write_geojson` vector files, :mod:`geo.io.parquet` the partitioned GeoParquet case
store, :func:`read_osm_network` / :func:`read_road_graph` road networks for
:class:`geo.travel.NetworkTravel`, and :func:`read_default_files` the embedded Xiaonan default.
Names load lazily: importing one module of this package (e.g. :mod:`geo.io.files`) does not load
the others (pyosmium, networkx, pyarrow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geo.io.files import DEFAULT_FILES, default_boundaries_dir, read_default_files
    from geo.io.osm import read_osm_network
    from geo.io.parquet import (
        Fragment,
        iter_batches,
        list_fragments,
        read_geoparquet,
        write_case_dataset,
        write_geoparquet,
    )
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

_HOMES = {
    "DEFAULT_FILES": "files", "default_boundaries_dir": "files", "read_default_files": "files",
    "read_osm_network": "osm", "read_road_graph": "roads",
    "Fragment": "parquet", "iter_batches": "parquet", "list_fragments": "parquet",
    "read_geoparquet": "parquet", "write_case_dataset": "parquet", "write_geoparquet": "parquet",
    "MAX_TABLE_BYTES": "tables", "ReadLimitError": "tables", "ReadLimits": "tables",
    "read_catalogue": "tables", "read_geofile": "tables", "read_package_text": "tables",
    "read_table": "tables", "write_geojson": "tables",
}

__all__ = [
    "DEFAULT_FILES",
    "MAX_TABLE_BYTES",
    "Fragment",
    "ReadLimitError",
    "ReadLimits",
    "default_boundaries_dir",
    "iter_batches",
    "list_fragments",
    "read_catalogue",
    "read_default_files",
    "read_geofile",
    "read_geoparquet",
    "read_osm_network",
    "read_package_text",
    "read_road_graph",
    "read_table",
    "write_case_dataset",
    "write_geojson",
    "write_geoparquet",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'geo.io' has no attribute {name!r}")
    return getattr(importlib.import_module(f"geo.io.{home}"), name)
