"""Time profiles of a hotspot: hour-of-day peak windows, weekday profile, recency score.

Peak hours are derived from the data, never hard-coded. :func:`peak_hour_windows` takes the
24-bin hour-of-day histogram of a hotspot's cases, smooths it circularly with the kernel
(1, 2, 1) / 4, and keeps the hours whose smoothed share is at least ``min_ratio`` (1.5) times the
uniform share 1/24 and whose own share is at least half that (so that smoothing does not
widen a window into empty hours). Runs of kept hours (wrapping past midnight) are windows; windows separated by
a single hour are merged; each window must hold at least ``min_share`` (10 %) of the cases; at most
``max_windows`` (3) windows are reported, in clock order. A hotspot whose cases are spread evenly
over the day has no peak window (an empty list), as does one with fewer than ``min_cases`` (5)
cases. Windows are half-open: ``(6, 9)`` is 06:00–09:00.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
Window = tuple[int, int]

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def hour_histogram(hours: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> FloatArray:
    """Counts (or summed weights) of cases per hour of day, shape (24,)."""
    h = np.asarray(hours, dtype=float)
    ok = np.isfinite(h)
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    return np.bincount(h[ok].astype(np.int64) % 24, weights=w, minlength=24).astype(float)


def _runs(mask: npt.NDArray[np.bool_]) -> list[Window]:
    """Circular runs of True in a 24-long mask as (start, end) with end exclusive (may be > 24)."""
    if mask.all():
        return [(0, 24)]
    if not mask.any():
        return []
    start0 = int(np.flatnonzero(~mask)[0]) + 1  # begin scanning just after a False
    runs: list[Window] = []
    cur: int | None = None
    for step in range(24):
        h = (start0 + step) % 24
        if mask[h] and cur is None:
            cur = start0 + step
        elif not mask[h] and cur is not None:
            runs.append((cur, start0 + step))
            cur = None
    if cur is not None:
        runs.append((cur, start0 + 24))
    return [(s % 24, s % 24 + (e - s)) for s, e in runs]


def _merge(runs: list[Window], gap: int) -> list[Window]:
    """Merge windows separated by at most ``gap`` hours (circularly)."""
    if len(runs) < 2:
        return runs
    runs = sorted(runs)
    merged = [runs[0]]
    for s, e in runs[1:]:
        ps, pe = merged[-1]
        if s - pe <= gap:
            merged[-1] = (ps, max(pe, e))
        else:
            merged.append((s, e))
    fs, fe = merged[0]
    ls, le = merged[-1]
    if len(merged) > 1 and fs + 24 - le <= gap:  # wrap past midnight
        merged = [(ls, fe + 24), *merged[1:-1]]
    return merged


def peak_hour_windows(
    hist: npt.ArrayLike,
    *,
    min_ratio: float = 1.5,
    min_share: float = 0.10,
    max_windows: int = 3,
    merge_gap_h: int = 1,
    min_cases: float = 5,
) -> list[Window]:
    """Peak time windows from a 24-bin hour-of-day histogram (see the module docstring).

    Parameters
    ----------
    hist : array_like of shape (24,)
        Cases per hour of day.
    min_ratio : float
        A peak hour's smoothed share is at least this many times 1/24.
    min_share : float
        Fewest cases (as a share of all) in a reported window.
    max_windows : int
        Most windows reported (the heaviest ones).
    merge_gap_h : int
        Windows separated by this many hours or fewer are merged.
    min_cases : float
        Fewer cases than this give no window.

    Returns
    -------
    list of (start_h, end_h)
        Half-open windows in clock order; ``end_h`` may exceed 24 for a window past midnight.
    """
    h = np.asarray(hist, dtype=float)
    total = float(h.sum())
    if h.shape != (24,) or total < min_cases or total <= 0:
        return []
    share = h / total
    smooth = (np.roll(share, 1) + 2 * share + np.roll(share, -1)) / 4.0
    thr = min_ratio / 24.0
    runs = _merge(_runs((smooth >= thr) & (share >= 0.5 * thr)), merge_gap_h)
    mass = [float(share[np.arange(s, e) % 24].sum()) for s, e in runs]
    keep = [(m, w) for m, w in zip(mass, runs, strict=True) if m >= min_share and w != (0, 24)]
    keep = sorted(keep, key=lambda t: -t[0])[:max_windows]
    return sorted(w for _, w in keep)


def format_windows(windows: list[Window]) -> str:
    """``[(6, 9), (18, 22)]`` → ``"06:00–09:00, 18:00–22:00"`` (``""`` for none)."""
    return ", ".join(f"{s % 24:02d}:00–{e % 24 if e % 24 else (24 if e else 0):02d}:00"
                     for s, e in windows)


def weekday_profile(weekdays: npt.ArrayLike) -> FloatArray:
    """Share of cases per weekday, Monday (0) … Sunday (6); zeros when there are none."""
    d = np.asarray(weekdays, dtype=float)
    d = d[np.isfinite(d)].astype(np.int64)
    counts = np.bincount(d % 7, minlength=7).astype(float)
    total = counts.sum()
    return counts / total if total else counts


def recency_weights(
    reported_at: pd.Series, *, at: pd.Timestamp, half_life_days: float
) -> FloatArray:
    """Weight ``0.5 ** (age_days / half_life_days)`` per case (0 for future or missing times)."""
    age_days = (at - reported_at).dt.total_seconds().to_numpy(dtype=float) / 86400.0
    w = np.power(0.5, np.clip(age_days, 0.0, None) / half_life_days)
    w[~np.isfinite(age_days) | (age_days < 0)] = 0.0
    return w


def time_profile(
    reported_at: pd.Series,
    labels: npt.NDArray[np.int64],
    n_clusters: int,
    *,
    at: pd.Timestamp | None,
    half_life_days: float,
) -> pd.DataFrame:
    """Per-cluster time properties from the cases' report times.

    Returns a DataFrame indexed 0..n_clusters-1 with ``recency_score``, ``peak_hours`` (text),
    ``peak_windows`` (list of [start_h, end_h]), ``hour_profile`` (24 counts),
    ``weekday_profile`` (7 shares, Monday first), ``first_seen`` and ``last_seen``. Without
    usable times every time field is empty (``NaN``, ``""``, ``[]``, ``NaT``).
    """
    rows = []
    ok = reported_at.notna().to_numpy()
    if at is None and ok.any():
        at = reported_at[ok].max()
    hours = reported_at.dt.hour.to_numpy(dtype=float, na_value=np.nan)
    wdays = reported_at.dt.day_of_week.to_numpy(dtype=float, na_value=np.nan)
    weights = (recency_weights(reported_at, at=at, half_life_days=half_life_days)
               if at is not None else np.zeros(len(labels)))
    for c in range(n_clusters):
        sel = (labels == c) & ok
        if not sel.any():
            rows.append({"recency_score": np.nan, "peak_hours": "", "peak_windows": [],
                         "hour_profile": [], "weekday_profile": [],
                         "first_seen": pd.NaT, "last_seen": pd.NaT})
            continue
        hist = hour_histogram(hours[sel])
        wins = peak_hour_windows(hist)
        t = reported_at[sel]
        rows.append({
            "recency_score": float(weights[sel].sum()),
            "peak_hours": format_windows(wins),
            "peak_windows": [[s, e] for s, e in wins],
            "hour_profile": [int(v) for v in hist],
            "weekday_profile": [round(float(v), 4) for v in weekday_profile(wdays[sel])],
            "first_seen": t.min(),
            "last_seen": t.max(),
        })
    return pd.DataFrame(rows, index=pd.RangeIndex(n_clusters))
