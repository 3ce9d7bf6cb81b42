"""``xuncha demo``: the main job end to end on the embedded Xiaonan default (simulated cases).

Steps: simulate a year of cases up to the plan day (labelled 模拟), import them through the same
path as a real export, find the hotspots, forecast next week's cells, site relocation points, plan
the day's patrol for every squad (stored, so later runs see real "days since last visit"), and
write a map, route sheets (PDF, XLSX, HTML) and the plan per squad, plus ``index.html``.

Routes follow the streets when a road network is given (``roads``: ``xuncha demo --roads FILE``,
clipped to the communities) or stored for the deployment (``xuncha roads import``); otherwise
the straight line × 1.3, and each squad's summary says which (``travel``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd

from geo.boundaries import DefaultArea, load_default
from geo.io.tables import write_geojson
from service.storage import CaseFilter, Storage

DATA_LABEL = "模拟数据，仅供演示"
CASE_COLUMNS = ["case_id", "category", "reported_at", "lon", "lat", "description", "address",
                "source", "status", "closed_at", "community"]


@dataclass
class DemoResult:
    """Where the demo wrote what, with counts and step timings (seconds)."""

    out: Path
    day: date
    files: dict[str, Path] = field(default_factory=dict)
    squads: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    squads_note: str = ""
    travel: str = ""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (also written as ``summary.json``)."""
        return {"day": self.day.isoformat(), "out": str(self.out), "counts": self.counts,
                "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
                "files": {k: str(v.relative_to(self.out)) for k, v in self.files.items()},
                "squads": self.squads, "data_label": DATA_LABEL, "travel": self.travel}


def default_day(tz: str = "Asia/Shanghai") -> date:
    """Tomorrow in the deployment's time zone."""
    return datetime.now(ZoneInfo(tz)).date() + timedelta(days=1)


