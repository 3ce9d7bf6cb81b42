"""The ``/ogc`` endpoint as a real GIS client sees it: GDAL's OAPIF driver (what QGIS's
"Add WFS / OGC API layer" uses) against a uvicorn server on 127.0.0.1 with the seeded cases of
:mod:`pages_support` — every layer listed without errors, ``-spat``, ``-where`` sent to the server,
``ogr2ogr`` to GeoPackage with the API's counts and peak hours kept as text, a squad leader's
token seeing only that squad.

Skips where ``ogrinfo``/``ogr2ogr`` are missing (``apt-get install gdal-bin``), but fails when
``CI`` or ``XUNCHA_REQUIRE_BROWSER`` is set (CI installs GDAL).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from api_support import BACKENDS, database_url
from pages_support import Site, build_site
from starlette.types import ASGIApp, Receive, Scope, Send

from service.ogc import COLLECTIONS

OGRINFO, OGR2OGR = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
LAYERS = ["communities", "stations", "cases", "hotspots", "forecast"]


def _need_gdal() -> None:
    if OGRINFO and OGR2OGR:
        return
    reason = "GDAL's ogrinfo/ogr2ogr are not installed (apt-get install gdal-bin)"
    if os.environ.get("CI") or os.environ.get("XUNCHA_REQUIRE_BROWSER"):
        pytest.fail(f"CI/XUNCHA_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


class Recorder:
    """ASGI wrapper that remembers every request's path and query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = urllib.parse.unquote(scope["query_string"].decode())
            self.seen.append(f"{scope['path']}?{query}")
        await self.app(scope, receive, send)


