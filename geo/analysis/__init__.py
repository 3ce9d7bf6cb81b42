"""geo.analysis."""

from __future__ import annotations

from geo.analysis.clustering import (
    BACKGROUND_CELL_M,
    DEFAULT_CELL_M,
    DEFAULT_DENSITY_RATIO,
    DEFAULT_EPS_M,
    DEFAULT_K_GRAPH,
    DEFAULT_MIN_SAMPLES,
    MIN_BACKGROUND_AREA_M2,
    NOISE,
    GridCells,
    aggregate_to_grid,
    background_density,
    dbscan_cells,
    density_labels,
    hdbscan_cells,
    merge_close_clusters,
    weighted_core_distances,
)
from geo.analysis.hotspots import (
    CATEGORY_GROUPS,
    COLUMNS,
    GROUP_ALIASES,
    cluster_cases,
    find_hotspots,
    hotspot_labels,
    hotspots_to_geojson,
    label_points,
    resolve_category,
    select_cases,
)
from geo.analysis.profile import (
    WEEKDAYS_ZH,
    format_windows,
    hour_histogram,
    peak_hour_windows,
    recency_weights,
    time_profile,
    weekday_profile,
)
from geo.analysis.significance import (
    CLASS_ZH,
    LEVELS,
    MAX_GRID_CELLS,
    bh_reject,
    confidence_bins,
    gi_star,
    hotspot_grid,
    make_lattice,
    neighbour_matrix,
    tag_hotspots,
)
from geo.analysis.trends import (
    MIN_PERIODS,
    PATTERN_ZH,
    SpaceTimeCube,
    classify,
    emerging_hotspots,
    mann_kendall,
    space_time_cube,
)

__all__ = ["BACKGROUND_CELL_M", "CATEGORY_GROUPS", "CLASS_ZH", "COLUMNS", "DEFAULT_CELL_M", "DEFAULT_DENSITY_RATIO", "DEFAULT_EPS_M", "DEFAULT_K_GRAPH", "DEFAULT_MIN_SAMPLES", "GROUP_ALIASES", "LEVELS", "MAX_GRID_CELLS", "MIN_BACKGROUND_AREA_M2", "MIN_PERIODS", "NOISE", "PATTERN_ZH", "WEEKDAYS_ZH", "GridCells", "SpaceTimeCube", "aggregate_to_grid", "background_density", "bh_reject", "classify", "cluster_cases", "confidence_bins", "dbscan_cells", "density_labels", "emerging_hotspots", "find_hotspots", "format_windows", "gi_star", "hdbscan_cells", "hotspot_grid", "hotspot_labels", "hotspots_to_geojson", "hour_histogram", "label_points", "make_lattice", "mann_kendall", "merge_close_clusters", "neighbour_matrix", "peak_hour_windows", "recency_weights", "resolve_category", "select_cases", "space_time_cube", "tag_hotspots", "time_profile", "weekday_profile", "weighted_core_distances"]
