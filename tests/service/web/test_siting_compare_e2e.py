"""The planner's 3 vs 5 points side by side, in headless Chromium on a 1366 px desktop and a
390 px phone, with no request leaving 127.0.0.1.

On the desktop the planner fills the form (书院, 400 m, 并排比较 3 and 5 points) and submits: the
job page shows 计算中 and the step while the computation is held, polls the job and opens the
comparison by itself when it is done. On the phone a job that cannot succeed (新华 has no stall
case) says why, and the planner picks the two stored scenarios in the planner page's comparison
form. Both times the comparison shows
the table (covered share of each scenario as stored), each scenario's named sites (3 and 5 rows)
and one map with both site sets (3 blue and 5 orange numbered markers inside the map).
Screenshots go to ``$XUNCHA_TEST_ARTIFACTS/siting-compare`` or a pytest tmp folder (printed).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import browser_support
import pytest
from pages_support import SECRET, Site, build_site

from geo.maps.siting import COMPARE_COLOURS
from service import scenarios
from service.auth import COOKIE_NAME, create_token

CHROMIUM = browser_support.CHROMIUM
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
pytestmark = pytest.mark.browser

_MARKERS_JS = """() => {
  const map = document.querySelector('.folium-map').getBoundingClientRect();
  const out = {};
  document.querySelectorAll('.xc-reloc').forEach(el => {
    const r = el.getBoundingClientRect();
    const inside = r.width > 0 && r.left >= map.left - 1 && r.right <= map.right + 1
      && r.top >= map.top - 1 && r.bottom <= map.bottom + 1;
    const c = getComputedStyle(el).backgroundColor;
    out[c] = out[c] || {all: 0, inside: 0};
    out[c].all += 1;
    if (inside) out[c].inside += 1;
  });
  return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('compare') / 'c.db'}",
                      basemap="none")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``$XUNCHA_TEST_ARTIFACTS/siting-compare`` if set, else tmp."""
    return browser_support.screenshot_dir(tmp_path_factory, "siting-compare")


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


def _check_comparison(page: Any, site: Site, view: str) -> None:
    """The comparison page shows the table, both site lists and both site sets on the map."""
    query = parse_qs(urlsplit(page.url).query)
    a, b = int(query["a"][0]), int(query["b"][0])
    pair = [scenarios.get_scenario(site.storage, i) for i in (a, b)]
    assert [sc["summary"]["sites"] for sc in pair] == [3, 5]
    table = page.locator("#compare-table")
    table.wait_for(state="visible")
    head = table.locator("thead").inner_text()
    assert f"3 个点（方案 {a}）" in head and f"5 个点（方案 {b}）" in head
    share_row = table.locator("tr", has_text="覆盖需求占比").inner_text()
    for sc in pair:
        assert f"{sc['summary']['covered_share'] * 100:.1f}%" in share_row
    for k, sc in enumerate(pair):
        rows = page.locator(f"#sites-{k} tr.siting-site")
        assert rows.count() == len(sc["sites"]["features"])
        for j, f in enumerate(sc["sites"]["features"]):
            cell = rows.nth(j).locator("td.site-name")
            cell.scroll_into_view_if_needed()
            assert cell.is_visible() and cell.inner_text() == f["properties"]["site_name"]
    frame = page.frame_locator("#compare-map")
    frame.locator(".xc-reloc").nth(7).wait_for(state="attached", timeout=20000)
    page.locator("#compare-map").scroll_into_view_if_needed()
    markers = page.frame(url=re.compile(r"/maps/siting/compare")).evaluate(_MARKERS_JS)
    blue, orange = _rgb(COMPARE_COLOURS[0]), _rgb(COMPARE_COLOURS[1])
    assert markers.get(blue) == {"all": 3, "inside": 3}, markers
    assert markers.get(orange) == {"all": 5, "inside": 5}, markers
    legend = frame.locator(".xc-legend").text_content() or ""  # folded on small maps
    assert f"3 个点（方案 {a}）的疏导点" in legend and f"5 个点（方案 {b}）的疏导点" in legend
    if view == "phone":  # no page-wide sideways scroll on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _context(browser: Any, base: str, site: Site, view: str) -> Any:
    phone = view == "phone"
    ctx = browser.new_context(viewport=VIEWPORTS[view], is_mobile=phone, has_touch=phone)
    ctx.route("**/*", browser_support.offline)
    token = create_token(site.principals["planner"], key=SECRET, ttl_minutes=30)
    ctx.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
    return ctx


def _submit_compare(page: Any) -> None:
    """Fill the planner's form: 书院, 400 m, 3 and 5 points side by side; submit."""
    form = page.locator("form.siting-form")
    form.locator("input[name=name]").fill("书院对比")
    form.locator("input[name=radius_m]").fill("400")
    form.locator("input[name=squads][value=shuyuan]").check()
    form.locator("input[name=compare]").check()
    form.locator("input[name=compare_a]").fill("3")
    form.locator("input[name=compare_b]").fill("5")
    form.locator("button[type=submit]").click()


