"""Districts in the database (SQLite and PostGIS): ``xuncha boundaries import|list``, one
transaction per import (every refused import leaves the stored districts exactly as they were),
``--replace``, and the 0011 migration adopting the squads of a database made before it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from alembic import command
from district_support import (
    CODE,
    NAME,
    communities,
    feature,
    raw_geojson,
    squads_doc,
    write_district,
)
from sqlalchemy import select
from typer.testing import CliRunner

from geo.districts import build_district
from service.cli import app
from service.db import alembic_config
from service.districts import district_squads, list_districts, store_district
from service.errors import ConflictError
from service.importer import import_table
from service.models import Community, District, Squad, Station
from service.storage import Storage, from_db_geometry

runner = CliRunner()
REPO = Path(__file__).resolve().parents[3]


def snapshot(storage: Storage) -> dict[str, Any]:
    """Everything an import writes: districts, squads with their district, communities, stations."""
    with storage.begin() as session:
        return {
            "districts": [(d.code, d.name, d.city, from_db_geometry(d.geom).wkt if d.geom else None)
                          for d in session.scalars(select(District).order_by(District.code))],
            "squads": session.execute(select(Squad.id, Squad.district_code, Squad.name)
                                      .order_by(Squad.id)).all(),
            "communities": session.execute(select(Community.code, Community.squad_id,
                                                  Community.name).order_by(Community.code)).all(),
            "stations": session.execute(select(Station.code, Station.squad_id)
                                        .order_by(Station.code)).all(),
        }


def _import(url: str, path: Path, *extra: str, code: str = CODE) -> Any:
    return runner.invoke(app, ["boundaries", "import", str(path), "--district-code", code,
                               "--district-name", NAME, "--city", "孝感市", "--db", url, *extra])


def test_import_second_district_listed_and_cases_reach_it(storage: Storage, tmp_path: Path) -> None:
    path, sq = write_district(tmp_path, epsg=32650, name="b.gpkg")
    res = _import(storage.url, path, "--squads", str(sq))
    assert res.exit_code == 0, res.output
    assert "已导入区县 420921" in res.output and "中队 2 个，社区 6 个，工作站 6 个" in res.output
    assert [(d.code, d.squads, d.communities, d.stations) for d in list_districts(storage)] == [
        ("420902", 5, 53, 53), ("420921", 2, 6, 6)]
    listing = runner.invoke(app, ["boundaries", "list", "--db", storage.url])
    assert listing.exit_code == 0 and "孝南区" in listing.output and "420921" in listing.output
    assert district_squads(storage, CODE) == ("xc-a", "xc-b")
    # the outline is the 2400 m × 1600 m block (area measured back in UTM 50N)
    with storage.begin() as session:
        outline = from_db_geometry(session.get(District, CODE).geom)
    area = float(gpd.GeoSeries([outline], crs=4326).to_crs(32650).area.iloc[0])
    assert area == pytest.approx(2400 * 1600, rel=5e-3)
    # a case imported inside community 004 belongs to squad xc-b of the new district
    p = storage.communities(squads=("xc-b",)).geometry.iloc[0].representative_point()
    rep = import_table(storage, pd.DataFrame([{"case_id": "B1", "category": "占道经营",
                                               "reported_at": "2026-05-02 07:10", "lon": repr(p.x),
                                               "lat": repr(p.y), "description": "模拟"}]),
                       filename="b.csv", actor="t")
    assert rep.inserted == 1 and not rep.problems
    assert storage.get_case("B1")["squad"] == "xc-b"


def _sub(folder: Path, name: str) -> Path:
    (folder / name).mkdir()
    return folder / name


Bad = tuple[Path, Path, str, str]
"""A refused import: the boundary file, the squads file, the district code, a phrase of the message."""


def _bad_inputs(folder: Path) -> dict[str, Bad]:
    """Every refused import of the issue's bad-input list (and a squad id of another district)."""
    good, sq = write_district(_sub(folder, "good"))
    codes = list(communities()["code"])
    out: dict[str, Bad] = {}
    over = communities()
    over.loc[1, "geometry"] = shapely.affinity.translate(over.geometry.iloc[1], 0, -50.0)
    f, s = write_district(_sub(folder, "over"), gdf=over)
    out["overlap"] = (f, s, "420931", "与社区「420921001001」重叠 40000.0 平方米")
    x, y = 500000.0, 3460000.0
    one = folder / "one.json"
    one.write_text(json.dumps({"squads": [{"id": "u", "name": "中", "communities": [codes[0]]}]}),
                   encoding="utf-8")
    unclosed = raw_geojson(folder, [feature(codes[0], "甲社区", [(x, y), (x + 500, y),
                                                               (x + 500, y + 500)])],
                           name="unclosed.geojson")
    out["unclosed"] = (unclosed, one, "420931", "边界环未闭合")
    for name, edit in (("no squad", lambda d: d["squads"][0]["communities"].remove(codes[2])),
                       ("two squads", lambda d: d["squads"][1]["communities"].append(codes[0])),
                       ("clash", lambda d: d["squads"][0].update(id="shuyuan"))):
        doc = squads_doc(codes)
        edit(doc)
        f, s = write_district(_sub(folder, name.replace(" ", "_")), squads=doc)
        out[name] = (f, s, "420931", {
            "no squad": "社区 420921001003 模拟3社区）：不属于任何中队",
            "two squads": "同时属于中队 xc-a、xc-b",
            "clash": "中队「shuyuan」（属于区县 420902）"}[name])
    nocrs = raw_geojson(folder, [feature(codes[0], "甲社区", [(x, y), (x + 500, y),
                                                            (x + 500, y + 500), (x, y)])],
                        crs=None, name="nocrs.geojson")
    out["missing crs"] = (nocrs, one, "420931", "nocrs.geojson 没有坐标参考系")
    out["existing code"] = (good, sq, "420902", "区县编码 420902（孝南区）已存在")
    # a 200 m square inside 书院社区 of the stored 孝南区
    shuyuan = gpd.read_file(REPO / "data" / "boundaries" / "communities.geojson").iloc[:1]
    centre = shuyuan.to_crs(4547).geometry.iloc[0].representative_point()
    inside = gpd.GeoDataFrame({"code": ["420931001001"], "name": ["越界社区"]},
                              geometry=[centre.buffer(100, cap_style="square")], crs=4547)
    f, s = write_district(_sub(folder, "inside"), gdf=inside, squads={"squads": [
        {"id": "v", "name": "中", "communities": ["420931001001"]}]})
    out["overlaps another district"] = (f, s, "420931",
                                        "与已有区县的社区「420902001001 书院社区」重叠 40000.0 平方米")
    return out


