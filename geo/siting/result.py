"""Typed results of a relocation-point scenario: :class:`SitingSummary` and :class:`RelocationSites`.

:func:`geo.siting.frames.locate_relocation_points` returns a :class:`RelocationSites` (in the
manner of spopt's solved model objects): the chosen ``sites`` as a GeoDataFrame, the scenario
``summary`` (totals and the solver's proof) and the demand → site ``assignment``. The summary is
a frozen dataclass; it also reads like the summary dict of earlier versions (``summary["gap"]``,
``summary.get("optimal")``, ``dict(summary)``), so code written for that dict keeps working.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.labels import round_metres
from geo.siting.problem import MODEL_NAMES, ModelName, is_model

__all__ = ["RelocationSites", "SitingSummary", "compare_site_sets", "mean_walk_m",
           "sites_frame", "summary_dict", "summary_of"]


@dataclass(frozen=True, eq=True)
class SitingSummary(Mapping[str, Any]):
    """Totals of a relocation scenario and the solver's proof.

    Attributes
    ----------
    model : {"mclp", "pmedian", "lscp"}
    model_name : str
        Its Chinese name (最大覆盖 …).
    sites : int
        Number of chosen sites.
    radius_m, demand_weight, covered_weight, covered_share : float
        Walking radius; total demand weight; the weight within the radius of its site, and its
        share of the total.
    objective : float
        The model's objective value.
    optimal : bool
        True when proven optimal; ``gap`` is the proven relative gap otherwise.
    gap : float
    method, solver : str
        ``"exact"``/``"heuristic"``/…, and the solver that found it.
    time_s : float
    distance : str
        How walking distances were computed (``"network"`` or ``"straight line x 1.3"``).
    """

    model: ModelName
    model_name: str
    sites: int
    radius_m: float
    demand_weight: float
    covered_weight: float
    covered_share: float
    objective: float
    optimal: bool
    gap: float
    method: str
    solver: str
    time_s: float
    distance: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SitingSummary:
        """A summary from its dict form (as :meth:`as_dict` or earlier versions wrote it)."""
        model = data.get("model", "mclp")
        if not is_model(model):
            raise InputError(f"选址方案的模型 model={model!r} 无效，应为 mclp、pmedian 或 lscp。")
        try:
            return cls(
                model=model, model_name=str(data.get("model_name", MODEL_NAMES[model])),
                sites=int(data["sites"]), radius_m=float(data["radius_m"]),
                demand_weight=float(data["demand_weight"]),
                covered_weight=float(data["covered_weight"]),
                covered_share=float(data["covered_share"]),
                objective=float(data["objective"]), optimal=bool(data["optimal"]),
                gap=float(data["gap"]), method=str(data["method"]),
                solver=str(data["solver"]), time_s=float(data.get("time_s", 0.0)),
                distance=str(data.get("distance", "")))
        except KeyError as exc:
            raise InputError(f"选址方案摘要缺少字段 {exc.args[0]!r}。") from exc

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict (the keys of the attributes)."""
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)


_FIELDS = tuple(f.name for f in fields(SitingSummary))


@dataclass(frozen=True, eq=False)
class RelocationSites:
    """Chosen relocation points with their scenario summary.

    Attributes
    ----------
    sites : GeoDataFrame
        One row per chosen site (see :func:`geo.siting.frames.locate_relocation_points`).
    summary : SitingSummary
    assignment : mapping of str to str or None
        Demand id → id of the site serving it (None: not served).
    """

    sites: gpd.GeoDataFrame
    summary: SitingSummary
    assignment: Mapping[str, str | None] = field(default_factory=dict)


def summary_of(sites: RelocationSites | gpd.GeoDataFrame, *, what: str = "选址结果") -> SitingSummary:
    """The summary of a scenario: a :class:`RelocationSites`, or a sites frame of
    :func:`geo.siting.frames.site_relocation_points` (which carries it in ``attrs``).

    Raises
    ------
    InputError
        If ``sites`` carries no summary.
    """
    if isinstance(sites, RelocationSites):
        return sites.summary
    data = sites.attrs.get("summary")
    if isinstance(data, SitingSummary):
        return data
    if not isinstance(data, Mapping):
        raise InputError(f"{what} 不是 site_relocation_points() 的结果（缺少 summary）。")
    return SitingSummary.from_mapping(data)


def sites_frame(sites: RelocationSites | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sites GeoDataFrame of either form."""
    return sites.sites if isinstance(sites, RelocationSites) else sites


def summary_dict(sites: RelocationSites | gpd.GeoDataFrame) -> dict[str, Any]:
    """The summary as a dict; ``{}`` for a frame that carries none (nothing to show)."""
    if isinstance(sites, RelocationSites):
        return sites.summary.as_dict()
    data = sites.attrs.get("summary")
    return dict(data) if isinstance(data, Mapping) else {}


def mean_walk_m(sites: RelocationSites | gpd.GeoDataFrame) -> float:
    """Mean walking distance (m) from served demand to its site, weighted by demand."""
    frame = sites_frame(sites)
    w = pd.to_numeric(frame["served_weight"], errors="coerce").to_numpy(dtype=float)
    d = pd.to_numeric(frame["mean_walk_m"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(w) & np.isfinite(d) & (w > 0)
    return float(np.average(d[ok], weights=w[ok])) if ok.any() else float("nan")


def _site_names(frame: gpd.GeoDataFrame) -> str:
    col = "site_name" if "site_name" in frame else "candidate_id"
    return "、".join(str(v) for v in frame[col])


def compare_site_sets(scenarios: Mapping[str, RelocationSites | gpd.GeoDataFrame]
                      ) -> pd.DataFrame:
    """One row per scenario, rounded for people: how many sites, what they cover, how far people
    walk, and which sites (by name) — e.g. 3 vs 5 points side by side.

    Parameters
    ----------
    scenarios : mapping of str to RelocationSites or GeoDataFrame
        Scenario name (``3 个点``) → result of
        :func:`geo.siting.frames.locate_relocation_points` (or its sites frame, which carries
        the summary in ``attrs``), in display order.

    Returns
    -------
    DataFrame
        Columns ``方案``, ``点位数``, ``覆盖需求占比（%）`` (1 decimal), ``覆盖案件数`` (integer),
        ``平均步行距离（米）`` (rounded to 10 m), ``与首个方案相同的点位`` (count of sites at the
        same candidate as the first scenario's) and ``疏导点`` (their names).

    Raises
    ------
    InputError
        If ``scenarios`` is empty or a result carries no summary.
    """
    if not scenarios:
        raise InputError("没有可比较的选址方案；请至少提供一个方案。")
    rows, first = [], None
    for name, result in scenarios.items():
        frame, summary = sites_frame(result), summary_of(result, what=str(name))
        ids = set(frame["candidate_id"].astype(str))
        first = ids if first is None else first
        cases = pd.to_numeric(frame["served_cases"], errors="coerce").sum()
        share = float(summary.covered_share) * 100.0
        rows.append({
            "方案": str(name), "点位数": int(summary.sites),
            "覆盖需求占比（%）": round(share, 1) if math.isfinite(share) else None,
            "覆盖案件数": round(float(cases)) if math.isfinite(float(cases)) else None,
            "平均步行距离（米）": round_metres(mean_walk_m(result)),
            "与首个方案相同的点位": len(ids & first),
            "疏导点": _site_names(frame)})
    return pd.DataFrame(rows)
