"""A squad map holding more cases than :data:`service.tiles.TILES_FROM` draws them from vector
tiles in headless Chromium: the page asks ``/tiles/cases/…mvt`` (Leaflet.VectorGrid from
``/static/vendor``), paints the points on canvas tiles, and nothing leaves 127.0.0.1. Below the
threshold the same map carries the points in the page and asks no tile.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import browser_support
import numpy as np
import pandas as pd
import pytest
import shapely
from pages_support import SECRET, TZ, Site, build_site

from service import pages_data
from service.auth import COOKIE_NAME, create_token
from service.importer import import_table
from service.tiles import TILES_FROM

pytestmark = pytest.mark.browser
N_MANY = TILES_FROM + 400

# red (open case) pixels painted on the vector-grid canvases
_RED_PIXELS_JS = """() => {
  let red = 0;
  document.querySelectorAll('.leaflet-tile-container canvas, canvas.leaflet-tile').forEach(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] > 150 && d[i + 1] < 80 && d[i + 2] < 80 && d[i + 3] > 100) red++;
    }
  });
  return red;
}"""


def _simulated_cases(site: Site, n: int) -> pd.DataFrame:
    """``n`` open cases (simulated) at random points inside 书院's communities, last 20 days."""
    comm = site.storage.communities(squads=("shuyuan",))
    rng = np.random.default_rng(11)
    area = shapely.union_all(comm.geometry.to_numpy())
    x0, y0, x1, y1 = area.bounds
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        xs, ys = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
        inside = shapely.contains_xy(area, xs, ys)
        pts += list(zip(xs[inside], ys[inside], strict=True))
    now = datetime.now(ZoneInfo(TZ))
    return pd.DataFrame([{
        "case_id": f"MANY{i:05d}", "category": "09006", "description": "模拟数据",
        "reported_at": (now - timedelta(days=1 + i % 20, minutes=i)).strftime("%Y-%m-%d %H:%M"),
        "lon": f"{x:.6f}", "lat": f"{y:.6f}"} for i, (x, y) in enumerate(pts[:n])])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('tiles') / 'tiles.db'}",
                      basemap="none")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


def _open_map(base: str, site: Site) -> tuple[list[str], int, list[str]]:
    """Open 书院's map; the URLs requested, the red pixels painted and the layer names."""
    sync_playwright = browser_support.playwright_or_skip()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(browser_support.CHROMIUM),
                                    args=browser_support.ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        token = create_token(site.principals["leader_sy"], key=SECRET, ttl_minutes=30)
        context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
        context.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname
                      == "127.0.0.1" else r.abort())
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/maps/shuyuan?date={site.today}", timeout=120000)
        page.locator(".leaflet-overlay-pane path").first.wait_for(timeout=60000)
        red = 0
        if any(".mvt" in u for u in requests):
            page.wait_for_function(f"({_RED_PIXELS_JS})() > 50", timeout=30000)
            red = page.evaluate(_RED_PIXELS_JS)
        names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        browser.close()
    return requests, red, names


def test_few_cases_stay_in_the_page(server: tuple[str, Site]) -> None:
    base, site = server
    requests, _red, names = _open_map(base, site)
    assert not any("/tiles/cases/" in u for u in requests)
    assert any("案件热力" in n for n in names), names


def test_many_cases_come_as_vector_tiles(server: tuple[str, Site]) -> None:
    base, site = server
    report = import_table(site.storage, _simulated_cases(site, N_MANY), filename="many.csv")
    assert report.inserted == N_MANY and not report.problems, report.problems[:3]
    pages_data.CACHE.clear()
    requests, red, names = _open_map(base, site)
    tiles = [u for u in requests if "/tiles/cases/" in u]
    assert tiles and all(urlsplit(u).path.endswith(".mvt") for u in tiles)
    assert all("squad=shuyuan" in u and "precise=true" in u for u in tiles)
    assert any("/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in u
               for u in requests)
    assert red > 50  # the open cases are painted
    assert any("矢量瓦片" in n for n in names) and not any("案件热力" in n for n in names)
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in requests
               if not u.startswith(("data:", "blob:", "about:")))
