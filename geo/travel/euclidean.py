"""Straight-line travel times a circuity factor: the embedded default (see :mod:`geo.travel`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString

from geo.errors import InputError
from geo.travel.protocol import DEFAULT_CIRCUITY, WALK_SPEED_MPS, FloatArray, as_xy, check_speed


class EuclideanTravel:
    """Straight-line distance times a circuity factor, at a constant speed.

    Parameters
    ----------
    circuity : float, default 1.3
        Network distance / straight-line distance (≥ 1); see the module docstring for the source.
    speed_mps : float, default 1.2
        Travel speed in metres per second (walking; use :data:`EBIKE_SPEED_MPS` for e-bikes).
    """

    def __init__(
        self, *, circuity: float = DEFAULT_CIRCUITY, speed_mps: float = WALK_SPEED_MPS
    ) -> None:
        if not np.isfinite(circuity) or circuity < 1.0:
            raise InputError(f"绕行系数 circuity 必须 ≥ 1，实际为 {circuity}。")
        self.circuity = float(circuity)
        self.speed_mps = check_speed(speed_mps)

    def distance_matrix(self, xy: npt.ArrayLike) -> FloatArray:
        """Distances in metres: ``circuity`` × straight line, shape (n, n)."""
        pts = as_xy(xy)
        diff = pts[:, None, :] - pts[None, :, :]
        return np.asarray(np.hypot(diff[..., 0], diff[..., 1]) * self.circuity, dtype=float)

    def time_matrix(self, xy: npt.ArrayLike, *, speed_mps: float | None = None) -> FloatArray:
        """Travel times in seconds at ``speed_mps`` (default: the model's speed)."""
        speed = self.speed_mps if speed_mps is None else check_speed(speed_mps)
        return self.distance_matrix(xy) / speed

    def path(self, a: tuple[float, float], b: tuple[float, float]) -> LineString:
        """The straight segment from ``a`` to ``b`` (the circuity is not drawn)."""
        return LineString([tuple(a), tuple(b)])
