"""Working-CRS choice, guards, and GCJ-02/BD-09 conversion (property-tested over China)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point

from geo import crs
from geo.errors import CRSError

GEOD = Geod(ellps="WGS84")
china_lon = st.floats(min_value=73.6, max_value=134.7, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.5, allow_nan=False)


def _err_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> float:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return float(np.max(np.abs(dist)))


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_below_1cm(lon: float, lat: float) -> None:
    glon, glat = crs.wgs84_to_gcj02([lon], [lat])
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    assert _err_m(np.array([lon]), np.array([lat]), wlon, wlat) < 0.01


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trip_below_1cm(lon: float, lat: float) -> None:
    blon, blat = crs.wgs84_to_bd09([lon], [lat])
    wlon, wlat = crs.bd09_to_wgs84(blon, blat)
    assert _err_m(np.array([lon]), np.array([lat]), wlon, wlat) < 0.01
    glon, glat = crs.bd09_to_gcj02(*crs.gcj02_to_bd09([lon], [lat]))
    assert _err_m(np.array([lon]), np.array([lat]), glon, glat) < 0.01


def test_gcj02_offset_is_the_known_few_hundred_metres_in_xiaogan() -> None:
    # The GCJ-02 shift in Hubei is a few hundred metres (typ. 300–600 m): a sanity anchor.
    glon, glat = crs.wgs84_to_gcj02([113.92], [30.93])
    shift = _err_m(np.array([113.92]), np.array([30.93]), glon, glat)
    assert 200 < shift < 800


def test_outside_china_is_identity() -> None:
    lon, lat = crs.wgs84_to_gcj02([-87.6, 2.35], [41.8, 48.85])
    np.testing.assert_allclose(lon, [-87.6, 2.35])
    np.testing.assert_allclose(lat, [41.8, 48.85])


def test_vectorised_conversion_matches_scalar() -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(100, 120, 1000)
    lat = rng.uniform(22, 40, 1000)
    vlon, vlat = crs.gcj02_to_wgs84(lon, lat)
    slon, slat = crs.gcj02_to_wgs84(lon[:1], lat[:1])
    assert vlon[0] == pytest.approx(slon[0]) and vlat[0] == pytest.approx(slat[0])


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(113.92, 30.93, 4547), (116.4, 39.9, 4548), (121.47, 31.23, 4549), (87.6, 43.8, 4538),
     (-87.63, 41.88, 32616), (-73.95, 40.7, 32618), (151.2, -33.87, 32756)],
)
def test_working_crs_zone(lon: float, lat: float, epsg: int) -> None:
    assert crs.working_crs([lon], [lat]).to_epsg() == epsg


def test_configured_crs_wins_and_must_be_metric() -> None:
    assert crs.working_crs([113.9], [30.9], configured="EPSG:32649").to_epsg() == 32649
    with pytest.raises(CRSError, match="地理坐标系"):
        crs.working_crs([113.9], [30.9], configured="EPSG:4326")


def test_guards_raise_on_missing_or_geographic_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(113.9, 30.9)])
    with pytest.raises(CRSError, match="没有坐标参考系"):
        crs.require_crs(gdf)
    with pytest.raises(CRSError, match="EPSG:4326"):
        crs.require_metric("EPSG:4326")
    with pytest.raises(CRSError):
        crs.require_metric(None)
    assert crs.require_metric("EPSG:4547").to_epsg() == 4547


def test_to_working_projects_to_metres() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(113.90, 30.90), Point(113.91, 30.90)], crs=4326)
    out = crs.to_working(gdf)
    assert out.crs.to_epsg() == 4547
    # 0.01 degree of longitude at 30.9N is about 955 m.
    assert out.geometry.iloc[0].distance(out.geometry.iloc[1]) == pytest.approx(955.5, rel=0.01)


def test_to_wgs84_accepts_epsg_and_rejects_unknown() -> None:
    x, y = gpd.GeoSeries([Point(113.92, 30.93)], crs=4326).to_crs(4547).iloc[0].coords[0]
    lon, lat = crs.to_wgs84([x], [y], system="EPSG:4547")
    assert lon[0] == pytest.approx(113.92, abs=1e-8) and lat[0] == pytest.approx(30.93, abs=1e-8)
    with pytest.raises(CRSError, match="未知的坐标系"):
        crs.to_wgs84([1.0], [2.0], system="mars")
