"""Interactive maps (Folium/Leaflet HTML) per squad and for the district.

``GET /maps/{squad}?date=YYYY-MM-DD``: the squad's communities, work stations, recent cases (heat;
past :data:`service.tiles.TILES_FROM` cases a vector-tile layer from ``/tiles/cases``),
hotspots, next week's forecast and the day's routes per team. ``GET /maps/district`` (admin,
planner): every community, hotspots and the stored routes of the day. Leaflet and the other
scripts load from ``/static/vendor`` (no internet needed for the page itself; only the base-map
tiles come from the configured tile service). Every value from data is escaped by
:mod:`geo.maps.layers`.

A map is rendered once per data version (cases and plans, read from the database at each
request, so every worker shows a status change at once) and carries an ``ETag`` of those
versions: ``If-None-Match`` gets 304 without any work. A squad map of a day without a stored plan
makes the plan only inside :data:`service.pages_data.PLAN_WINDOW`; any other day is 404 (尚未生成).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from geo.errors import InputError
from service import pages_data
from service.auth import Principal
from service.case_cache import etag, not_modified, versions
from service.deps import CurrentUser, SettingsDep, StorageDep, require_roles
from service.plans import load_plan
from service.settings import Settings
from service.storage import CaseFilter, Storage

router = APIRouter(prefix="/maps", tags=["maps"])
STATIC_PREFIX = "/static/vendor"
DayQ = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="日期；缺省今天")]
District = Annotated[Principal, Depends(require_roles("admin", "planner"))]


def _optional(make: Any) -> gpd.GeoDataFrame | None:
    """A layer, or None when it cannot be computed (too few cases and the like)."""
    try:
        gdf = make()
    except InputError:
        return None
    return gdf if gdf is not None and len(gdf) else None


def _digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def render_map(storage: Storage, settings: Settings, *, squads: tuple[str, ...] | None,
               day: date, plans: list[dict[str, Any]], title: str) -> str:
    """The map page (HTML) of ``squads`` (None = district) with the routes of ``plans``."""
    from geo.maps.squad import squad_map

    key = (storage.url, "map", squads, day, _digest([p.get("routes") for p in plans]),
           versions(storage)[0], title)

    def make() -> str:
        from geo.maps.case_tiles import CaseTileLayer
        from service.tiles import TILES_FROM, case_tile_url

        start = pd.Timestamp(day, tz=settings.timezone)
        frames = [pages_data.plan_frames(p) for p in plans]
        routes = pd.concat([f[0] for f in frames]) if frames else None
        stops = pd.concat([f[1] for f in frames]) if frames else None
        flt = CaseFilter(squads=squads, precise=True, start=start - timedelta(days=28),
                         end=start + timedelta(days=1))
        n_cases = storage.count_cases(flt)  # many cases: drawn from /tiles, not in the page
        gcj = settings.basemap == "amap"  # its tiles are GCJ-02: so are the overlays
        tiled = [CaseTileLayer(case_tile_url(flt, gcj02=gcj), count=n_cases)] \
            if n_cases > TILES_FROM else []
        cases = storage.query_cases(flt) if not tiled else gpd.GeoDataFrame()
        m = squad_map(
            communities=storage.communities(squads=squads),
            stations=storage.stations(squads=squads),
            cases=cases if len(cases) else None,
            hotspots=_optional(lambda: pages_data.hotspots(storage, settings, squads, at=start)),
            forecast=_optional(lambda: pages_data.forecast(storage, settings, squads, at=start,
                                                           top=60)),
            routes=gpd.GeoDataFrame(routes, crs=4326) if routes is not None and len(routes) else None,
            stops=gpd.GeoDataFrame(stops, crs=4326) if stops is not None and len(stops) else None,
            **settings.map_options(), static_prefix=STATIC_PREFIX, title=title,
            data_label=pages_data.data_label(storage, squads), extra_layers=tiled)
        return str(m.get_root().render())

    return pages_data.CACHE.get_or_make(key, make)


def _map_tag(storage: Storage, *parts: Any) -> str:
    return etag("map", storage.url, *versions(storage), *parts)


def _html(body: str, tag: str) -> HTMLResponse:
    return HTMLResponse(body, headers={"ETag": tag, "Cache-Control": "private, no-cache"})


@router.get("/district", response_class=HTMLResponse, responses={304: {}},
            summary="全区地图（管理员、规划）")
def district_map(request: Request, storage: StorageDep, settings: SettingsDep, user: District,
                 date: DayQ = None) -> Response:
    """Every community, station, hotspot and the day's stored routes of every squad."""
    day = pages_data.parse_day(date, settings.timezone)
    tag = _map_tag(storage, user.squads, day, settings.map_options())
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    plans = [p for sq in storage.squads()
             if user.may_see(sq["id"]) and (p := load_plan(storage, sq["id"], day))]
    return _html(render_map(storage, settings, squads=user.squads, day=day, plans=plans,
                            title=f"全区巡查总览 {day.isoformat()}"), tag)


@router.get("/{squad_id}", response_class=HTMLResponse, responses={304: {}}, summary="中队地图")
def squad_map_page(request: Request, squad_id: Annotated[str, Path(max_length=32)],
                   storage: StorageDep, settings: SettingsDep, user: CurrentUser,
                   date: DayQ = None) -> Response:
    """The squad's map with the day's routes (the plan is made on first request inside the
    plan window, yesterday … 7 days ahead; another day without a plan: 404)."""
    squad = pages_data.visible_squad(storage, user, squad_id)
    day = pages_data.parse_day(date, settings.timezone)
    tag = _map_tag(storage, squad_id, day, settings.map_options())
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    plan = pages_data.get_plan(storage, settings, squad, day, actor=user.username)
    tag = _map_tag(storage, squad_id, day, settings.map_options())  # the plan may be new
    return _html(render_map(storage, settings, squads=(squad_id,), day=day, plans=[plan],
                            title=f"{squad['name']} {day.isoformat()} 巡查地图"), tag)
