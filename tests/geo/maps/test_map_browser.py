"""Folium maps in headless Chromium, from disk and offline: every legend entry visible on a
laptop, a phone and in the dashboard's map frame (900×460), stacked stops spread so each opens
its own popup, nothing fetched from outside."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from geo.maps.squad import squad_map

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VENDOR = Path(__file__).resolve().parents[3] / "service" / "static" / "vendor"
LON0, LAT0 = 113.915, 30.925
pytestmark = pytest.mark.browser


def _playwright() -> Any:
    import importlib

    sync_playwright: Any
    try:
        sync_playwright = importlib.import_module("playwright.sync_api").sync_playwright
    except ImportError:
        sync_playwright = None
    reason = ("playwright is not installed" if sync_playwright is None else
              f"{CHROMIUM} is missing" if not CHROMIUM.exists() else
              "service/static/vendor is missing" if not (VENDOR / "oms").is_dir() else "")
    if reason:
        if os.environ.get("XUNCHA_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_playwright


def _layers() -> dict[str, gpd.GeoDataFrame]:
    polys = [box(LON0 + i * 0.008, LAT0 + j * 0.007, LON0 + (i + 1) * 0.008, LAT0 + (j + 1) * 0.007)
             for i in range(3) for j in range(3)]
    comm = gpd.GeoDataFrame({"name": [f"社区{k}" for k in range(9)]}, geometry=polys,
                            crs="EPSG:4326")
    same = (LON0 + 0.012, LAT0 + 0.011)  # two teams' stops at the very same place
    r1 = [(LON0 + 0.004, LAT0 + 0.004), same, (LON0 + 0.02, LAT0 + 0.018)]
    r2 = [(LON0 + 0.02, LAT0 + 0.004), same, (LON0 + 0.004, LAT0 + 0.018)]
    routes = gpd.GeoDataFrame({"team": ["shuyuan-1", "shuyuan-2"],
                               "team_name": ["书院一组", "书院二组"]},
                              geometry=[LineString(r1), LineString(r2)], crs="EPSG:4326")
    stops = gpd.GeoDataFrame(
        {"team": ["shuyuan-1"] * 3 + ["shuyuan-2"] * 3,
         "team_name": ["书院一组"] * 3 + ["书院二组"] * 3, "seq": [1, 2, 3, 4, 5, 6],
         "kind": ["热点", "复查", "疏导点", "社区巡查", "热点", "复查"],
         "what": [f"事项{k}" for k in range(1, 7)]},
        geometry=[Point(p) for p in (*r1, *r2)], crs="EPSG:4326")
    hot = gpd.GeoDataFrame({"hotspot_id": ["H1"], "gi_confidence": [99]},
                           geometry=[Point(LON0 + 0.006, LAT0 + 0.006).buffer(0.002)],
                           crs="EPSG:4326")
    forecast = gpd.GeoDataFrame({"cell_id": ["c1", "c2"], "score": [1.0, 2.0], "rank": [2, 1]},
                                geometry=[box(LON0, LAT0, LON0 + .003, LAT0 + .003),
                                          box(LON0 + .003, LAT0, LON0 + .006, LAT0 + .003)],
                                crs="EPSG:4326")
    stations = gpd.GeoDataFrame({"name": ["社区4工作站"]},
                                geometry=[Point(LON0 + 0.013, LAT0 + 0.009)], crs="EPSG:4326")
    reloc = gpd.GeoDataFrame({"site_id": ["R1"]}, geometry=[Point(LON0 + 0.018, LAT0 + 0.01)],
                             crs="EPSG:4326")
    return {"communities": comm, "routes": routes, "stops": stops, "hotspots": hot,
            "forecast": forecast, "stations": stations, "relocation": reloc}


@pytest.fixture(scope="module")
def map_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("map") / "map.html"
    m = squad_map(**_layers(), basemap="none", static_prefix=VENDOR.as_uri(),
                  title="书院中队 巡查地图", data_label="模拟数据")
    m.save(str(out))
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser: Any, url: str, width: int, height: int) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": height})
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_selector(".leaflet-marker-icon .xc-stop")
    page.wait_for_timeout(500)  # let fitBounds settle before anyone taps
    return page, outside


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844), (900, 460)])
def test_every_legend_entry_is_visible(browser: Any, map_file: Path, width: int,
                                       height: int) -> None:
    page, outside = _open(browser, map_file.as_uri(), width, height)
    legend = page.locator("details.xc-legend")
    if not legend.evaluate("d => d.open"):  # folded on a phone: one tap opens it
        page.locator("details.xc-legend summary").click()
    entries = page.locator("details.xc-legend .xc-entry")
    texts = entries.all_inner_texts()
    for needle in ("99%", "不显著", "书院一组", "书院二组", "热点", "社区巡查", "预测得分",
                   "工作站", "疏导点（虚线：步行覆盖范围）"):
        assert any(needle in t for t in texts), needle
    box_l = legend.bounding_box()
    assert box_l is not None
    for i in range(entries.count()):
        b = entries.nth(i).bounding_box()
        assert b is not None and b["height"] > 0, texts[i]
        assert b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, texts[i]
        assert b["y"] >= 0 and b["y"] + b["height"] <= height + 0.5, texts[i]
        # inside the legend box, i.e. not scrolled or clipped away
        top, bottom = box_l["y"], box_l["y"] + box_l["height"]
        assert b["y"] >= top - 0.5 and b["y"] + b["height"] <= bottom + 0.5, texts[i]
        assert b["x"] + b["width"] <= box_l["x"] + box_l["width"] + 0.5, texts[i]
    assert outside == []
    page.close()


def test_stacked_stops_spread_and_open_their_own_popup(browser: Any, map_file: Path) -> None:
    page, outside = _open(browser, map_file.as_uri(), 1366, 768)
    assert page.locator("path.leaflet-interactive").count() >= 9  # overlays drawn offline
    stacked = page.locator(".leaflet-marker-icon:has(.xc-stop)").filter(
        has_text="2").or_(page.locator(".leaflet-marker-icon:has(.xc-stop)").filter(has_text="5"))
    assert stacked.count() == 2
    def centres() -> list[tuple[float, float]]:
        out = []
        for i in range(2):
            b = stacked.nth(i).bounding_box()
            assert b is not None
            out.append((b["x"] + b["width"] / 2, b["y"] + b["height"] / 2))
        return out

    a, b = centres()
    assert abs(a[0] - b[0]) < 1 and abs(a[1] - b[1]) < 1  # on top of each other
    page.mouse.click(*a)  # a person taps the pile
    page.wait_for_timeout(300)
    a, b = centres()
    assert ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5 >= 22  # spread: no overlap
    assert page.locator(".leaflet-overlay-pane path").count() > 9  # with spider legs
    for i in range(2):
        number = stacked.nth(i).inner_text().strip()
        b = stacked.nth(i).bounding_box()  # where it is now (an open popup may pan the map)
        assert b is not None
        page.mouse.click(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
        page.wait_for_timeout(500)  # popups fade in and out
        texts = page.locator(".leaflet-popup-content").all_inner_texts()
        assert len(texts) == 1 and f"第 {number} 站" in texts[0], (number, texts)
        page.locator(".leaflet-popup-close-button").click()  # the popup may cover the other
        page.wait_for_timeout(400)
    assert outside == []
    page.close()
