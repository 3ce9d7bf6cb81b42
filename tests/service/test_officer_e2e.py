"""The officer's view end to end in headless Chromium, at 390 px (phone) and 1366 px (desk).

An officer of 书院一组 opens /route on the phone → confirms two stops (time and the phone's
position, granted to the browser) → opens a 巡查发现 case from the second stop; the leader's
dashboard shows 2 done for the team; an admin re-plans at a given clock time (10:00 of the plan
day) → the officer's route lists no planned stop before 10:00, and the two confirmed stops stay
done. Screenshots of every step are written under pytest's tmp dir (test artefacts).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import browser_support
import pytest
from pages_support import PASSWORD, SECRET, TZ, Site, build_site

from service import pages_data
from service.auth import COOKIE_NAME, create_token, create_user
from service.visits import list_visits, set_user_team

CHROMIUM = browser_support.CHROMIUM
_playwright = browser_support.playwright_or_skip
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
HERE = {"latitude": 30.9256, "longitude": 113.9131}
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Site]]:
    site = build_site(f"sqlite:///{tmp_path_factory.mktemp('officer') / 'e2e.db'}",
                      basemap="none")
    site.principals["officer_t1"] = create_user(site.storage, "officer_t1", PASSWORD,
                                                role="officer", squad="shuyuan")
    set_user_team(site.storage, "officer_t1", "shuyuan-1")
    with browser_support.serve(site.app) as base:
        yield base, site
    site.storage.engine.dispose()


def _context(browser: Any, base: str, site: Site, user: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, geolocation=HERE,
                                  permissions=["geolocation"], locale="zh-CN")
    token = create_token(site.principals[user], key=SECRET, ttl_minutes=30)
    context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": base}])
    context.route("**/*", browser_support.offline)
    return context


def _times(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_officer_route_confirm_case_progress_and_replan(server: tuple[str, Site],
                                                        tmp_path: Path) -> None:
    sync_playwright = _playwright()
    base, site = server
    squad = pages_data.visible_squad(site.storage, site.principals["admin"], "shuyuan")
    day = date.fromisoformat(site.today)
    plan = pages_data.get_plan(site.storage, site.app.state.settings, squad, day)
    mine = next(r for r in plan["routes"] if r["team"] == "shuyuan-1")["visits"]
    assert len(mine) >= 2
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)

        # the officer on the phone: open the route
        phone = _context(browser, base, site, "officer_t1", PHONE)
        page = phone.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/route")
        assert page.locator("h1").inner_text().startswith("书院一组")
        assert page.locator("li.stop").count() == len(mine)
        assert page.locator("li.stop .what").first.inner_text() == mine[0]["what"]
        # the page fits the phone: no horizontal scrolling, three buttons per stop in reach
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = page.locator("#stop-1 .stop-actions button.case-toggle").bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        page.screenshot(path=str(tmp_path / "officer-390-route.png"), full_page=True)

        # confirm two stops (time and the phone's position)
        for seq in (1, 2):
            page.click(f"#stop-{seq} button.arrive")
            page.locator(f"#stop-{seq}.done").wait_for(timeout=15000)
            assert "已到达" in page.locator(f"#stop-{seq} .state").inner_text()
        assert page.locator("#n-done").inner_text() == "2"
        done = list_visits(site.storage, "shuyuan", day, tz=TZ)
        assert [v["stop_id"] for v in done] == [mine[0]["stop_id"], mine[1]["stop_id"]]
        assert all(v["officer"] == "officer_t1" and v["team"] == "shuyuan-1" for v in done)
        assert done[0]["lon"] == pytest.approx(HERE["longitude"])
        assert done[0]["lat"] == pytest.approx(HERE["latitude"])

        # a 巡查发现 case from the second stop (at the stop's position)
        page.click("#stop-2 button.case-toggle")
        form = page.locator("#stop-2 form.open-case")
        form.locator("select[name=category]").select_option(index=1)
        form.locator("textarea[name=description]").fill("门前堆放杂物")
        form.locator("button[type=submit]").click()
        link = page.locator("#stop-2 .opened-case a")
        link.wait_for(timeout=15000)
        case_id = link.inner_text().removeprefix("已开案件 ").strip()
        page.screenshot(path=str(tmp_path / "officer-390-confirmed.png"), full_page=True)
        token = create_token(site.principals["leader_sy"], key=SECRET, ttl_minutes=5)
        got = phone.request.get(f"{base}/api/cases/{case_id}",
                                headers={"Authorization": f"Bearer {token}"})
        assert got.ok, got.text()
        props = got.json()["properties"]
        assert props["source"] == "巡查发现" and props["description"] == "门前堆放杂物"
        lon, lat = got.json()["geometry"]["coordinates"][:2]
        assert (lon, lat) == (pytest.approx(mine[1]["lon"], abs=1e-6),
                              pytest.approx(mine[1]["lat"], abs=1e-6))

        # the leader at the desk: planned vs done per team
        desk = _context(browser, base, site, "leader_sy", DESK)
        dash = desk.new_page()
        dash.on("pageerror", lambda e: errors.append(str(e)))
        dash.goto(f"{base}/squad/shuyuan")
        dash.locator("#progress[data-loaded='1']").wait_for(timeout=15000)
        row = dash.locator("#progress tr[data-team='shuyuan-1']")
        assert row.locator("td.done").inner_text() == "2"
        assert row.locator("td.planned").inner_text() == str(len(mine))
        assert dash.locator("#progress tr[data-team='shuyuan-2'] td.done").inner_text() == "0"
        dash.locator("#progress").screenshot(path=str(tmp_path / "leader-1366-progress.png"))
        assert dash.locator("form.replan").get_attribute("action") == "/squad/shuyuan/replan-now"

        # re-plan at a given clock time (admins may give it: rehearsals, tests)
        at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZoneInfo(TZ))
        admin = create_token(site.principals["admin"], key=SECRET, ttl_minutes=5)
        r = desk.request.post(f"{base}/api/plans/shuyuan/{site.today}/replan",
                              data={"unavailable_teams": ["shuyuan-3"], "at": at.isoformat()},
                              headers={"Authorization": f"Bearer {admin}"})
        assert r.ok, r.text()
        replanned = r.json()
        assert replanned["changes"][0].startswith("书院一组：已完成 2 站")
        confirmed = {mine[0]["stop_id"], mine[1]["stop_id"]}
        rest = [v for x in replanned["routes"] for v in x["visits"] if v["stop_id"] not in confirmed]
        assert rest and all(datetime.fromisoformat(v["arrive"]) >= at for v in rest)
        team1 = next(x for x in replanned["routes"] if x["team"] == "shuyuan-1")["visits"][2:]

        # the officer's route now: the two confirmed stops first, nothing planned before 10:00
        for viewport, name in ((PHONE, "390"), (DESK, "1366")):
            page.set_viewport_size(viewport)
            page.goto(f"{base}/route")
            assert page.locator("li.stop.done").count() == 2
            assert page.locator("#stop-1").get_attribute("data-stop") == mine[0]["stop_id"]
            assert page.locator("#stop-2").get_attribute("data-stop") == mine[1]["stop_id"]
            ahead = _times(page, "li.stop:not(.done) .stop-head b")
            assert len(ahead) == len(team1) and all(t >= "10:00" for t in ahead), ahead
            assert "自 10:00 起" in page.locator("ul.changes").inner_text()
            page.screenshot(path=str(tmp_path / f"officer-{name}-replanned.png"), full_page=True)
        browser.close()
    assert errors == []
    shots = sorted(f.name for f in tmp_path.glob("*.png"))
    assert shots == ["leader-1366-progress.png", "officer-1366-replanned.png",
                     "officer-390-confirmed.png", "officer-390-replanned.png",
                     "officer-390-route.png"]
