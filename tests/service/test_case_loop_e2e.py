"""The case loop in headless Chromium, on a 1366 px desktop and a 390 px phone.

A squad leader filters the dashboard's case list (in place), exports exactly what is filtered,
opens a case, 立案, 派遣 to a team with a note and a photo, 开始处置, 提交核查, tries 退回处置
without a note (refused on the page, nothing sent), closes it (核查通过，结案): every step updates
the page in place (the window marker survives, one navigation entry) and the history shows each
step. An officer records a 巡查发现 case at the phone's (mocked) location, drags the pin, and
the case appears in the list. Screenshots go to ``$XUNCHA_TEST_ARTIFACTS/case-loop`` or a pytest tmp folder (printed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import browser_support
import pytest
from pages_support import SECRET, Site, _point, build_site
from PIL import Image

from service.auth import COOKIE_NAME, create_token

CHROMIUM = browser_support.CHROMIUM
_playwright = browser_support.playwright_or_skip
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('loop') / 'loop.db'}", basemap="none")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``$XUNCHA_TEST_ARTIFACTS/case-loop`` if set, else a tmp dir."""
    return browser_support.screenshot_dir(tmp_path_factory, "case-loop")


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="PNG")
    return buf.getvalue()


def _context(browser: Any, base: str, site: Site, user: str, view: str, **kw: Any) -> Any:
    phone = view == "phone"
    ctx = browser.new_context(viewport=VIEWPORTS[view], is_mobile=phone, has_touch=phone, **kw)
    ctx.route("**/*", browser_support.offline)
    token = create_token(site.principals[user], key=SECRET, ttl_minutes=30)
    ctx.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
    return ctx


def _wait_status(page: Any, status: str) -> None:
    page.wait_for_function(
        "s => { const el = document.querySelector('.case-status'); return el && el.dataset.status === s; }",
        arg=status, timeout=15000)


@pytest.mark.parametrize("view,case_id,how", [("desktop", "SY1", "category"),
                                              ("phone", "SYX", "search")])
def test_leader_works_a_case_in_place(server: tuple[str, Site], shots: Path, view: str,
                                      case_id: str, how: str) -> None:
    base, site = server
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        ctx = _context(browser, base, site, "leader_sy", view)
        page = ctx.new_page()
        page.goto(f"{base}/squad/shuyuan#cases")
        page.wait_for_function("window.xcCasesReady === true")
        page.evaluate("window.__marker = 'dashboard'")
        # filter in place: by category on the desktop, by searching the case number on the phone
        if how == "category":
            page.select_option("#case-filters select[name=category]", "06028")
        else:
            page.fill("#case-filters input[name=q]", case_id.lower())
            page.locator("#case-filters button[type=submit]").click()
        page.wait_for_function(
            "id => document.querySelectorAll('#case-list tbody tr[data-case]').length === 1 && "
            "!!document.getElementById('case-' + id)", arg=case_id, timeout=15000)
        assert page.evaluate("window.__marker") == "dashboard"  # no reload
        assert ("category=06028" if how == "category" else "q=syx") in page.url
        href = page.locator("#export-csv").get_attribute("href") or ""
        exported = ctx.request.get(base + href)
        assert exported.status == 200
        rows = list(csv.reader(io.StringIO(exported.text().lstrip("\ufeff"))))
        assert [r[0] for r in rows[1:]] == [case_id]  # exactly what is filtered
        xlsx = ctx.request.get(base + (page.locator("#export-xlsx").get_attribute("href") or ""))
        assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
        if view == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") == 390
        page.screenshot(path=str(shots / f"{view}-1-filtered.png"), full_page=True)

        # open the case
        page.locator(f"#case-{case_id} a.case-link").click()
        page.wait_for_url(lambda u: urlsplit(u).path == f"/cases/{case_id}")
        page.wait_for_function("window.xcCasesReady === true")
        page.locator("#case-map .leaflet-marker-pane, #case-map .leaflet-overlay-pane path").first.wait_for()
        page.evaluate("window.__marker = 'case'")
        url = page.url
        page.locator("#step-form button[value='立案']").click()
        _wait_status(page, "立案")
        # 派遣 to a team with a note and a photo
        team = page.locator("#step-assignee optgroup[label='巡查组'] option").first
        team_name = team.inner_text()
        page.select_option("#step-assignee", team.get_attribute("value"))
        page.fill("#step-note-text", "请今天上午到场处理")
        page.set_input_files("#step-photos", files=[
            {"name": "scene.png", "mimeType": "image/png", "buffer": _png("orange")}])
        page.locator("#step-form button[value='派遣']").click()
        _wait_status(page, "派遣")
        assert team_name in page.locator(".assignee").inner_text()
        thumb = page.locator(".case-facts .thumbs img").first
        thumb.wait_for()
        page.wait_for_function("() => { const i = document.querySelector('.case-facts .thumbs img');"
                               " return i && i.complete && i.naturalWidth === 64; }")
        page.locator("#step-form button:has-text('开始处置')").click()
        _wait_status(page, "处置")
        page.locator("#step-form button:has-text('提交核查')").click()
        _wait_status(page, "核查")
        # 退回处置 says what it does and needs a note: refused on the page, nothing changes
        back = page.locator("#step-form button[value='处置']")
        assert back.inner_text() == "退回处置"
        back.click()
        assert "必须填写说明" in page.locator(".step-error").inner_text()
        assert page.locator(".case-status").get_attribute("data-status") == "核查"
        page.locator("#step-form button:has-text('核查通过，结案')").click()
        _wait_status(page, "结案")
        assert page.locator("#step-form").count() == 0  # a closed case has no next step

        # in place all along: the same document, the same address, one navigation
        assert page.evaluate("window.__marker") == "case" and page.url == url
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        steps = page.locator("ol.history li .step-head b").all_inner_texts()
        assert steps == ["上报", "立案", "派遣", "开始处置", "提交核查", "核查通过，结案"]
        dispatched = page.locator("ol.history li").nth(2)
        assert "请今天上午到场处理" in dispatched.inner_text()
        assert team_name in dispatched.inner_text() and "leader_sy" in dispatched.inner_text()
        assert dispatched.locator("img").count() == 1
        if view == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") == 390
        page.screenshot(path=str(shots / f"{view}-2-closed.png"), full_page=True)

        # back to the list, with its filters kept
        page.locator("#back-to-list").click()
        page.wait_for_url(lambda u: urlsplit(u).path == "/squad/shuyuan")
        if how == "category":
            assert page.locator("#case-filters select[name=category]").input_value() == "06028"
        else:
            assert page.locator("#case-filters input[name=q]").input_value() == "syx"
        ctx.close()
        browser.close()
    props = site.storage.get_case(case_id)
    assert props is not None and props["status"] == "结案"


