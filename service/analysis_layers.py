"""The service's analysis layers — density hotspots, Gi* cells, emerging trends, forecast cells —
computed once per data version and served as stored rows (:mod:`service.layer_store`).

Each layer function reads the data version its layer depends on (:func:`data_version`): the
case data (:func:`service.case_cache.versions`), and for a ranking by patrol effort also the
plans and confirmed visits of the effort period. It answers from
:data:`CACHE` (this process, keyed by that version: never an older view), else from the stored
row of that version, else computes the layer once for every worker (the layer's job row) and
stores it. A status change, an import or a new plan is a new version on every worker at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
from sqlalchemy import func, select

from geo.errors import NotFoundError
from service.case_cache import versions
from service.layer_store import stored_layer
from service.models import ConfirmedVisit, Plan
from service.settings import Settings
from service.storage import CaseFilter, Storage

T = TypeVar("T")
_CACHE_TTL_S = 300.0
_CACHE_MAX = 64


class _TTLCache:
    """A tiny thread-safe LRU cache with expiry (per process)."""

    def __init__(self, *, ttl_s: float = _CACHE_TTL_S, size: int = _CACHE_MAX) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._data: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._data.move_to_end(key)
                return hit[1]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._data[key] = (now, value)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


CACHE = _TTLCache()
"""Analysis layers and rendered maps of this process, keyed by the data versions they used."""


def _at(at: datetime | date | None, tz: str) -> pd.Timestamp:
    if at is None:
        return pd.Timestamp.now(tz=tz).normalize() + pd.Timedelta(days=1)
    ts = pd.Timestamp(at)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def recent_cases(storage: Storage, squads: tuple[str, ...] | None, at: pd.Timestamp,
                 days: int) -> gpd.GeoDataFrame:
    """Cases of ``squads`` reported in the ``days`` before ``at``, located to a point or a
    landmark (community-level cases stay out of the point analyses)."""
    return storage.query_cases(CaseFilter(squads=squads, start=at - timedelta(days=days), end=at,
                                          precise=True))


def data_version(storage: Storage, squads: tuple[str, ...] | None,
                 span: tuple[date, date] | None = None) -> str:
    """The version of the data a layer uses: the cases' (``meta.cases_version``), and with an
    effort period ``span`` (plan days ``[first, last + 1)``) the plans and confirmed visits of
    ``squads`` in it: their count and highest row id (a plan is replaced by a new row,
    :func:`service.plans.save_plan`), so plans made for other days leave the layer as it is."""
    cases = f"c{versions(storage)[0]}"
    if span is None:
        return cases
    parts = []
    with storage.begin() as session:
        for model in (Plan, ConfirmedVisit):
            stmt = select(func.count(model.id), func.max(model.id)).where(
                model.plan_date >= span[0], model.plan_date < span[1])
            if squads is not None:
                stmt = stmt.where(model.squad_id.in_(tuple(squads)))
            n, last = session.execute(stmt).one()
            parts.append(f"{int(n or 0)}.{last or 0}")
    return f"{cases}:p{parts[0]}:v{parts[1]}"


def _layer(storage: Storage, settings: Settings, kind: str, squads: tuple[str, ...] | None,
           t: pd.Timestamp, params: dict[str, Any], make: Callable[[], gpd.GeoDataFrame], *,
           span: tuple[date, date] | None = None) -> gpd.GeoDataFrame:
    """The layer from :data:`CACHE` or :func:`service.layer_store.stored_layer` at the current
    :func:`data_version`."""
    full = {"at": t.isoformat(), "crs": settings.working_crs, **params}
    version = data_version(storage, squads, span)
    key = (storage.url, kind, squads, version, *sorted(full.items()))
    return CACHE.get_or_make(key, lambda: stored_layer(
        storage, kind, squads, full, version, make, day=t.date(),
        current=lambda: data_version(storage, squads, span)))


def hotspots(storage: Storage, settings: Settings, squads: tuple[str, ...] | None, *,
             at: datetime | date | None = None, days: int = 90,
             category: str | None = None, exposure: bool = True) -> gpd.GeoDataFrame:
    """Density hotspots (WGS84) of the cases of ``squads`` in the ``days`` before ``at``, ranked
    as :func:`service.effort.layer` says (``exposure``) in ``attrs["ranking"]``."""
    from geo.analysis.frame import select_cases
    from geo.analysis.hotspots import find_hotspots
    from service import effort

    t = _at(at, settings.timezone)
    span = effort.effort_span(t, days)

    def make() -> gpd.GeoDataFrame:
        cases = recent_cases(storage, squads, t, days)
        if len(cases) == 0:
            empty = gpd.GeoDataFrame({"hotspot_id": []}, geometry=[], crs=4326)
            return effort.layer("hotspots", empty, cases)
        found = find_hotspots(cases, category=category, at=t, communities=storage.communities(),
                              working_crs=settings.working_crs)
        return effort.layer("hotspots", found, select_cases(cases, category, at=t), storage,
                            squads, span, crs=settings.working_crs, exposure=exposure)

    return _layer(storage, settings, "hotspots", squads, t,
                  {"days": days, "category": category, "exposure": exposure}, make,
                  span=span if exposure else None)


def significance(storage: Storage, settings: Settings, squads: tuple[str, ...] | None, *,
                 at: datetime | date | None = None, days: int = 90,
                 cell_m: float = 100.0) -> gpd.GeoDataFrame:
    """Gi* cells (WGS84) with cases or significant z, of the cases in the ``days`` before ``at``."""
    from geo.analysis.significance import hotspot_grid
    from geo.crs import to_working

    t = _at(at, settings.timezone)

    def make() -> gpd.GeoDataFrame:
        cases = recent_cases(storage, squads, t, days)
        if len(cases) == 0:
            return gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=4326)
        grid = hotspot_grid(to_working(cases, crs=settings.working_crs), cell_m=cell_m)
        grid = grid[(grid["count"] > 0) | (grid["gi_bin"] != 0)]
        return grid.to_crs(4326)

    return _layer(storage, settings, "gi", squads, t, {"days": days, "cell_m": cell_m}, make)


def trends(storage: Storage, settings: Settings, squads: tuple[str, ...] | None, *,
           at: datetime | date | None = None, days: int = 180, cell_m: float = 150.0,
           period_days: float = 7.0) -> gpd.GeoDataFrame:
    """Emerging hot-spot patterns (WGS84) of the cells with cases in the ``days`` before ``at``."""
    from geo.analysis.trends import emerging_hotspots
    from geo.crs import to_working

    t = _at(at, settings.timezone)

    def make() -> gpd.GeoDataFrame:
        cases = recent_cases(storage, squads, t, days)
        if len(cases) == 0:
            return gpd.GeoDataFrame({"cell_id": []}, geometry=[], crs=4326)
        cells = emerging_hotspots(to_working(cases, crs=settings.working_crs), cell_m=cell_m,
                                  period_days=period_days, end=t)
        return cells.to_crs(4326)

    return _layer(storage, settings, "trends", squads, t,
                  {"days": days, "cell_m": cell_m, "period_days": period_days}, make)


def forecast(storage: Storage, settings: Settings, squads: tuple[str, ...] | None, *,
             at: datetime | date | None = None, horizon_days: float = 7, cell_m: float = 150,
             top: int | None = 200, exposure: bool = True) -> gpd.GeoDataFrame:
    """Forecast cells (WGS84, best ``top`` ranks) over the communities of ``squads``, ranked as
    :func:`service.effort.layer` says (``exposure``) in ``attrs["ranking"]``."""
    from geo.forecast.cells import forecast_cells
    from service import effort

    t = _at(at, settings.timezone)
    span = effort.effort_span(t, effort.EFFORT_DAYS)

    def make() -> gpd.GeoDataFrame:
        cases = storage.query_cases(CaseFilter(squads=squads, end=t, precise=True))
        area = storage.communities(squads=squads)
        if len(area) == 0:
            raise NotFoundError("没有可预测的社区范围。")
        cells = forecast_cells(cases, at=t, horizon_days=horizon_days, cell_m=cell_m,
                               area=area.to_crs(settings.working_crs), crs=settings.working_crs,
                               patrol=effort.patrol_mask(cases, storage, squads, span)
                               if exposure else None)
        recent = cases[cases["reported_at"] >= t - timedelta(days=effort.EFFORT_DAYS)]
        return effort.layer("cells", cells, recent, storage, squads, span,
                            crs=settings.working_crs, exposure=exposure)

    cells = _layer(storage, settings, "forecast", squads, t,
                   {"horizon_days": horizon_days, "cell_m": cell_m, "exposure": exposure}, make,
                   span=span if exposure else None)
    return cells[cells["rank"] <= top] if top else cells  # attrs["ranking"] follows