class Demo:
    """One run of the demo; each public method is one step (see :func:`run_demo`)."""

    def __init__(self, out: Path, *, day: date, db_url: str | None, tz: str,
                 working_crs: str, area: DefaultArea | None = None,
                 roads: Path | None = None) -> None:
        self.out = out
        self.day = day
        self.tz = tz
        self.working_crs = working_crs
        self.roads = roads
        self.area = area or load_default()
        out.mkdir(parents=True, exist_ok=True)
        if db_url is None:
            db_file = out / "xuncha-demo.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_file}{suffix}").unlink(missing_ok=True)
            db_url = f"sqlite:///{db_file}"
        self.storage = Storage(db_url, tz=tz)
        self.result = DemoResult(out=out, day=day)
        self.hotspots: gpd.GeoDataFrame | None = None
        self.forecast: gpd.GeoDataFrame | None = None
        self.relocation: gpd.GeoDataFrame | None = None
        self.catchments: gpd.GeoDataFrame | None = None
        self.plans: list[Any] = []

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Record how long the block ``name`` took."""
        t0 = time.perf_counter()
        yield
        self.result.timings[name] = time.perf_counter() - t0

    def simulate(self) -> None:
        """Simulate the year before the plan day and write it as a case export (CSV)."""
        from geo.sheets.tabular import write_csv_table
        from geo.simulate.generator import simulate_cases

        start = self.day - timedelta(days=365)
        cases, truth = simulate_cases(self.area, start=start.isoformat(), days=365)
        path = self.out / "data" / "cases_simulated.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv_table(path, cases[CASE_COLUMNS])
        self.result.files["cases_csv"] = path
        self.result.files["truth_geojson"] = write_geojson(
            truth, self.out / "data" / "truth_hotspots_simulated.geojson")
        self.result.counts["cases_simulated"] = len(cases)

    def import_cases(self) -> None:
        """Import the CSV through the importer (validation, community join, one transaction)."""
        from service.importer import import_file

        # simulated cases may lie after today when the demo plans a future --date
        report = import_file(self.storage, self.result.files["cases_csv"], actor="demo",
                             allow_future=True)
        self.result.counts["cases_imported"] = report.inserted + report.updated
        self.result.counts["cases_rejected"] = report.rejected

    def find_hotspots(self) -> None:
        """Hotspots of the last 90 days (all categories), tagged with Gi* significance."""
        from geo.analysis.hotspots import find_hotspots, hotspots_to_geojson

        start = pd.Timestamp(self.day, tz=self.tz)
        recent = self.storage.query_cases(CaseFilter(start=start - pd.Timedelta(days=90), end=start))
        self.hotspots = find_hotspots(recent, at=start, communities=self.storage.communities(),
                                      working_crs=self.working_crs)
        path = self.out / "hotspots.geojson"
        path.write_text(json.dumps(hotspots_to_geojson(self.hotspots), ensure_ascii=False),
                        encoding="utf-8")
        self.result.files["hotspots"] = path
        self.result.counts["hotspots"] = len(self.hotspots)

    def forecast_week(self) -> None:
        """Forecast next week's 150 m cells over the communities (default model)."""
        from geo.forecast.cells import forecast_cells

        cases = self.storage.query_cases()
        area = self.area.communities.to_crs(self.working_crs)
        cells = forecast_cells(cases, at=pd.Timestamp(self.day, tz=self.tz), horizon_days=7,
                               cell_m=150, area=area, crs=self.working_crs)
        self.forecast = cells.to_crs(4326)
        self.result.files["forecast"] = write_geojson(
            self.forecast[self.forecast["rank"] <= 200], self.out / "forecast_top200.geojson")

    def site_relocation(self) -> None:
        """Default scenario: 5 relocation points covering stall demand within a 500 m walk."""
        from geo.sheets.tabular import write_xlsx_tables
        from geo.siting.district import relocation_scenario
        from geo.siting.frames import siting_geojson_frames, siting_tables

        scenario = relocation_scenario(
            self.storage.query_cases(), at=pd.Timestamp(self.day, tz=self.tz),
            communities=self.area.communities, landmarks=self.area.landmarks, sites=5,
            radius_m=500.0, working_crs=self.working_crs)
        points, catchments = siting_geojson_frames(scenario.sites)
        self.relocation, self.catchments = points, catchments
        self.result.files["relocation"] = write_geojson(points, self.out / "relocation_points.geojson")
        write_geojson(catchments, self.out / "relocation_catchments.geojson")
        xlsx = self.out / "relocation_points.xlsx"
        write_xlsx_tables(xlsx, siting_tables(scenario.sites))
        self.result.files["relocation_xlsx"] = xlsx
        summary = scenario.summary
        self.result.counts["relocation_points"] = len(points)
        self.result.squads_note = (f"疏导点：{len(points)} 个，500 米步行范围覆盖摊贩需求的 "
                                   f"{summary.get('covered_share', 0.0):.0%}"
                                   f"（{'已证明最优' if summary.get('optimal') else '近似解'}）")

    def plan_squads(self, advance: Callable[[str], None]) -> None:
        """Plan, store and write the day of every squad (routes, sheets, map)."""
        from service.demo_outputs import write_plan_files
        from service.plans import make_plan, plan_inputs

        inputs = plan_inputs(self.storage, self.day, working_crs=self.working_crs,
                             roads=self.roads)
        self.result.travel = inputs.travel.label
        for squad in self.storage.squads():
            advance(f"规划 {squad['name']}")
            plan = make_plan(self.storage, squad, inputs, relocation_points=self.relocation,
                             working_crs=self.working_crs, created_by="demo")
            folder = self.out / "squads" / squad["id"]
            # one PDF per squad holds every team's sheet; per team: print-friendly HTML + XLSX
            write_plan_files(plan, folder, communities=inputs.communities,
                             stations=inputs.stations, data_label=DATA_LABEL,
                             formats=("html", "xlsx"), with_map=False)
            self.plans.append(plan)
            self._squad_outputs(plan, folder, inputs.communities, inputs.stations)

    def _squad_outputs(self, plan: Any, folder: Path, communities: gpd.GeoDataFrame,
                       stations: gpd.GeoDataFrame) -> None:
        from service.demo_outputs import squad_map_file, squad_sheet_files

        sid = plan.squad_id
        comm = communities[communities["squad"] == sid]
        pdf, xlsx = squad_sheet_files(plan, folder, communities=comm, data_label=DATA_LABEL)
        cases = self.storage.query_cases(CaseFilter(squads=(sid,), start=pd.Timestamp(
            self.day, tz=self.tz) - pd.Timedelta(days=28)))
        html = squad_map_file(plan, folder, communities=comm, stations=stations, cases=cases,
                              hotspots=self.hotspots, forecast=self.forecast,
                              relocation=self.relocation, catchments=self.catchments,
                              data_label=DATA_LABEL)
        self.result.squads.append({
            "id": sid, "name": plan.squad.get("name", sid), "map": str(html.relative_to(self.out)),
            "pdf": str(pdf.relative_to(self.out)), "xlsx": str(xlsx.relative_to(self.out)),
            "teams": len(plan.routes), "stops": len(plan.visits()),
            "distance_km": round(plan.distance_m / 1000, 1), "feasible": plan.feasible,
            "travel": str(plan.travel.get("label", "")),
            "warnings": list(plan.warnings)})

    def write_index(self) -> None:
        """Write ``index.html`` and ``summary.json``."""
        from service.demo_outputs import index_html

        path = self.out / "index.html"
        path.write_text(index_html(self.result, hotspots=self.hotspots,
                                   relocation=self.relocation), encoding="utf-8")
        self.result.files["index"] = path
        summary = self.out / "summary.json"
        self.result.files["summary"] = summary
        summary.write_text(json.dumps(self.result.summary(), ensure_ascii=False, indent=1),
                           encoding="utf-8")