def _desktop(page: Any, base: str, shots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submit 3 vs 5 while the computation is held: the job page shows 计算中 and its step, then
    opens the comparison by itself once the job is done."""
    gate = threading.Event()
    real = scenarios.run_scenario

    def held(*args: Any, **kw: Any) -> dict[str, Any]:
        kw["progress"](0.05, "读取案件")  # the first step is reported, then the job waits
        gate.wait(timeout=60)
        return real(*args, **kw)

    monkeypatch.setattr(scenarios, "run_scenario", held)
    try:
        page.goto(f"{base}/planner")
        _submit_compare(page)
        page.wait_for_url(re.compile(r"/siting/jobs/\d+$"))
        page.wait_for_function(
            "document.getElementById('job-phase').textContent.includes('第 1/2 个方案：3 个点')",
            timeout=15000)
        assert page.locator("#job-status").inner_text() == "计算中"
        assert page.locator("#siting-job").get_attribute("data-status") == "running"
        assert page.locator("#job-phase").inner_text() == "读取案件（第 1/2 个方案：3 个点）"
        page.screenshot(path=str(shots / "desktop-job-running.png"), full_page=True)
    finally:
        gate.set()
    # served while running, the page finds the job done only by polling it, then goes on by itself
    page.wait_for_url(re.compile(r"/siting/compare\?a=\d+&b=\d+"), timeout=60000)


def _phone(page: Any, base: str, shots: Path) -> None:
    """A job that cannot succeed says why; then pick the two stored scenarios to compare."""
    page.goto(f"{base}/planner")
    form = page.locator("form.siting-form")
    form.locator("input[name=squads][value=xinhua]").check()  # 新华 has no stall case
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/siting/jobs/\d+$"))
    error = page.locator("#job-error")
    error.wait_for(state="visible", timeout=30000)
    assert "计算失败" in error.inner_text() and "摊贩类案件" in error.inner_text()
    assert page.locator("#job-status").inner_text() == "失败"
    page.screenshot(path=str(shots / "phone-job-failed.png"), full_page=True)
    page.goto(f"{base}/planner")
    form = page.locator("#compare-form")
    form.scroll_into_view_if_needed()
    options = form.locator("select[name=a] option").all_inner_texts()
    three = next(o for o in options if o.endswith("书院对比 · 3 个点"))
    five = next(o for o in options if o.endswith("书院对比 · 5 个点"))
    form.locator("select[name=a]").select_option(label=three)
    form.locator("select[name=b]").select_option(label=five)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/siting/compare\?a=\d+&b=\d+"))


def test_planner_compares_three_and_five_points(server: tuple[str, Site], shots: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sync_playwright = browser_support.playwright_or_skip()
    base, site = server
    leaving: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=browser_support.ARGS)
        for view in ("desktop", "phone"):
            ctx = _context(browser, base, site, view)
            ctx.on("request", lambda r: leaving.append(r.url)
                   if urlsplit(r.url).hostname != "127.0.0.1"
                   and not r.url.startswith(("data:", "about:", "blob:")) else None)
            page = ctx.new_page()
            if view == "desktop":
                _desktop(page, base, shots, monkeypatch)
            else:
                _phone(page, base, shots)
            _check_comparison(page, site, view)
            page.screenshot(path=str(shots / f"{view}-compare.png"), full_page=True)
            ctx.close()
        browser.close()
    assert leaving == []
