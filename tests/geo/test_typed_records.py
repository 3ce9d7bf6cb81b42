"""Typed records of the geo library: Squad, SitingSummary / RelocationSites, ModelName, and the
shared writer rule moved down to geo.safe_text; package imports stay cheap."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import get_args

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import points
from shapely.geometry import box

import geo.sheets
from geo.boundaries import Squad, StaffMember, load_default
from geo.errors import InputError
from geo.io.files import read_default_files
from geo.maps import siting_layer
from geo.safe_text import formula_safe_frame
from geo.siting import (
    MODELS,
    ModelName,
    RelocationSites,
    SitingSummary,
    candidate_grid,
    compare_scenarios,
    locate_relocation_points,
    siting_geojson_frames,
    siting_tables,
    summary_of,
)

CRS = "EPSG:4547"
X0, Y0 = 500_000.0, 3_420_000.0


def test_squad_record_is_typed_and_reads_like_the_file() -> None:
    raw = read_default_files()["squads"]["squads"]
    area = load_default()
    squad = area.squad("chezhan")
    record = next(s for s in raw if s["id"] == "chezhan")
    assert isinstance(squad, Squad) and squad.id == "chezhan" and squad.name == record["name"]
    assert squad.communities == tuple(record["communities"])
    assert squad.officer_count == record["officer_count"] and squad.street == record["street"]
    assert all(isinstance(m, StaffMember) for m in squad.staff)
    assert [m.id for m in squad.staff] == [p["id"] for p in record["staff"]]
    assert squad.staff_member(record["staff"][0]["id"]) == StaffMember.from_mapping(
        record["staff"][0])
    assert squad.staff_member("nobody") is None
    assert [t["id"] for t in squad.teams] == [t["id"] for t in record["teams"]]
    # mapping access and dict() give the record as stored, so old callers keep working
    assert squad["communities"] == record["communities"] and squad.get("nope", 7) == 7
    assert json.loads(json.dumps(dict(squad))) == record == squad.to_dict()
    assert Squad.from_mapping(squad) is squad
    assert [s.id for s in area.squad_records] == [s["id"] for s in raw]


def test_squad_from_a_sparse_dict() -> None:
    squad = Squad.from_mapping({"id": 7, "teams": [{"id": "A"}], "staff": [{"id": "p"}, "x"]})
    assert (squad.id, squad.name, squad.communities) == ("7", "7", ())
    assert squad.staff == (StaffMember(id="p", name="p"),)
    assert squad.teams == ({"id": "A"},)


def _scenario(sites: int) -> RelocationSites:
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 60, (30, 2)) + np.array([X0 + 500, Y0 + 500]),
                    rng.normal(0, 60, (20, 2)) + np.array([X0 + 2500, Y0 + 500])])
    demand = gpd.GeoDataFrame({"demand_id": [f"d{i}" for i in range(50)],
                               "weight": np.r_[np.full(30, 2.0), np.ones(20)],
                               "case_count": np.full(50, 3)},
                              geometry=points(xy[:, 0], xy[:, 1]), crs=CRS)
    cand = candidate_grid(gpd.GeoSeries([box(X0, Y0, X0 + 3000, Y0 + 1000)], crs=CRS),
                          spacing_m=100)
    return locate_relocation_points(demand, cand, sites=sites, radius_m=500)


def test_relocation_result_carries_a_typed_summary() -> None:
    one, two = _scenario(1), _scenario(2)
    s = two.summary
    assert isinstance(s, SitingSummary) and s.model == "mclp" and s.model_name == "最大覆盖"
    assert s.sites == len(two.sites) == 2 and s.optimal is True
    assert s.covered_share == pytest.approx(1.0) and s.covered_weight == pytest.approx(80.0)
    assert isinstance(s.gap, float) and isinstance(s.objective, float)
    assert set(two.assignment.values()) == set(two.sites["candidate_id"])
    # the summary reads like the dict of earlier versions, and round-trips through it
    assert s["optimal"] is True and s.get("nope") is None and dict(s) == s.as_dict()
    assert SitingSummary.from_mapping(json.loads(json.dumps(s.as_dict()))) == s
    assert two.sites.attrs["summary"] == s.as_dict()
    assert summary_of(two) is s and summary_of(two.sites) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.sites = 3  # type: ignore[misc]
    # result object and sites frame give the same comparison, tables and layers
    pd.testing.assert_frame_equal(compare_scenarios(one, two), compare_scenarios(one.sites,
                                                                                 two.sites))
    for a, b in zip(siting_tables(two).values(), siting_tables(two.sites).values(), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert siting_tables(two)["方案概况"]["数值"].tolist()[:3] == ["最大覆盖", 2, 500.0]
    pts, _ = siting_geojson_frames(two)
    assert list(pts["candidate_id"]) == list(two.sites["candidate_id"])
    m = folium.Map()
    siting_layer(two).add_to(m)
    assert "步行半径（米）" in m.get_root().render()


def test_summary_of_a_plain_frame_is_an_input_error() -> None:
    frame = _scenario(1).sites.copy()
    frame.attrs = {}
    with pytest.raises(InputError, match="方案B 不是 site_relocation_points"):
        summary_of(frame, what="方案B")
    with pytest.raises(InputError, match="model"):
        SitingSummary.from_mapping({"model": "kmeans"})


def test_model_names_are_a_literal() -> None:
    assert MODELS == get_args(ModelName) == ("mclp", "pmedian", "lscp")


def test_formula_safe_frame_lives_in_safe_text() -> None:
    assert geo.sheets.formula_safe_frame is formula_safe_frame
    out = formula_safe_frame(pd.DataFrame({"=a": ["=1+1", "ok\x01"], "n": [-1, 2]}),
                             strip_control=True)
    assert list(out.columns) == ["'=a", "n"] and out["'=a"].tolist() == ["'=1+1", "ok"]
    assert out["n"].tolist() == [-1, 2]


@pytest.mark.parametrize(("module", "absent"), [
    ("geo", ("pandas", "geopandas", "folium", "pyvrp")),
    ("geo.safe_text", ("pandas",)),
    ("geo.io", ("pandas", "networkx", "osmium")),
    ("geo.travel", ("networkx", "scipy")),
    ("geo.planning", ("folium", "pyvrp", "ortools")),
    ("geo.sheets", ("pyvrp", "ortools", "folium")),
    ("geo.maps", ("pyvrp", "ortools")),
])
def test_package_imports_stay_light(module: str, absent: tuple[str, ...]) -> None:
    code = (f"import sys, {module}; bad = [m for m in {absent!r} if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"import {module} loaded {out}"