def _drag(page: Any, ctx: Any, x: float, y: float, *, touch: bool) -> None:
    """Drag from (x, y) by (15, 10) px: with the mouse, or with a finger (CDP touch events)."""
    if not touch:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 15, y + 10, steps=6)
        page.mouse.up()
        return
    cdp = ctx.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 7):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x + 15 * i / 6, "y": y + 10 * i / 6}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("view", ["phone", "desktop"])
def test_officer_records_a_patrol_finding(server: tuple[str, Site], shots: Path,
                                          view: str) -> None:
    base, site = server
    lon, lat = _point(site.storage, "shuyuan", 4 if view == "phone" else 6)
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        ctx = _context(browser, base, site, "officer_sy", view,
                       geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"])
        page = ctx.new_page()
        page.goto(f"{base}/squad/shuyuan")
        page.wait_for_function("window.xcCasesReady === true")
        page.evaluate("window.__marker = 'found'")
        page.locator("#found-locate").click()
        page.wait_for_function("() => document.getElementById('found-lat').value !== ''")
        assert float(page.input_value("#found-lat")) == pytest.approx(lat, abs=1e-6)
        assert float(page.input_value("#found-lon")) == pytest.approx(lon, abs=1e-6)
        # the pin can be dragged to correct the position
        pin = page.locator("#found-map .leaflet-marker-icon")
        pin.scroll_into_view_if_needed()
        box = pin.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        _drag(page, ctx, x, y, touch=view == "phone")
        page.wait_for_function("lon => Math.abs(Number(document.getElementById('found-lon').value)"
                               " - lon) > 1e-6", arg=lon)
        assert "已修正位置" in page.locator("#found-where").inner_text()
        page.locator("#found-locate").click()  # back to the exact mocked position
        page.wait_for_function("lon => Math.abs(Number(document.getElementById('found-lon').value)"
                               " - lon) < 1e-6", arg=lon)
        page.select_option("#found-form select[name=category]", "09006")
        page.fill("#found-form input[name=address]", f"{view} 路口")
        page.fill("#found-form textarea[name=description]", f"巡查发现：早市摊贩占道（{view}）")
        page.set_input_files("#found-form input[name=photos]", files=[
            {"name": "found.png", "mimeType": "image/png", "buffer": _png("green")}])
        page.locator("#found-form button[type=submit]").click()
        page.wait_for_function("() => /已记录巡查发现案件/.test((document.querySelector('.flash')"
                               " || {}).textContent || '')", timeout=15000)
        case_id = page.locator(".flash").inner_text().split("案件 ")[1].split("，")[0]
        row = page.locator(f"#case-{case_id}")
        row.wait_for()
        assert "巡查发现" in row.inner_text() and f"{view} 路口" in row.inner_text()
        assert page.evaluate("window.__marker") == "found"  # recorded in place
        if view == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") == 390
        page.screenshot(path=str(shots / f"{view}-3-found.png"), full_page=True)
        ctx.close()
        browser.close()
    stored = site.storage.get_case(case_id)
    assert stored is not None
    assert (stored["source"], stored["status"], stored["squad"]) == ("巡查发现", "上报", "shuyuan")
    assert stored["lon"] == pytest.approx(lon, abs=1e-6) and stored["lat"] == pytest.approx(lat, abs=1e-6)
    assert [h["actor"] for h in stored["history"]] == ["officer_sy"]
