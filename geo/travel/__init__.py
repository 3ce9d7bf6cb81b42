"""Travel models: distance and time matrices between points in a metric working CRS.

Two models share one small protocol (:class:`TravelModel`):

* :class:`EuclideanTravel` — the embedded default. Straight-line distance in the working CRS times
  a *circuity factor* (network distance / straight-line distance). The default
  :data:`DEFAULT_CIRCUITY` = 1.3 follows two sources: on a rectangular street grid the expected
  ratio of the walked (Manhattan) distance to the straight line, over uniformly random directions,
  is 4/π ≈ 1.27; and measured road circuity factors are 1.2–1.4 for most countries (Ballou,
  Rahardja & Sakai 2002, "Selected country circuity factors for road travel distance estimation",
  *Transportation Research Part A* 36(9), 843–848). Dense residential communities with gates,
  fences and dead ends sit at the upper end, so 1.3 rather than 1.27.
* :class:`NetworkTravel` — shortest paths on a road graph (:func:`geo.io.osm.read_osm_network`,
  or any networkx graph with node ``x``/``y`` and edge ``length`` in metres). A point is snapped
  to the nearest point of the nearest street *edge* (shapely ``STRtree`` over the full edge
  geometries) of the largest connected part, at most ``max_snap_m`` (300 m) away; the trip runs
  from that foot point along the edge to either end node, node to node, and in along the last
  edge, the best of the 2 × 2 end combinations (or straight along one shared edge). The straight
  snap legs are added. Walking ignores one-way rules; ``mode="ebike"`` obeys them
  (``oneway``/``reversed`` edge attributes as osmnx and :mod:`geo.io.osm` write them), rides
  no ``highway=steps`` and pushes the bike at walking speed on footways and pedestrian streets.
  Times come from per-edge times, not distance / speed. Matrices take one vectorised
  ``scipy.sparse.csgraph.dijkstra`` pass from the distinct end nodes of the snapped edges.
  :meth:`NetworkTravel.path` returns the street geometry, partial edges included.

Speeds: :data:`WALK_SPEED_MPS` = 1.2 m/s (4.3 km/h, the usual pedestrian design speed, e.g. the
U.S. Highway Capacity Manual's 1.2 m/s; a patrol that looks around walks no faster) and
:data:`EBIKE_SPEED_MPS` = 4.5 m/s (16 km/h: China's GB 17761-2018 caps electric bicycles at
25 km/h, and stops, crossings and pavements bring the urban average down to 15–18 km/h). Steps
are walked at half the level speed (:data:`STEPS_FACTOR`, an assumption: climbing stairs is
much slower than level walking). E-bikes obey one-way streets (Chinese traffic law binds
non-motor vehicles too; ``oneway:bicycle=no`` is honoured by :mod:`geo.io.osm`); a one-way dead
end that cannot be ridden out again is not part of the e-bike network, so a stop there is reached
from the nearest street of the strongly connected main network, the last metres on foot. Snap
legs are timed at walking speed (an e-bike is pushed off the street).

Modules: ``protocol`` (the :class:`TravelModel` protocol, speeds and defaults), ``euclidean``
and ``network``. Importing this package does not load networkx or SciPy; :class:`NetworkTravel`
loads them when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geo.travel.euclidean import EuclideanTravel
from geo.travel.protocol import (
    DEFAULT_CIRCUITY,
    DEFAULT_MAX_SNAP_M,
    EBIKE_SPEED_MPS,
    NO_EBIKE_HIGHWAYS,
    SPEEDS_MPS,
    STEPS_FACTOR,
    WALK_SPEED_MPS,
    WALKED_HIGHWAYS,
    Mode,
    TravelModel,
)

if TYPE_CHECKING:
    from geo.travel.network import NetworkTravel

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_MAX_SNAP_M",
    "EBIKE_SPEED_MPS",
    "NO_EBIKE_HIGHWAYS",
    "SPEEDS_MPS",
    "STEPS_FACTOR",
    "WALKED_HIGHWAYS",
    "WALK_SPEED_MPS",
    "EuclideanTravel",
    "Mode",
    "NetworkTravel",
    "TravelModel",
]


def __getattr__(name: str) -> Any:
    # NetworkTravel needs networkx and scipy: loaded on first use, so the Euclidean default and
    # the protocol stay cheap to import.
    if name == "NetworkTravel":
        from geo.travel.network import NetworkTravel

        return NetworkTravel
    raise AttributeError(f"module 'geo.travel' has no attribute {name!r}")
