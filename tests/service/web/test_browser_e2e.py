"""End to end in headless Chromium (Debian's /usr/bin/chromium via Playwright): sign in, open the
squad dashboard, see the map layers drawn by Leaflet (loaded from the service, not a CDN), change a
case's status, print a route sheet — with a case whose description is ``<script>alert(1)</script>``
shown as plain text everywhere.

The service runs with ``basemap="none"`` (an office network without internet): not one request
may leave 127.0.0.1. With the ``osm`` base map the only requests that leave are tile images
(aborted here: the test machine has no internet either).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import browser_support
import pytest
from pages_support import PASSWORD, SECRET, XSS, Site, build_site

from service import pages_data
from service.auth import COOKIE_NAME, create_token

CHROMIUM = browser_support.CHROMIUM
_need_browser = browser_support.playwright_or_skip
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}", basemap="none")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


_POPUPS_JS = """() => {
  const maps = Object.values(window).filter(v => v instanceof L.Map);
  const out = [];
  maps.forEach(m => m.eachLayer(l => {
    const p = l.getPopup && l.getPopup();
    if (!p) return;
    const c = p.getContent();
    out.push(typeof c === 'string' ? c : (c && c.outerHTML) || '');
  }));
  return out;
}"""


BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _leaving(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The recorded ``(url, resource type)`` requests addressed to another host than 127.0.0.1."""
    return [(u, kind) for u, kind in requests if urlsplit(u).hostname != "127.0.0.1"
            and not u.startswith(("data:", "about:", "blob:"))]


def test_dashboard_end_to_end(server: tuple[str, Site]) -> None:
    sync_playwright = _need_browser()
    base, site = server
    assert site.app.state.settings.basemap == "none"
    requests: list[tuple[str, str]] = []
    page_requests: list[tuple[str, str]] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", browser_support.offline)
        # every request of the dashboard page, and of every page the context opens (the sheet)
        context.on("request", lambda r: requests.append((r.url, r.resource_type)))
        page = context.new_page()
        page.on("request", lambda r: page_requests.append((r.url, r.resource_type)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # sign in
        page.goto(f"{base}/squad/shuyuan")
        assert "/login" in page.url
        page.fill("input[name=username]", "leader_sy")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/squad/shuyuan", timeout=20000)
        assert page.locator("h1").inner_text().startswith("书院中队")

        # the script description is plain text in the case table
        assert page.locator("#case-SYX td.desc").inner_text() == XSS

        # the map: Leaflet from /static draws community polygons, routes, hotspot paths
        frame = page.frame_locator("#squad-map")
        frame.locator(".leaflet-overlay-pane path").first.wait_for(timeout=20000)
        assert frame.locator(".leaflet-overlay-pane path").count() >= 10
        assert frame.locator(".leaflet-marker-pane .xc-stop").count() > 0
        map_frame = next(f for f in page.frames if "/maps/shuyuan" in f.url)
        popups = map_frame.evaluate(_POPUPS_JS)
        assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in h for h in popups), popups[:3]
        assert not any(XSS in h for h in popups)

        # change a case's status with its button
        page.locator("#case-SY1 button[value='立案']").click()
        page.wait_for_load_state()
        assert page.locator("#case-SY1 td.status").inner_text() == "立案"
        assert "已改为" in page.locator(".flash").inner_text()

        # print a team's route sheet: the button opens the print page
        with context.expect_page() as popup_info:
            page.locator("a.print-team").first.click()
        sheet = popup_info.value
        sheet.wait_for_load_state()
        assert "/sheet.html?team=" in sheet.url and "路线单" in sheet.title()
        resp = context.request.get(f"{base}/api/plans/shuyuan/{site.today}/sheet.pdf")
        assert resp.status == 200 and resp.body().startswith(b"%PDF")
        everyone = context.request.get(f"{base}/api/plans/shuyuan/{site.today}/sheet.html")
        assert everyone.status == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everyone.text()
        browser.close()

    assert dialogs == [], "a script from data ran"
    assert len(page_requests) > 20 and any("/maps/shuyuan" in u for u, _k in page_requests)
    assert any("/sheet.html" in u for u, _k in requests)  # the sheet page was recorded too
    assert _leaving(page_requests) == [] and _leaving(requests) == []  # nothing leaves
    local_code = [u for u, kind in requests if kind in ("script", "stylesheet", "font")]
    assert any("/static/vendor/leaflet/leaflet.js" in u for u in local_code)


def test_osm_base_map_only_fetches_tile_images(server: tuple[str, Site]) -> None:
    sync_playwright = _need_browser()
    base, site = server
    settings = site.app.state.settings
    site.app.state.settings = settings.model_copy(update={"basemap": "osm"})
    pages_data.CACHE.clear()  # rendered maps are cached without the base map in the key
    requests: list[tuple[str, str]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            context = browser.new_context(viewport={"width": 1024, "height": 768})
            token = create_token(site.principals["leader_sy"], key=SECRET, ttl_minutes=30)
            context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
            context.route("**/*", browser_support.offline)
            page = context.new_page()
            page.on("request", lambda r: requests.append((r.url, r.resource_type)))
            page.goto(f"{base}/maps/shuyuan?date={site.today}")
            page.locator(".leaflet-overlay-pane path").first.wait_for(timeout=20000)
            page.wait_for_function("document.querySelectorAll('.leaflet-tile').length > 0",
                                   timeout=20000)
            browser.close()
    finally:
        site.app.state.settings = settings
        pages_data.CACHE.clear()
    remote = _leaving(requests)
    assert remote, "an OSM map requests tiles"
    assert all(kind == "image" for _u, kind in remote), remote  # only base-map tiles
    assert all(urlsplit(u).hostname.endswith("tile.openstreetmap.org")  # type: ignore[union-attr]
               for u, _k in remote), remote
    assert all(urlsplit(u).path.endswith(".png") for u, _k in remote)


def test_pages_fit_a_phone(server: tuple[str, Site]) -> None:
    """At 390×844 no page scrolls sideways, open cases are cards, and the embedded map starts
    with its layer list and legend folded (the map stays visible)."""
    sync_playwright = _need_browser()
    base, site = server
    widths: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        for user, path in ((None, "/login"), ("leader_sy", "/squad/shuyuan"),
                           ("planner", "/planner"), ("admin", "/admin")):
            context = browser.new_context(viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)
            context.route("**/*", browser_support.offline)
            if user:
                token = create_token(site.principals[user], key=SECRET, ttl_minutes=30)
                context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
            page = context.new_page()
            page.goto(base + path)
            widths[path] = page.evaluate("document.documentElement.scrollWidth")
            if path.startswith("/squad"):
                assert not page.locator("table.cases thead").is_visible()
                row = page.locator("#case-SY2")
                assert row.locator("td.desc").bounding_box()["width"] > 250  # type: ignore[index]
                button = row.locator("button[value='作废']").bounding_box()
                assert button and button["height"] >= 36  # a finger-sized target
                frame = page.frame_locator("#squad-map")
                frame.locator(".leaflet-control-layers-toggle").wait_for(timeout=20000)
                assert frame.locator(".leaflet-control-layers-expanded").count() == 0
                assert frame.locator("details.xc-legend:not([open])").count() == 1
            context.close()
        browser.close()
    assert widths == {path: 390 for path in widths}, widths
