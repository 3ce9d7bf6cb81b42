"""`xuncha demo` end to end: five maps, five squad PDFs with Chinese stop text, hotspots, index."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app

SQUADS = {"shuyuan": "书院中队", "xinhua": "新华中队", "guangchang": "广场中队",
          "chezhan": "车站中队", "nanda": "南大中队"}


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--date", "2026-11-29"])
    assert res.exit_code == 0, res.output
    assert "index.html" in res.output
    return out


@pytest.mark.slow
def test_demo_writes_every_squad_output(demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["cases_imported"] == summary["counts"]["cases_simulated"] > 10_000
    assert summary["counts"]["cases_rejected"] == 0
    assert {s["id"] for s in summary["squads"]} == set(SQUADS)
    for s in summary["squads"]:
        assert s["feasible"] and s["stops"] > 0 and s["teams"] >= 2
        assert (demo_out / s["map"]).stat().st_size > 10_000
        assert (demo_out / s["xlsx"]).exists()
    assert len(list(demo_out.glob("squads/*/map.html"))) == 5
    assert len(list(demo_out.glob("squads/*/*_路线单.pdf"))) == 5


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="需要 poppler-utils 的 pdftotext")
def test_demo_pdfs_show_squad_and_chinese_stops(demo_out: Path) -> None:
    for sid, name in SQUADS.items():
        pdf = next((demo_out / "squads" / sid).glob("*_路线单.pdf"))
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                              capture_output=True, text=True).stdout
        assert name in text
        assert "模拟数据" in text
        assert any(k in text for k in ("复查", "热点", "社区巡查"))
        assert "社区" in text and "工作站" in text


@pytest.mark.slow
def test_demo_hotspots_and_index(demo_out: Path) -> None:
    gj = json.loads((demo_out / "hotspots.geojson").read_text(encoding="utf-8"))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) > 5
    for f in gj["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = f["geometry"]["coordinates"][0][0][:2] if f["geometry"]["type"] == "Polygon" \
            else f["geometry"]["coordinates"][0][0][0][:2]
        assert 113.8 < lon < 114.1 and 30.8 < lat < 31.0
        assert {"hotspot_id", "case_count", "category", "peak_hours"} <= set(f["properties"])
    index = (demo_out / "index.html").read_text(encoding="utf-8")
    assert "模拟数据" in index
    for s in SQUADS.values():
        assert s in index
    assert (demo_out / "data" / "cases_simulated.csv").exists()


def _playwright() -> Any:
    import importlib
    import os

    sync_playwright: Any
    try:
        sync_playwright = importlib.import_module("playwright.sync_api").sync_playwright
    except ImportError:
        sync_playwright = None
    chromium = Path("/usr/bin/chromium")
    reason = ("playwright is not installed" if sync_playwright is None else
              f"{chromium} is missing" if not chromium.exists() else "")
    if reason:
        if os.environ.get("XUNCHA_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_playwright


def _refuse_network(asked: list[str]) -> object:
    """A playwright route handler: files load, every other request is recorded and refused."""

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        if url.startswith(("file:", "data:")):
            r.continue_()  # type: ignore[attr-defined]
        else:
            asked.append(url)
            r.abort()  # type: ignore[attr-defined]

    return route


@pytest.mark.slow
@pytest.mark.browser
def test_demo_maps_work_from_disk_offline(demo_out: Path) -> None:
    """Opened by file:// with every network request refused, each squad map loads its scripts
    from the copy beside it (``vendor/``, relative links) and draws its overlays; nothing but
    base-map tiles is even asked for."""
    import re

    sync_playwright = _playwright()
    maps = sorted(demo_out.glob("squads/*/map.html"))
    assert len(maps) == 5 and (demo_out / "vendor" / "leaflet" / "leaflet.js").is_file()
    for path in maps:
        page_text = path.read_text(encoding="utf-8")
        links = re.findall(r'(?:src|href)="([^"]+)"', page_text)
        assert links and all(u.startswith("../../vendor/") for u in links), links
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for path in maps:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            asked: list[str] = []
            page.route("**/*", _refuse_network(asked))
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector(".leaflet-marker-icon .xc-stop", timeout=15_000)
            assert page.locator("path.leaflet-interactive").count() > 10, path
            assert page.locator(".leaflet-marker-icon .xc-stop").count() > 5, path
            assert page.locator("details.xc-legend .xc-entry").count() > 10, path
            assert errors == [], errors
            assert all("tile.openstreetmap.org" in u for u in asked), asked  # only tiles
            page.close()
        browser.close()