def test_every_bad_input_leaves_districts_as_they_were(storage: Storage, tmp_path: Path) -> None:
    path, sq = write_district(_sub(tmp_path, "b"))
    assert _import(storage.url, path, "--squads", str(sq)).exit_code == 0
    before = snapshot(storage)
    assert len(before["districts"]) == 2
    for what, (f, s, code, phrase) in _bad_inputs(tmp_path).items():
        res = _import(storage.url, f, "--squads", str(s), code=code)
        assert res.exit_code == 2, (what, res.output)
        assert phrase.replace(" ", "") in "".join(res.output.split()), (what, res.output)
        assert snapshot(storage) == before, what
    again = _import(storage.url, path, "--squads", str(sq))
    assert again.exit_code == 2 and "已存在" in again.output and "--replace" in again.output
    assert snapshot(storage) == before


def test_replace_in_one_transaction(storage: Storage, tmp_path: Path) -> None:
    path, sq = write_district(tmp_path)
    squads = json.loads(sq.read_text(encoding="utf-8"))["squads"]
    store_district(storage, build_district(path, code=CODE, name=NAME, squads=squads))
    p = storage.communities(squads=("xc-b",)).set_index("code").geometry["420921001006"]
    pt = p.representative_point()
    import_table(storage, pd.DataFrame([{"case_id": "R1", "category": "占道经营",
                                         "reported_at": "2026-05-02 07:10", "lon": repr(pt.x),
                                         "lat": repr(pt.y)}]), filename="r.csv", actor="t")
    before = snapshot(storage)
    # dropping community 006 (it has a case) is refused, nothing changes
    five = communities().iloc[:5]
    (tmp_path / "five").mkdir()
    f5, s5 = write_district(tmp_path / "five", gdf=five)
    layers = build_district(f5, code=CODE, name="改名", squads=json.loads(
        s5.read_text(encoding="utf-8"))["squads"])
    with pytest.raises(ConflictError, match=r"去掉了社区 420921001006.*仍有这些社区的案件"):
        store_district(storage, layers, replace=True)
    assert snapshot(storage) == before
    # moving community 001 to squad xc-b and renaming the district is a replace
    moved = squads_doc(list(communities()["code"]))
    moved["squads"][0]["communities"].remove("420921001001")
    moved["squads"][1]["communities"].append("420921001001")
    layers = build_district(path, code=CODE, name="改名", squads=moved["squads"])
    with pytest.raises(ConflictError, match="已存在"):
        store_district(storage, layers)
    store_district(storage, layers, replace=True)
    after = snapshot(storage)
    assert [d[1] for d in after["districts"]] == ["孝南区", "改名"]
    assert dict((c, s) for c, s, _n in after["communities"])["420921001001"] == "xc-b"
    assert len(after["stations"]) == len(before["stations"])


def test_migration_adopts_existing_squads_as_xiaonan(db_url: str) -> None:
    storage = Storage(db_url)
    storage.init()
    seeded = snapshot(storage)
    assert [d[:3] for d in seeded["districts"]] == [("420902", "孝南区", "孝感市")]
    cfg = alembic_config(storage.engine)
    command.downgrade(cfg, "0010")
    command.upgrade(cfg, "head")
    again = snapshot(storage)
    assert again["squads"] == seeded["squads"]
    assert {d for _s, d, _n in again["squads"]} == {"420902"}
    code, name, city, wkt = again["districts"][0]
    assert (code, name, city) == ("420902", "孝南区", "孝感市")
    # the outline made by the migration is the union of the 53 communities
    union = shapely.union_all(storage.communities().geometry.to_numpy())
    assert shapely.from_wkt(wkt).symmetric_difference(union).area < 1e-9
    storage.engine.dispose()