@dataclass
class Server:
    url: str
    site: Site
    recorder: Recorder
    folder: Path
    headers: dict[str, Path] = field(default_factory=dict)

    def header_file(self, user: str) -> Path:
        """A GDAL_HTTP_HEADER_FILE with ``user``'s bearer token."""
        if user not in self.headers:
            path = self.folder / f"{user}.headers"
            path.write_text(f"Authorization: {self.site.auth(user)['Authorization']}\n")
            self.headers[user] = path
        return self.headers[user]

    def api(self, path: str, user: str) -> Any:
        req = urllib.request.Request(self.url + path, headers=self.site.auth(user))
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service on SQLite and on PostGIS (month-partitioned cases), served by uvicorn."""
    _need_gdal()
    folder = tmp_path_factory.mktemp("ogc_gdal")
    for url in database_url(request.param, folder):
        yield from _serve(build_site(url, basemap="none"), folder)


def _serve(site: Site, folder: Path) -> Iterator[Server]:
    import uvicorn

    recorder = Recorder(site.app)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield Server(f"http://127.0.0.1:{port}", site, recorder, folder)
    srv.should_exit = True
    thread.join(timeout=10)
    site.storage.engine.dispose()


def _gdal(server: Server, tool: str | None, *args: str, user: str | None = "admin",
          check: bool = True, header_file: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` with ``user``'s token (GDAL_HTTP_HEADER_FILE, or GDAL_HTTP_HEADERS)."""
    assert tool is not None
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "CPL_DEBUG": "OFF"}
    cfg: list[str] = []
    if user and header_file:
        cfg = ["--config", "GDAL_HTTP_HEADER_FILE", str(server.header_file(user))]
    elif user:
        cfg = ["--config", "GDAL_HTTP_HEADERS", server.site.auth(user)["Authorization"]
               .join(["Authorization: ", ""])]
    done = subprocess.run([tool, *cfg, *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
        assert "ERROR" not in done.stderr + done.stdout, done.stderr
    return done


def _count(text: str) -> int:
    line = next(ln for ln in text.splitlines() if ln.startswith("Feature Count:"))
    return int(line.split(":")[1])


def test_ogrinfo_lists_every_layer(server: Server) -> None:
    out = _gdal(server, OGRINFO, "-ro", "-so", f"OAPIF:{server.url}/ogc").stdout
    names = [ln.split(":")[1].split("(")[0].strip() for ln in out.splitlines()
             if ln[:1].isdigit() and ": " in ln]
    assert names == LAYERS == list(COLLECTIONS)[:5]
    assert "cases (title: 案件) (Point)" in out


def test_layer_summary_matches_api(server: Server) -> None:
    out = _gdal(server, OGRINFO, "-ro", "-so", f"OAPIF:{server.url}/ogc", "cases").stdout
    assert _count(out) == server.api("/api/cases?limit=1", "admin")["numberMatched"] == 99
    assert "reported_at: DateTime" in out and "overdue: Integer(Boolean)" in out
    x0, y0, x1, y1 = (float(v) for v in out.split("Extent: (")[1].replace(") - (", ", ")
                      .split(")")[0].split(", "))
    assert 113.8 < x0 < x1 < 114.2 and 30.8 < y0 < y1 < 31.2


def test_spatial_filter_is_sent_as_bbox(server: Server) -> None:
    comm = server.site.storage.communities(squads=("shuyuan",)).iloc[0]
    x0, y0, x1, y1 = comm.geometry.bounds
    bbox = f"{x0},{y0},{x1},{y1}"
    out = _gdal(server, OGRINFO, "-ro", "-so", f"OAPIF:{server.url}/ogc", "cases",
                "-spat", *bbox.split(",")).stdout
    want = server.api(f"/api/cases?limit=1&bbox={bbox}", "admin")["numberMatched"]
    assert _count(out) == want > 0
    assert any("/ogc/collections/cases/items" in r and "bbox=" in r
               for r in server.recorder.seen)


def test_where_is_sent_as_a_property_filter(server: Server) -> None:
    status = urllib.parse.quote("立案")
    want = server.api(f"/api/cases?limit=1&status={status}", "admin")["numberMatched"]
    assert want >= 1
    server.recorder.seen.clear()
    out = _gdal(server, OGRINFO, "-ro", f"OAPIF:{server.url}/ogc", "cases",
                "-where", "status = '立案'").stdout
    assert _count(out) == want == out.count("OGRFeature(cases)")
    assert out.count("status (String) = 立案") == want
    assert any("/ogc/collections/cases/items" in r and "status=立案" in r
               for r in server.recorder.seen), server.recorder.seen  # filtered by the server


def test_ogr2ogr_to_geopackage(server: Server) -> None:
    gpkg = server.folder / "admin.gpkg"
    _gdal(server, OGR2OGR, "-f", "GPKG", str(gpkg), f"OAPIF:{server.url}/ogc",
          "-oo", "PAGE_SIZE=25")  # several pages per layer: follows the next links
    assert sorted(pyogrio.list_layers(gpkg)[:, 0]) == sorted(LAYERS)
    cases = pyogrio.read_dataframe(gpkg, layer="cases")
    assert len(cases) == server.api("/api/cases?limit=1", "admin")["numberMatched"]
    assert cases["case_id"].is_unique
    api_hot = server.api("/api/hotspots", "admin")["features"]
    hot = pyogrio.read_dataframe(gpkg, layer="hotspots")
    assert len(hot) == len(api_hot) >= 1
    info = pyogrio.read_info(gpkg, layer="hotspots")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["peak_hours"] == "object" and types["peak_start_hour"] == "int32"
    label = api_hot[0]["properties"]["peak_hours"]
    assert label.endswith("时") and hot.loc[0, "peak_hours"] == label  # text, not a cut time
    assert hot.loc[0, "peak_start_hour"] == api_hot[0]["properties"]["peak_start_hour"]
    comm = pyogrio.read_dataframe(gpkg, layer="communities")
    assert len(comm) == 53


def test_squad_leader_sees_only_their_squad(server: Server) -> None:
    gpkg = server.folder / "leader.gpkg"
    _gdal(server, OGR2OGR, "-f", "GPKG", str(gpkg), f"OAPIF:{server.url}/ogc", "cases",
          "communities", "-oo", "PAGE_SIZE=1000", user="leader_sy", header_file=False)
    cases = pyogrio.read_dataframe(gpkg, layer="cases")
    assert set(cases["squad"]) == {"shuyuan"}
    assert len(cases) == server.api("/api/cases?limit=1", "leader_sy")["numberMatched"] == 93
    assert set(pyogrio.read_dataframe(gpkg, layer="communities")["squad"]) == {"shuyuan"}
    out = _gdal(server, OGRINFO, "-ro", "-so", f"OAPIF:{server.url}/ogc", "cases",
                user="leader_xh").stdout
    assert _count(out) == 6


def test_without_a_token_the_layers_are_refused(server: Server) -> None:
    done = _gdal(server, OGRINFO, "-ro", "-so", f"OAPIF:{server.url}/ogc", user=None,
                 check=False)
    assert done.returncode != 0 and "401" in done.stderr
