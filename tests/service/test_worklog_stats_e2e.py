"""In headless Chromium: the work-log form refused for an empty required field shows the error
with the typed values kept, then saves once completed; the statistics page at 1366 px and 390 px
(screenshots kept under pytest's tmp dir) draws its charts without a page-wide horizontal scroll
and without one request leaving 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import browser_support
import pytest
from pages_support import PASSWORD, Site, build_site

CHROMIUM = browser_support.CHROMIUM
_playwright = browser_support.playwright_or_skip
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('wl_e2e') / 'e2e.db'}",
                      basemap="none")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _page(browser: Any, base: str, width: int, outside: list[str]) -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    page.on("request", lambda r: outside.append(r.url)
            if urlsplit(r.url).hostname not in ("127.0.0.1", None) and
            not r.url.startswith(("data:", "blob:", "about:")) else None)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "leader_sy")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/squad/shuyuan**")
    return page


def test_empty_required_field_keeps_the_typed_values(server: tuple[str, Site],
                                                     browser: Any) -> None:
    base, _site = server
    outside: list[str] = []
    page = _page(browser, base, 1366, outside)
    form = page.locator("form.log-form")
    form.locator("input[name=place]").fill("西大市场北门")
    form.locator("textarea[name=action]").fill("劝导摊贩进入疏导点")
    form.locator("select[name=outcome]").select_option("耐心解释")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    error = page.locator("#err-problem")
    assert error.is_visible() and "必填" in error.inner_text()
    assert "日志未保存" in page.locator(".log-error").inner_text()
    form = page.locator("form.log-form")
    assert form.locator("input[name=place]").input_value() == "西大市场北门"
    assert form.locator("textarea[name=action]").input_value() == "劝导摊贩进入疏导点"
    assert form.locator("select[name=outcome]").input_value() == "耐心解释"
    assert form.locator("textarea[name=problem]").get_attribute("aria-invalid") == "true"
    # completing the missing field saves the entry
    form.locator("textarea[name=problem]").fill("早市摊贩占道")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "工作日志已保存" in page.locator(".flash").first.inner_text()
    assert "早市摊贩占道" in page.locator("table.logs").inner_text()
    assert outside == []
    page.context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_stats_page_at_desktop_and_phone_width(server: tuple[str, Site], browser: Any,
                                               width: int, tmp_path: Path) -> None:
    base, _site = server
    outside: list[str] = []
    page = _page(browser, base, width, outside)
    page.goto(f"{base}/stats")
    assert page.locator("h1").inner_text() == "考核统计"
    charts = page.locator("#charts svg")
    assert charts.count() >= 2 and charts.first.is_visible()
    assert charts.first.locator("rect").count() >= 1
    assert page.locator("#coverage .note").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px at {width}px"
    shot = tmp_path / f"stats_{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    xlsx = page.locator("a", has_text="下载 XLSX").get_attribute("href")
    assert xlsx and xlsx.startswith("/api/stats.xlsx?")
    assert outside == []
    page.context.close()
