"""Two districts in one database (SQLite and PostGIS): a user bound to district B (孝昌县, simulated,
imported with geo.districts) never sees district A's (孝南区) cases, communities or squads through
the API case list and detail, the CSV export, the OGC items, the squad pages, their CSV export,
the district map or the case vector tiles; a district-bound admin cannot manage users (it could
make itself deployment-wide) but may use the (district-scoped) planner page."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pandas as pd
import pytest
from api_support import BACKENDS, PASSWORD, SECRET, Api, build_api, database_url, point_in
from district_support import CODE, NAME, write_district
from sqlalchemy import select
from typer.testing import CliRunner

from geo.districts import build_district
from service.auth import COOKIE_NAME, create_token, create_user, load_principal
from service.cli import app as cli_app
from service.districts import store_district
from service.importer import import_table
from service.models import User

A_CASES = {"SY1", "SY2", "SY3", "SY4", "XH1", "XH2", "XH3"}
B_CASES = {"B1", "B2", "B3"}


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("districts")
    for url in database_url(request.param, folder):
        for a in build_api(url):
            path, sq = write_district(folder, epsg=4547)
            squads = json.loads(sq.read_text(encoding="utf-8"))["squads"]
            store_district(a.storage, build_district(path, code=CODE, name=NAME, squads=squads))
            rows = []
            for cid, squad, k in (("B1", "xc-a", 0), ("B2", "xc-b", 1), ("B3", "xc-b", 2)):
                _code, x, y = point_in(a.storage, squad, k)
                rows.append({"case_id": cid, "category": "占道经营", "reported_at": "2026-05-06 08:00",
                             "lon": repr(x), "lat": repr(y), "description": "模拟乙区案件"})
            rep = import_table(a.storage, pd.DataFrame(rows), filename="b.csv", actor="seed")
            assert rep.inserted == 3 and not rep.problems
            for name, role, district in (("planner_b", "planner", CODE),
                                         ("admin_b", "admin", CODE),
                                         ("planner_a", "planner", "420902")):
                a.principals[name] = create_user(a.storage, name, PASSWORD, role=role,
                                                 district=district)
            yield a


def _cookie(api: Api, user: str) -> dict[str, str]:
    principal = load_principal(api.storage, user)
    assert principal is not None
    return {"Cookie": f"{COOKIE_NAME}={create_token(principal, key=SECRET, ttl_minutes=60)}"}


def _ids(fc: dict) -> set[str]:  # type: ignore[type-arg]
    return {str(f["id"]) for f in fc["features"]}


def test_principal_scope_is_the_districts_squads(api: Api) -> None:
    assert load_principal(api.storage, "planner_b").squads == ("xc-a", "xc-b")
    assert load_principal(api.storage, "admin_b").squads == ("xc-a", "xc-b")
    xiaonan = tuple(sorted(s["id"] for s in api.storage.squads() if not s["id"].startswith("xc-")))
    assert len(xiaonan) == 5 and load_principal(api.storage, "planner_a").squads == xiaonan
    assert load_principal(api.storage, "planner").squads is None


def test_api_case_list_detail_and_csv(api: Api) -> None:
    for user in ("planner_b", "admin_b"):
        assert _ids(api.get("/api/cases", user).json()) == B_CASES
        assert api.get("/api/cases", user, params={"squad": "shuyuan"}).status_code == 403
        assert api.get("/api/cases/SY1", user).status_code == 404
        text = api.get("/api/cases.csv", user).text
        ids = {row["案件编号"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
        assert ids == B_CASES, text[:300]
    assert _ids(api.get("/api/cases", "planner_a").json()) == A_CASES
    assert _ids(api.get("/api/cases", "admin").json()) == A_CASES | B_CASES
    assert {s["id"] for s in api.get("/api/squads", "planner_b").json()} == {"xc-a", "xc-b"}


def test_ogc_items(api: Api) -> None:
    cases = api.get("/ogc/collections/cases/items", "planner_b", params={"limit": 1000}).json()
    assert _ids(cases) == B_CASES
    assert api.get("/ogc/collections/cases/items/SY1", "planner_b").status_code == 404
    comm = api.get("/ogc/collections/communities/items", "planner_b", params={"limit": 1000})
    assert {f["properties"]["squad"] for f in comm.json()["features"]} == {"xc-a", "xc-b"}
    assert len(comm.json()["features"]) == 6
    st = api.get("/ogc/collections/stations/items", "admin_b", params={"limit": 1000}).json()
    assert len(st["features"]) == 6
    mine = api.get("/ogc/collections/cases/items", "planner_a", params={"limit": 1000}).json()
    assert _ids(mine) == A_CASES


def test_pages_exports_and_district_map(api: Api) -> None:
    c = api.client
    for user in ("planner_b", "admin_b"):
        head = _cookie(api, user)
        home = c.get("/", headers=head, follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/squad/xc-a"
        assert c.get("/squad/shuyuan", headers=head).status_code == 404
        page = c.get("/squad/xc-b", headers=head)
        assert page.status_code == 200 and "SY1" not in page.text
        assert c.get("/squad/shuyuan/cases.csv", headers=head).status_code == 404
        export = c.get("/squad/xc-b/cases.csv", headers=head).text
        assert "B2" in export and "B3" in export and not any(i in export for i in A_CASES)
        dmap = c.get("/maps/district", headers=head)
        assert dmap.status_code == 200 and "模拟1社区" in dmap.text
        assert "书院社区" not in dmap.text and "新华社区" not in dmap.text
    whole = c.get("/maps/district", headers=_cookie(api, "planner"))
    assert "书院社区" in whole.text and "模拟1社区" in whole.text


def test_district_bound_users_cannot_act_for_every_district(api: Api) -> None:
    assert api.get("/api/users", "admin_b").status_code == 403
    made = api.post("/api/users", "admin_b", json={"username": "boss", "password": PASSWORD,
                                                   "role": "admin"})
    assert made.status_code == 403 and load_principal(api.storage, "boss") is None
    assert api.client.get("/admin", headers=_cookie(api, "admin_b")).status_code == 403
    # siting is scoped to the district, not refused (tests/security/test_district_siting.py)
    assert api.get("/api/siting/scenarios", "planner_b").status_code == 200
    assert api.client.get("/planner", headers=_cookie(api, "planner_b")).status_code == 200
    assert api.get("/api/users", "admin").status_code == 200


def test_changing_the_district_ends_old_tokens(api: Api) -> None:
    create_user(api.storage, "mover", PASSWORD, role="planner", district=CODE)
    old = api.auth("mover")
    assert api.client.get("/api/cases", headers=old).status_code == 200
    with api.storage.begin() as session:
        session.scalar(select(User).where(User.username == "mover")).district_code = "420902"
    assert api.client.get("/api/cases", headers=old).status_code == 401
    assert _ids(api.get("/api/cases", "mover").json()) == A_CASES


def test_users_add_district_option(api: Api) -> None:
    runner = CliRunner()
    url = api.storage.url
    ok = runner.invoke(cli_app, ["users", "add", "cli_b", "--role", "planner", "--district", CODE,
                                 "--db", url], input=PASSWORD + "\n")
    assert ok.exit_code == 0 and "区县 420921" in ok.output, ok.output
    assert load_principal(api.storage, "cli_b").squads == ("xc-a", "xc-b")
    bad = runner.invoke(cli_app, ["users", "add", "cli_x", "--role", "planner", "--district",
                                  "999999", "--db", url], input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "没有编码为「999999」的区县" in bad.output
    wrong = runner.invoke(cli_app, ["users", "add", "cli_y", "--role", "officer", "--squad",
                                    "shuyuan", "--district", CODE, "--db", url],
                          input=PASSWORD + "\n")
    assert wrong.exit_code == 1 and "属于区县 420902" in " ".join(wrong.output.split())
    listing = runner.invoke(cli_app, ["users", "list", "--db", url])
    assert "420921" in listing.output


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def _tile_case_ids(api: Api, user: str, tiles: set[tuple[int, int]], z: int) -> tuple[set[str], int]:
    """Case ids in the vector tiles ``user`` gets, and how many cases the tiles count in all."""
    ids: set[str] = set()
    total = 0
    for x, y in sorted(tiles):
        r = api.get(f"/tiles/cases/{z}/{x}/{y}.mvt", user)
        assert r.status_code in (200, 204), r.text
        if r.status_code == 204:
            continue
        layer = mapbox_vector_tile.decode(r.content).get("cases", {"features": []})
        for f in layer["features"]:
            total += int(f["properties"].get("n", 1))
            if "case_id" in f["properties"]:
                ids.add(str(f["properties"]["case_id"]))
    return ids, total


def test_vector_tiles_hold_only_the_districts_cases(api: Api) -> None:
    z = 15
    every = api.get("/api/cases", "admin", params={"limit": 100}).json()["features"]
    tiles = {_tile_of(*f["geometry"]["coordinates"][:2], z) for f in every if f["geometry"]}
    assert len(every) == len(A_CASES | B_CASES) and tiles
    every_id, n_all = _tile_case_ids(api, "admin", tiles, z)  # the deployment-wide view
    assert every_id >= B_CASES and every_id & A_CASES
    ids_b, n_b = _tile_case_ids(api, "planner_b", tiles, z)
    assert ids_b == B_CASES and n_b == len(B_CASES)
    ids_a, n_a = _tile_case_ids(api, "planner_a", tiles, z)
    assert ids_a == every_id - B_CASES and n_a == n_all - len(B_CASES)
    assert api.get(f"/tiles/cases/{z}/0/0.mvt?squad=shuyuan", "planner_b").status_code == 403
