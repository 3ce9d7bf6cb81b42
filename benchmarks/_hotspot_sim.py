"""Simulated cases with planted hotspots for ``benchmarks/hotspot_speed.py`` (simulated data).

Two simulations, both in EPSG:4547 around Xiaogan:

* :func:`simulate` — the earlier benchmark: a 12 km x 10 km city, 40 round or strip hotspots
  holding 60 % of the cases, uniform background;
* :func:`simulate_district` — issue 13: an 8 km x 6 km district with an uneven background
  (several shares) and 60 planted hotspots of three kinds (compact, street, weak), scored by
  :func:`district_accuracy`; :func:`weak_ceiling` says how many weak hotspots any scan could
  find at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

CRS = "EPSG:4547"
X0, Y0 = 495_000.0, 3_418_000.0  # south-west corner, near downtown Xiaogan in EPSG:4547
W, H = 12_000.0, 10_000.0
N_HOT, N_STRIPS = 40, 12
HOT_SHARE = 0.6


def simulate(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points (n, 2), true hotspot of each point (-1 background), centres (40, 2), hours."""
    rng = np.random.default_rng(seed)
    centres: list[np.ndarray] = []
    while len(centres) < N_HOT:
        c = rng.uniform([X0 + 500, Y0 + 500], [X0 + W - 500, Y0 + H - 500])
        if all(np.hypot(*(c - d)) >= 500 for d in centres):
            centres.append(c)
    cen = np.array(centres)
    share = rng.lognormal(0, 0.5, N_HOT)
    share /= share.sum()
    n_hot = int(n * HOT_SHARE)
    lab = rng.choice(N_HOT, n_hot, p=share)
    sig = rng.uniform(20, 60, N_HOT)
    z = rng.normal(0, 1, (n_hot, 2))
    pts = cen[lab] + z * sig[lab, None]
    strip = lab < N_STRIPS  # street-stall strips: long along a random direction
    ang = rng.uniform(0, np.pi, N_STRIPS)[lab[strip]]
    along, across = z[strip, 0] * 80.0, z[strip, 1] * 12.0
    pts[strip] = cen[lab[strip]] + np.column_stack(
        [along * np.cos(ang) - across * np.sin(ang), along * np.sin(ang) + across * np.cos(ang)])
    bg = rng.uniform([X0, Y0], [X0 + W, Y0 + H], (n - n_hot, 2))
    hours = np.r_[np.where(rng.random(n_hot) < 0.5, rng.uniform(6, 9, n_hot),
                           rng.uniform(18, 22, n_hot)), rng.uniform(0, 24, n - n_hot)]
    return np.vstack([pts, bg]), np.r_[lab, np.full(n - n_hot, -1)], cen, hours


