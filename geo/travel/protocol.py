"""The travel-model protocol shared by :mod:`geo.travel.euclidean` and :mod:`geo.travel.network`,
the speeds and the defaults (see :mod:`geo.travel` for their sources)."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString

from geo.errors import InputError

FloatArray = npt.NDArray[np.float64]

DEFAULT_CIRCUITY = 1.3
WALK_SPEED_MPS = 1.2
EBIKE_SPEED_MPS = 4.5
SPEEDS_MPS = {"walk": WALK_SPEED_MPS, "ebike": EBIKE_SPEED_MPS}
STEPS_FACTOR = 0.5
DEFAULT_MAX_SNAP_M = 300.0
WALKED_HIGHWAYS = frozenset({"footway", "pedestrian", "corridor"})  # e-bikes pushed here
NO_EBIKE_HIGHWAYS = frozenset({"steps"})
Mode = Literal["walk", "ebike"]


@runtime_checkable
class TravelModel(Protocol):
    """What the routing core needs from a travel model (coordinates in metres)."""

    speed_mps: float

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Travel distances in metres between every pair of points, shape (n, n)."""
        ...

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Travel times in seconds between every pair of points, shape (n, n)."""
        ...

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The travelled geometry from point ``a`` to point ``b``."""
        ...


def as_xy(xy: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(xy, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"坐标数组形状应为 (n, 2)，实际为 {arr.shape}。")
    if not np.isfinite(arr).all():
        raise InputError("坐标中有缺失值或无穷大；请先删除或修正这些点。")
    return arr


def check_speed(speed_mps: float) -> float:
    if not np.isfinite(speed_mps) or speed_mps <= 0:
        raise InputError(f"速度 speed_mps 必须为正数（米/秒），实际为 {speed_mps}。")
    return float(speed_mps)
