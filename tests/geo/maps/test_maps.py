"""Folium maps: layers, GCJ-02 shift for Amap, escaping of every data value, local assets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pytest
from folium.plugins import HeatMap
from shapely.geometry import LineString, Point, box

from geo.crs import wgs84_to_gcj02
from geo.errors import CRSError, InputError
from geo.maps.assets import VENDOR_ASSETS, asset_urls, localize_assets, vendor_manifest
from geo.maps.layers import esc, forecast_classes, significance_class
from geo.maps.squad import district_map, prepare, squad_map

LON0, LAT0 = 113.915, 30.925
EVIL = "<script>alert(1)</script>`${x}\\"
REPO = Path(__file__).resolve().parents[3]


def make_layers(evil: str = "") -> dict[str, gpd.GeoDataFrame]:
    polys = [box(LON0 + i * 0.008, LAT0 + j * 0.007, LON0 + (i + 1) * 0.008, LAT0 + (j + 1) * 0.007)
             for i in range(3) for j in range(3)]
    comm = gpd.GeoDataFrame(
        {"name": [f"社区{k}{evil}" for k in range(9)], "street": f"书院街道{evil}",
         "squad": "shuyuan", "code": [f"4209020010{k:02d}" for k in range(9)]},
        geometry=polys, crs="EPSG:4326").to_crs("EPSG:4547")
    stations = gpd.GeoDataFrame({"name": [f"工作站{k}{evil}" for k in range(9)],
                                 "community": [f"社区{k}{evil}" for k in range(9)]},
                                geometry=[p.centroid for p in polys], crs="EPSG:4326")
    rng = np.random.default_rng(1)
    cases = gpd.GeoDataFrame(
        {"case_id": [str(i) for i in range(50)], "description": evil},
        geometry=gpd.points_from_xy(LON0 + rng.random(50) * 0.024, LAT0 + rng.random(50) * 0.021),
        crs="EPSG:4326")
    hotspots = gpd.GeoDataFrame(
        {"hotspot_id": [f"H1{evil}", "H2", "H3"], "case_count": [30, 12, 5],
         "category_name": [f"占道经营{evil}", "乱堆杂物", "噪声扰民"],
         "peak_hours": [f"07–09时{evil}", "18–21时", ""], "gi_confidence": [99, 95, 0],
         "trend": ["increasing", f"平稳{evil}", None], "community": evil},
        geometry=[Point(LON0 + 0.005, LAT0 + 0.005).buffer(0.002),
                  Point(LON0 + 0.015, LAT0 + 0.012).buffer(0.0015),
                  Point(LON0 + 0.02, LAT0 + 0.004).buffer(0.001)], crs="EPSG:4326")
    cells = [box(LON0 + i * 0.003, LAT0 + j * 0.003, LON0 + (i + 1) * 0.003, LAT0 + (j + 1) * 0.003)
             for i in range(8) for j in range(7)]
    forecast = gpd.GeoDataFrame({"cell_id": [f"c{i}{evil}" for i in range(56)],
                                 "score": rng.random(56)}, geometry=cells, crs="EPSG:4326")
    forecast["rank"] = forecast["score"].rank(ascending=False).astype(int)
    r1 = [(LON0 + 0.004, LAT0 + 0.004), (LON0 + 0.01, LAT0 + 0.006), (LON0 + 0.014, LAT0 + 0.012)]
    r2 = [(LON0 + 0.02, LAT0 + 0.018), (LON0 + 0.018, LAT0 + 0.01), (LON0 + 0.022, LAT0 + 0.003)]
    routes = gpd.GeoDataFrame(
        {"team": [f"A{evil}", "B"], "team_name": [f"第一组{evil}", "第二组"],
         "distance_m": [2300.0, 3100.0], "duration_s": [7200, 9000]},
        geometry=[LineString(r1), LineString(r2)], crs="EPSG:4326")
    stops = gpd.GeoDataFrame(
        {"team": [f"A{evil}", f"A{evil}", "B", "B"], "seq": [2, 1, 1, 2],
         "kind": ["复查", "热点", "疏导点", "社区巡查"],
         "what": [f"早市摊贩{evil}", "杂物", "疏导点", "巡查"], "address": [evil, "", "", ""],
         "arrive": ["07:40", f"07:10{evil}", "08:00", "09:00"]},
        geometry=[Point(r1[2]), Point(r1[1]), Point(r2[1]), Point(r2[2])], crs="EPSG:4326")
    relocation = gpd.GeoDataFrame(
        {"site_id": ["R1", "R2"], "name": [f"西大疏导点{evil}", "槐荫疏导点"],
         "covered_weight": [42.0, 17.5], "note": evil},
        geometry=[Point(LON0 + 0.006, LAT0 + 0.01), Point(LON0 + 0.018, LAT0 + 0.016)],
        crs="EPSG:4326")
    return {"communities": comm, "stations": stations, "cases": cases, "hotspots": hotspots,
            "forecast": forecast, "routes": routes, "stops": stops, "relocation": relocation}


def groups(m: folium.Map) -> dict[str, folium.FeatureGroup]:
    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}


def geojson_coords(group: folium.FeatureGroup) -> np.ndarray:
    """All coordinates of the GeoJson children of ``group``."""
    out = []
    for child in group._children.values():
        if isinstance(child, folium.GeoJson):
            for f in child.data["features"]:
                out.append(np.array(f["geometry"]["coordinates"], dtype=float).reshape(-1, 2))
    return np.vstack(out)


def test_layers_legend_and_control() -> None:
    m = squad_map(**make_layers(), title="书院中队 巡查地图", data_label="模拟数据")
    names = set(groups(m))
    assert {"社区边界", "工作站", "案件热力（50 件）", "热点区域", "预测网格", "疏导点及步行覆盖范围",
            "路线：第一组", "路线：第二组"} <= names
    assert any(isinstance(c, folium.LayerControl) for c in m._children.values())
    assert any(isinstance(c, HeatMap) for c in groups(m)["案件热力（50 件）"]._children.values())
    page = m.get_root().render()
    for needle in ("图例", "书院中队 巡查地图", "模拟数据", "99%", "不显著", "openstreetmap"):
        assert needle in page, needle
    hot = next(c for c in groups(m)["热点区域"]._children.values() if isinstance(c, folium.GeoJson))
    props = [f["properties"] for f in hot.data["features"]]
    assert "30" in props[0]["popup"] and "07–09时" in props[0]["popup"]
    assert "上升" in props[0]["popup"] and "99%" in props[0]["popup"]
    assert props[0]["style"]["fillColor"] != props[2]["style"]["fillColor"]
    # Numbered stops: team A's two stops carry their sequence numbers.
    markers = [c for c in groups(m)["路线：第一组"]._children.values() if isinstance(c, folium.Marker)]
    assert len(markers) == 2
    labels = [re.search(r">(\d+)</div>", mk.icon.options["html"]).group(1) for mk in markers]
    assert labels == ["1", "2"]


def test_only_communities_and_projected_input() -> None:
    layers = make_layers()
    m = district_map(communities=layers["communities"])
    assert set(groups(m)) == {"社区边界"}
    xy = geojson_coords(groups(m)["社区边界"])
    assert xy[:, 0].min() == pytest.approx(LON0, abs=1e-6)
    assert xy[:, 1].max() == pytest.approx(LAT0 + 0.021, abs=1e-6)


def test_missing_crs_raises() -> None:
    layers = make_layers()
    with pytest.raises(CRSError):
        squad_map(communities=layers["communities"].set_crs(None, allow_override=True))
    with pytest.raises(CRSError):
        squad_map(communities=layers["communities"],
                  hotspots=layers["hotspots"].set_crs(None, allow_override=True))
    with pytest.raises(InputError):
        prepare([1, 2], what="x")  # type: ignore[arg-type]


def test_amap_shifts_overlays_to_gcj02() -> None:
    layers = make_layers()
    osm = squad_map(**layers)
    amap = squad_map(**layers, basemap="amap")
    wgs = geojson_coords(groups(osm)["社区边界"])
    gcj = geojson_coords(groups(amap)["社区边界"])
    exp_lon, exp_lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert np.allclose(gcj[:, 0], exp_lon, atol=1e-9) and np.allclose(gcj[:, 1], exp_lat, atol=1e-9)
    shift_m = np.hypot((gcj[:, 0] - wgs[:, 0]) * 95_000, (gcj[:, 1] - wgs[:, 1]) * 111_000)
    assert shift_m.min() > 100 and shift_m.max() < 800  # hundreds of metres in Hubei
    # Point layers too: the first stop marker.
    mk = [c for c in groups(amap)["路线：第二组"]._children.values() if isinstance(c, folium.Marker)]
    lon, lat = wgs84_to_gcj02(LON0 + 0.018, LAT0 + 0.01)
    assert mk[0].location == pytest.approx([float(lat), float(lon)], abs=1e-9)
    page = amap.get_root().render()
    assert "autonavi.com" in page and "openstreetmap" not in page


def test_every_value_escaped() -> None:
    plain = squad_map(**make_layers(), title="标题", data_label="模拟")
    evil = squad_map(**make_layers(EVIL), title=EVIL, data_label=EVIL)
    page_plain = plain.get_root().render()
    page = evil.get_root().render()
    assert "<script>alert" not in page and "</script>`" not in page
    assert page.count("<script") == page_plain.count("<script")
    assert page.count("`") == page_plain.count("`")  # no backtick reaches a JS template literal
    assert "${x}" not in page and "&#36;&#123;x&#125;" in page
    assert page.count("alert(1)") >= 20  # the values are shown, escaped


def test_esc() -> None:
    assert esc(EVIL) == "&lt;script&gt;alert(1)&lt;/script&gt;&#96;&#36;&#123;x&#125;&#92;"
    assert esc(None) == "—" and esc(float("nan")) == "—" and esc([7, 8]) == "7、8"
    import pandas as pd

    assert esc(pd.NA) == "—" and esc(pd.NaT) == "—"
    assert esc(pd.Timestamp("2025-05-12 07:30", tz="Asia/Shanghai")) == "2025-05-12 07:30"


def test_static_prefix_points_assets_at_service() -> None:
    m = squad_map(**make_layers(), static_prefix="/static/vendor/")
    page = m.get_root().render()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(u.startswith("/static/vendor/") for u in urls), urls
    assert "/static/vendor/leaflet/leaflet.js" in urls
    assert "/static/vendor/leaflet-heat/leaflet_heat.min.js" in urls
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page
    # folium's class-level defaults are untouched.
    assert folium.Map.default_js[0][1].startswith("https://")
    fresh = folium.Map().get_root().render()
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in fresh


def test_localize_keeps_unknown_urls() -> None:
    m = folium.Map(tiles=None)
    m.default_js = [*m.default_js, ("other", "https://example.com/x.js")]
    localize_assets(m, "/v")
    assert ("other", "https://example.com/x.js") in m.default_js
    assert ("leaflet", "/v/leaflet/leaflet.js") in m.default_js


def test_vendor_manifest_and_files() -> None:
    cdn = {u for u, _ in asset_urls()}
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in cdn
    assert len(vendor_manifest().strip().splitlines()) == len(VENDOR_ASSETS)
    vendor = REPO / "service" / "static" / "vendor"
    if not vendor.is_dir():
        pytest.skip("service/static/vendor 不存在；运行 scripts/vendor_leaflet.sh 获取")
    for a in VENDOR_ASSETS:
        path = vendor / a.local
        assert (path.is_dir() and any(path.iterdir())) if a.local.endswith("/") else path.is_file()


def test_tianditu_needs_key_and_quotes_it() -> None:
    comm = make_layers()["communities"]
    with pytest.raises(InputError):
        squad_map(communities=comm, basemap="tianditu")
    with pytest.raises(InputError):
        squad_map(communities=comm, basemap="google")  # type: ignore[arg-type]
    page = squad_map(communities=comm, basemap="tianditu",
                     tianditu_key="ab\"c<d").get_root().render()
    assert "tianditu.gov.cn/vec_w/wmts" in page and "tk=ab%22c%3Cd" in page
    assert "cva_w" in page and 'ab"c' not in page


def test_significance_and_forecast_classes() -> None:
    import pandas as pd

    def cls(**kw: object) -> str:
        return significance_class(pd.Series(kw))

    assert cls(gi_confidence=99) == "99%" and cls(confidence=0.95) == "95%"
    assert cls(gi_confidence=0) == "不显著" and cls(p_value=0.03) == "95%"
    assert cls(significance="hot_90") == "90%" and cls(gi_class="cold_99") == "不显著"
    assert cls() == "不显著"
    c = forecast_classes([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    assert c == sorted(c) and c[0] == 0 and c[-1] == 4
    assert forecast_classes([1.0, 1.0]) == [4, 4] and forecast_classes([]) == []


def test_no_basemap_requests_nothing_from_outside() -> None:
    page = squad_map(**make_layers(), basemap="none", static_prefix="/static/vendor"
                     ).get_root().render()
    assert "L.tileLayer" not in page and "openstreetmap" not in page.lower()
    assert re.search(r'"maxZoom":\s*19', page)  # zoom is capped although no tile layer sets it
    assert "leaflet-container{background" in page
    # nothing in the page points outside the service: no http(s) URL in a src/href or script
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)
    assert "https://" not in page.replace("https://leafletjs.com", "")  # Leaflet's own credit


def _attribution(page: str) -> str:
    found = re.search(r'"attribution": ("[^"]*")', page)
    assert found, "no tile layer attribution"
    return str(json.loads(found.group(1)))


def test_local_tiles_from_a_configured_template() -> None:
    layers = make_layers()
    url = "http://gis.bureau.local/tiles/{z}/{x}/{y}.png"
    page = squad_map(**layers, basemap="local", tile_url=url, tile_attribution="<b>市测绘院</b>",
                     static_prefix="/static/vendor").get_root().render()
    assert page.count("L.tileLayer(") == 1 and f'"{url}"' in page
    assert _attribution(page) == "&lt;b&gt;市测绘院&lt;/b&gt;"  # shown as text, not markup
    same_host = squad_map(communities=layers["communities"], basemap="local",
                          tile_url="/tiles/{z}/{x}/{y}.png").get_root().render()
    assert '"/tiles/{z}/{x}/{y}.png"' in same_host and _attribution(same_host) == "本地瓦片服务"
    # overlays are not shifted (local tiles are WGS84/Web Mercator like OSM)
    m = squad_map(**layers, basemap="local", tile_url=url)
    assert np.allclose(geojson_coords(groups(m)["社区边界"]),
                       geojson_coords(groups(squad_map(**layers))["社区边界"]))


@pytest.mark.parametrize("bad", [None, "", "http://x/{z}/{x}.png", "ftp://x/{z}/{x}/{y}.png",
                                 "javascript:alert(1)//{z}{x}{y}", "//x/{z}/{x}/{y}.png",
                                 'http://x/{z}/{x}/{y}.png"+alert(1)+"',
                                 "http://x/{z}/{x}/{y}.png<script>"])
def test_local_tiles_need_a_safe_template(bad: str | None) -> None:
    comm = make_layers()["communities"]
    with pytest.raises(InputError, match="瓦片地址模板"):
        squad_map(communities=comm, basemap="local", tile_url=bad)


def test_unknown_basemap_lists_the_choices() -> None:
    comm = make_layers()["communities"]
    with pytest.raises(InputError, match="local、none"):
        squad_map(communities=comm, basemap="bing")  # type: ignore[arg-type]