def to_cases(xy: np.ndarray, hours: np.ndarray, seed: int = 0) -> Any:
    import geopandas as gpd
    import pandas as pd

    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2024-01-01", tz="Asia/Shanghai") + pd.to_timedelta(
        rng.integers(0, 365, len(xy)), "D")
    g = gpd.GeoDataFrame({"case_id": np.arange(len(xy)).astype(str), "category": "09006",
                          "reported_at": day + pd.to_timedelta(hours, "h")},
                         geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    return g.to_crs("EPSG:4326")


def accuracy(polys: Any, centres: np.ndarray) -> tuple[float, float]:
    import shapely

    if len(polys) == 0:
        return 0.0, 0.0
    pts = shapely.points(centres)
    inside = np.array([[p.contains(c) for c in pts] for p in polys])
    return float(inside.any(axis=0).mean()), float(inside.any(axis=1).mean())


def label_polygons(xy: np.ndarray, labels: np.ndarray, buffer_m: float = 20.0) -> list[Any]:
    import shapely

    ok = np.flatnonzero(labels >= 0)
    ok = ok[np.argsort(labels[ok], kind="stable")]
    if len(ok) == 0:
        return []
    hulls = shapely.convex_hull(shapely.multipoints(xy[ok], indices=labels[ok]))
    return list(shapely.buffer(hulls, buffer_m))


# ---------------------------------------------------------------- district (issue 13) ---------
DX0, DY0, DW, DH = 500_000.0, 3_418_000.0, 8_000.0, 6_000.0
CORE = np.array([DX0 + 0.6 * DW, DY0 + 0.55 * DH])
KINDS = ("compact", "street", "weak")
N_EACH = 20


def bg_weight(xy: np.ndarray) -> np.ndarray:
    """Relative background density: a west-east gradient plus a dense core."""
    r2 = ((xy - CORE) ** 2).sum(axis=1)
    return 1.0 + 1.5 * (xy[:, 0] - DX0) / DW + 3.0 * np.exp(-r2 / (2 * 1200.0**2))


def sample_background(rng: np.random.Generator, n: int) -> np.ndarray:
    out, got = [], 0
    while got < n:
        c = rng.uniform([DX0, DY0], [DX0 + DW, DY0 + DH], (int((n - got) * 2.5) + 100, 2))
        c = c[rng.random(len(c)) * 5.5 < bg_weight(c)]
        out.append(c)
        got += len(c)
    return np.vstack(out)[:n]


def simulate_district(n: int, bg_share: float, seed: int = 1) -> dict[str, Any]:
    """Points, truth label (-1 background), centres, kinds and footprints of the hotspots."""
    import shapely

    rng = np.random.default_rng(seed)
    n_bg = int(n * bg_share)
    mean_w = bg_weight(rng.uniform([DX0, DY0], [DX0 + DW, DY0 + DH], (200_000, 2))).mean()
    dens0 = n_bg / (DW * DH * mean_w)  # background cases per m2 at weight 1
    cen: list[np.ndarray] = []
    while len(cen) < 3 * N_EACH:
        c = rng.uniform([DX0 + 300, DY0 + 300], [DX0 + DW - 300, DY0 + DH - 300])
        if all(np.hypot(*(c - d)) >= 400 for d in cen):
            cen.append(c)
    centres = np.array(cen)
    kind = np.repeat(np.array(KINDS), N_EACH)
    rng.shuffle(kind)
    pts: list[np.ndarray] = []
    foot: list[Any] = [None] * len(centres)
    n_weak = 0
    weak_d = np.zeros(len(centres))
    for i in np.flatnonzero(kind == "weak"):
        d, ratio = rng.uniform(60, 120), rng.uniform(3, 5)
        weak_d[i] = d
        m = rng.poisson((ratio - 1) * dens0 * bg_weight(centres[i:i + 1])[0] * np.pi * d * d / 4)
        r, a = d / 2 * np.sqrt(rng.random(m)), rng.uniform(0, 2 * np.pi, m)
        pts.append(centres[i] + np.c_[r * np.cos(a), r * np.sin(a)])
        foot[i] = shapely.Point(centres[i]).buffer(d / 2 + 10)
        n_weak += m
    strong = np.flatnonzero(kind != "weak")
    share = rng.lognormal(0, 0.5, len(strong))
    share /= share.sum()
    n_rest = max(0, n - n_bg - n_weak)
    for i, sh in zip(strong, share, strict=True):
        m = round(n_rest * sh)
        if kind[i] == "compact":
            sig = rng.uniform(8, 25)
            pts.append(centres[i] + rng.normal(0, sig, (m, 2)))
            foot[i] = shapely.Point(centres[i]).buffer(3 * sig)
        else:
            length, width, ang = rng.uniform(150, 300), rng.uniform(10, 20), rng.uniform(0, np.pi)
            u, v = rng.uniform(-length / 2, length / 2, m), rng.uniform(-width / 2, width / 2, m)
            cs, sn = np.cos(ang), np.sin(ang)
            pts.append(centres[i] + np.c_[u * cs - v * sn, u * sn + v * cs])
            end = np.array([cs, sn]) * length / 2
            foot[i] = shapely.LineString([centres[i] - end, centres[i] + end]).buffer(width / 2 + 10)
    hot = np.vstack(pts)
    xy = np.vstack([hot, sample_background(rng, n_bg)])
    hours = np.r_[np.where(rng.random(len(hot)) < 0.5, rng.uniform(6, 9, len(hot)),
                           rng.uniform(18, 22, len(hot))), rng.uniform(0, 24, n_bg)]
    return {"xy": xy[:n], "hours": hours[:n], "centres": centres, "kind": kind, "foot": foot,
            "dens0": dens0, "weak_d": weak_d}


def weak_ceiling(sim: dict[str, Any], *, alpha: float = 0.05, cell_m: float = 10.0,
                 windows: int = 5) -> dict[str, Any]:
    """How many weak hotspots a district-wide scan could find at all (an upper bound).

    Each weak disc's case count is tested against its *true* background (known here: the
    simulated density at its centre, times its true area), at its true place and size — what
    no detector knows. It counts as findable when ``p <= alpha * 60 / (cells * windows)``: the
    Benjamini–Hochberg level of the 60th discovery over every cell of the district and
    ``windows`` scan windows, about what a scan needs to keep precision. Returns the share
    findable and the median (over the weak hotspots) of the expected background cases and of
    the excess cases in the disc.
    """
    xy, cen, kind = sim["xy"], sim["centres"], sim["kind"]
    weak = np.flatnonzero(kind == "weak")
    d = sim["weak_d"][weak]
    expected = sim["dens0"] * bg_weight(cen[weak]) * np.pi * d * d / 4
    import shapely

    tree = shapely.STRtree(shapely.points(xy))
    discs = shapely.buffer(shapely.points(cen[weak]), d / 2)
    idx, _ = tree.query(discs, predicate="contains")
    observed = np.bincount(idx, minlength=len(weak))
    p = stats.poisson.sf(observed - 1, expected)
    level = alpha * 60 / (DW * DH / cell_m**2 * windows)
    return {"weak_ceiling": round(float((p <= level).mean()), 3), "ceiling_level": level,
            "weak_background_median": round(float(np.median(expected)), 1),
            "weak_excess_median": round(float(np.median(observed - expected)), 1)}


OVERLAP_SHARE = 0.3  # the overlap-based recall: polygons cover this share of the footprint


def district_accuracy(polys: list[Any], sim: dict[str, Any]) -> dict[str, Any]:
    """Accuracy of hotspot polygons (working CRS) against the planted hotspots.

    * ``recall_<kind>`` (the headline, strict): share of the planted hotspots of that kind whose
      centre lies inside a polygon;
    * ``recall_<kind>_overlap``: centre inside, *or* the polygons cover at least
      :data:`OVERLAP_SHARE` of the planted footprint (``sim["foot"]``: the disc plus 10 m, three
      sigmas, the lane plus 10 m) — a hotspot found but drawn off its centre counts;
    * ``weak_cover``: median share of a weak hotspot's disc covered by the polygons, over the
      weak hotspots some polygon meets (how much of a found weak patch its polygon shows);
    * ``precision``: share of the polygons meeting a planted footprint; ``merged``: polygons
      holding two or more planted centres; ``area_share``: their union over the district.
    """
    import shapely

    kind, cen = sim["kind"], sim["centres"]
    out: dict[str, Any] = {"hotspots": len(polys)}
    if not polys:
        return (out | {f"recall_{k}": 0.0 for k in KINDS}
                | {f"recall_{k}_overlap": 0.0 for k in KINDS}
                | {"precision": 0.0, "merged": 0, "area_share": 0.0, "weak_cover": 0.0})
    tree = shapely.STRtree(polys)
    p_idx, _ = tree.query(shapely.points(cen), predicate="within")
    found = np.zeros(len(cen), bool)
    found[p_idx] = True
    foot = np.array(sim["foot"], dtype=object)
    every = shapely.union_all(polys)
    covered = shapely.area(shapely.intersection(foot, every)) / shapely.area(foot)
    overlap = found | (covered >= OVERLAP_SHARE)
    for k in KINDS:
        out[f"recall_{k}"] = round(float(found[kind == k].mean()), 3)
    for k in KINDS:
        out[f"recall_{k}_overlap"] = round(float(overlap[kind == k].mean()), 3)
    weak = np.flatnonzero(kind == "weak")
    discs = shapely.buffer(shapely.points(cen[weak]), sim["weak_d"][weak] / 2)
    cover = shapely.area(shapely.intersection(discs, every)) / shapely.area(discs)
    out["weak_cover"] = round(float(np.median(cover[cover > 0])), 3) if (cover > 0).any() else 0.0
    hit = np.zeros(len(polys), bool)
    hit[tree.query(foot, predicate="intersects")[1]] = True
    out["precision"] = round(float(hit.mean()), 3)
    out["merged"] = int((np.bincount(p_idx, minlength=len(polys)) >= 2).sum())
    out["area_share"] = round(float(every.area / (DW * DH)), 4)
    return out
