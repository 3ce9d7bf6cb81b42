"""Community boundaries, work stations and squads: the embedded Xiaonan default and checks.

:func:`load_default` returns the embedded 孝南区 default (real district outline; 53 communities with
real names and NBS codes but *approximate* polygons; a work station per community; five squads
with fictitious staff). :func:`validate_boundaries` checks any community layer (a deployment's
own file) and collects every problem before raising. :func:`assign_community` joins points to
the community that contains them, deterministically on shared edges. :class:`Squad` is the typed
record of one squad (中队) as ``squads.json`` and the service's squad table hold it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import require_crs, require_metric, to_working
from geo.errors import CRSError, InputError, NotFoundError, Problem, ValidationError
from geo.io.files import read_default_files

MARKET_KINDS = ("morning_market", "night_market")
DEFAULT_ROLE = "城管队员"


@dataclass(frozen=True)
class StaffMember:
    """One person of a squad: ``id``, ``name``, ``role`` (城管队员 / 市政 / 园林 / 环卫), the
    ``station`` (community code of the work station) and whether the name is ``fictitious``."""

    id: str
    name: str
    role: str = DEFAULT_ROLE
    station: str = ""
    fictitious: bool = False

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any]) -> StaffMember:
        """A staff member from its ``squads.json`` record (missing name: the id)."""
        sid = str(record.get("id", ""))
        return cls(id=sid, name=str(record.get("name", sid)),
                   role=str(record.get("role", DEFAULT_ROLE)),
                   station=str(record.get("station", "") or ""),
                   fictitious=bool(record.get("fictitious", False)))


@dataclass(frozen=True, eq=False)
class Squad(Mapping[str, Any]):
    """A squad (中队): its communities, staff and patrol teams.

    Read-only mapping access (``squad["communities"]``, ``squad.get("name")``) returns the
    record as given, so code written for the ``squads.json`` dicts keeps working; new code uses
    the attributes.

    Attributes
    ----------
    id, name : str
    street, street_code : str
        The sub-district (街道) and its code.
    communities : tuple of str
        Codes of the communities the squad patrols.
    leader : str
        Staff id of the squad leader.
    officer_count : int
    staff : tuple of StaffMember
    teams : tuple of dict
        Patrol teams as given (``id``, ``name``, ``members``, ``start_station``,
        ``end_station``, ``shift_start``, ``shift_end``, optional ``break`` and ``mode``), read
        by :mod:`geo.planning.clock`.
    record : mapping
        The record as given (what mapping access reads).
    """

    id: str
    name: str
    street: str = ""
    street_code: str = ""
    communities: tuple[str, ...] = ()
    leader: str = ""
    officer_count: int = 0
    staff: tuple[StaffMember, ...] = ()
    teams: tuple[dict[str, Any], ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_mapping(cls, record: Squad | Mapping[str, Any]) -> Squad:
        """The squad of a ``squads.json`` record or a service squad dict (a Squad: itself)."""
        if isinstance(record, Squad):
            return record
        sid = str(record.get("id", ""))
        count = record.get("officer_count", 0)
        return cls(
            id=sid, name=str(record.get("name", sid)), street=str(record.get("street", "") or ""),
            street_code=str(record.get("street_code", "") or ""),
            communities=tuple(str(c) for c in record.get("communities", None) or ()),
            leader=str(record.get("leader", "") or ""),
            officer_count=int(count) if isinstance(count, int | float) else 0,
            staff=tuple(StaffMember.from_mapping(m) for m in record.get("staff", None) or ()
                        if isinstance(m, Mapping)),
            teams=tuple(t if isinstance(t, dict) else dict(t)
                        for t in record.get("teams", None) or () if isinstance(t, Mapping)),
            record=dict(record))

    def staff_member(self, staff_id: str) -> StaffMember | None:
        """The staff member with id ``staff_id``, or None."""
        return next((m for m in self.staff if m.id == staff_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (JSON-ready when the record was)."""
        return dict(self.record) if self.record else {"id": self.id, "name": self.name}

    def __getitem__(self, key: str) -> Any:
        if not self.record:
            return self.to_dict()[key]
        return self.record[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.record or self.to_dict())

    def __len__(self) -> int:
        return len(self.record or self.to_dict())


@dataclass(frozen=True)
class DefaultArea:
    """The embedded default deployment area (孝南区 urban core).

    Attributes
    ----------
    district : GeoDataFrame
        The real district outline (EPSG:4326, one feature, attributed in ``source``).
    communities : GeoDataFrame
        53 communities: ``code`` (12-digit NBS code), ``name``, ``full_name``, ``street``,
        ``street_code``, ``squad``, ``approximate`` (True: the polygons are not real boundaries),
        ``area_m2``; Polygon geometry in EPSG:4326.
    stations : GeoDataFrame
        One work station (工作站) Point per community: ``code``, ``name``, ``community_code``,
        ``squad``.
    squads : list of dict
        The records of ``squads.json`` as read (``{"id", "name", "street", "communities":
        [codes], "leader", "officer_count", "staff": [...], "teams": [...]}``; staff names are
        fictitious), stored as is by the service; :meth:`squad` and :attr:`squad_records` give
        them as :class:`Squad`.
    landmarks : GeoDataFrame
        Simulated markets, night markets, old compounds, green spaces, schools, recycling
        stations (Points/Polygons) and main roads (LineStrings), with ``kind`` and ``name``.
    """

    district: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    squads: list[dict[str, Any]]
    landmarks: gpd.GeoDataFrame = field(repr=False)

    @property
    def markets(self) -> gpd.GeoDataFrame:
        """The morning and night markets among the landmarks."""
        return self.landmarks[self.landmarks["kind"].isin(MARKET_KINDS)].copy()

    @property
    def squad_records(self) -> tuple[Squad, ...]:
        """Every squad as a :class:`Squad`, in file order."""
        return tuple(Squad.from_mapping(s) for s in self.squads)

    def squad(self, squad_id: str) -> Squad:
        """The squad with id ``squad_id``.

        Raises
        ------
        NotFoundError
            If there is no such squad.
        """
        for s in self.squads:
            if s["id"] == squad_id:
                return Squad.from_mapping(s)
        known = "、".join(s["id"] for s in self.squads)
        raise NotFoundError(f"没有编号为「{squad_id}」的中队；可用的中队编号：{known}。")


def load_default(directory: Path | None = None) -> DefaultArea:
    """Load the embedded Xiaonan default from ``data/boundaries/``.

    Parameters
    ----------
    directory : Path, optional
        Another folder with the same files (tests); the repository's ``data/boundaries`` if None.

    Returns
    -------
    DefaultArea
        Validated communities, stations, squads, landmarks and the district outline.

    Raises
    ------
    NotFoundError, FileReadError
        If files are missing or unreadable.
    ValidationError
        If the community polygons fail :func:`validate_boundaries`.
    """
    raw = read_default_files(directory)
    communities = validate_boundaries(raw["communities"], nbs_codes=True)
    communities = communities.sort_values("code", kind="stable").reset_index(drop=True)
    stations = raw["stations"].sort_values("community_code", kind="stable").reset_index(drop=True)
    return DefaultArea(
        district=raw["district"],
        communities=communities,
        stations=stations,
        squads=list(raw["squads"]["squads"]),
        landmarks=raw["landmarks"],
    )


def validate_boundaries(
    communities: gpd.GeoDataFrame,
    *,
    code_column: str = "code",
    name_column: str = "name",
    nbs_codes: bool = False,
    max_overlap_m2: float = 1.0,
) -> gpd.GeoDataFrame:
    """Check a community layer; collect every problem, then raise or return a clean copy.

    Checks: a CRS is present; the code and name columns exist; every geometry is a non-empty,
    valid Polygon or MultiPolygon; codes are present and unique (and 12 digits when
    ``nbs_codes``); no two polygons overlap by more than ``max_overlap_m2``.

    Parameters
    ----------
    communities : GeoDataFrame
        One row per community.
    code_column, name_column : str
        Names of the id and name columns.
    nbs_codes : bool
        Require 12-digit statistical division codes (统计用区划代码).
    max_overlap_m2 : float
        Largest overlap area tolerated between two polygons, in square metres.

    Returns
    -------
    GeoDataFrame
        A copy with the code column as str, aligned to the input index.

    Raises
    ------
    ValidationError
        With one :class:`~geo.errors.Problem` per issue (row = feature number + 1, as in a
        spreadsheet with a header row).
    """
    problems: list[Problem] = []
    if communities.crs is None:
        problems.append(Problem(0, "geometry", "", "社区边界没有坐标参考系（CRS）；请用 set_crs() 指定，例如 EPSG:4326。"))
    for col in (code_column, name_column):
        if col not in communities.columns:
            problems.append(Problem(0, col, "", f"缺少列「{col}」；社区边界需要编号列与名称列。"))
    out = communities.copy()
    if code_column in out.columns:
        out[code_column] = pd.Series(
            [None if _missing(v) else str(v).strip() for v in out[code_column]],
            index=out.index, dtype=object,
        )
        problems += _code_problems(out[code_column], code_column, nbs_codes)
    geom_ok, geom_problems = _geometry_problems(out)
    problems += geom_problems
    if communities.crs is not None and geom_ok.any():
        problems += _overlap_problems(out, geom_ok, code_column, max_overlap_m2)
    if problems:
        raise ValidationError(problems, what="社区边界")
    return out


def _missing(v: object) -> bool:
    return v is None or bool(pd.isna(v)) or str(v).strip() == ""


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` itself when already projected in metres, else in the working CRS."""
    try:
        require_metric(gdf.crs)
    except CRSError:
        return to_working(gdf)
    return gdf


def _code_problems(codes: pd.Series, column: str, nbs_codes: bool) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for pos, code in enumerate(codes):
        row = pos + 2
        if _missing(code):
            problems.append(Problem(row, column, "", "社区编号为空；每个社区需要唯一编号。"))
            continue
        if nbs_codes and not (len(code) == 12 and code.isdigit()):
            problems.append(Problem(row, column, code, "社区编号应为 12 位数字的统计用区划代码。"))
        if code in seen:
            problems.append(Problem(row, column, code, f"社区编号与第 {seen[code]} 行重复；编号必须唯一。"))
        else:
            seen[code] = row
    return problems


def _geometry_problems(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, list[Problem]]:
    problems = []
    ok = np.zeros(len(gdf), dtype=bool)
    for pos, geom in enumerate(gdf.geometry):
        row = pos + 2
        if geom is None or geom.is_empty:
            problems.append(Problem(row, "geometry", "", "几何为空；每个社区需要一个面（Polygon）。"))
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Problem(row, "geometry", geom.geom_type, "社区几何必须是 Polygon 或 MultiPolygon。"))
        elif not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            problems.append(Problem(row, "geometry", reason, "多边形无效（自相交等）；请在 GIS 中修复，例如 QGIS「修复几何」。"))
        else:
            ok[pos] = True
    return ok, problems


def _overlap_problems(
    gdf: gpd.GeoDataFrame, ok: np.ndarray, code_column: str, max_m2: float
) -> list[Problem]:
    positions = np.flatnonzero(ok)
    work = _metric(gdf.iloc[positions])
    geoms = work.geometry.to_numpy()
    left, right = work.sindex.query(geoms, predicate="intersects")
    problems = []
    codes = gdf[code_column].to_numpy()[positions] if code_column in gdf.columns else positions
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        area = float(shapely.area(shapely.intersection(geoms[i], geoms[j])))
        if area > max_m2:
            problems.append(Problem(
                int(positions[j]) + 2, "geometry", str(codes[j]),
                f"与社区「{codes[i]}」重叠 {area:.1f} 平方米（允许 {max_m2:g}）；请修正边界使社区互不重叠。",
            ))
    return problems


def assign_community(points: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Find the community containing each point.

    A point on an edge shared by several communities goes to the one with the smallest code,
    so the result does not depend on row order. Points outside every community get None.

    Parameters
    ----------
    points : GeoDataFrame
        Point geometries with a CRS (any; reprojected to the communities' CRS).
    communities : GeoDataFrame
        With ``code``, ``name`` and optionally ``squad`` columns and a CRS.

    Returns
    -------
    DataFrame
        Aligned to ``points.index``: ``community_code``, ``community``, ``squad`` (object
        columns, None where no community contains the point).

    Raises
    ------
    CRSError
        If either layer has no CRS.
    InputError
        If ``communities`` lacks the ``code`` or ``name`` column.
    """
    require_crs(points, what="点数据")
    require_crs(communities, what="社区边界")
    for col in ("code", "name"):
        if col not in communities.columns:
            raise InputError(f"社区边界缺少列「{col}」，无法把点归属到社区。")
    comm = communities.reset_index(drop=True)
    pts = points.geometry.to_crs(comm.crs) if points.crs != comm.crs else points.geometry
    geoms = pts.to_numpy()
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    p_idx, c_idx = comm.sindex.query(geoms[valid], predicate="intersects")
    p_idx = np.flatnonzero(valid)[p_idx]
    codes = comm["code"].astype(str).to_numpy()
    pairs = pd.DataFrame({"p": p_idx, "c": c_idx, "code": codes[c_idx]})
    best = pairs.sort_values(["p", "code"], kind="stable").drop_duplicates("p")
    squads = comm["squad"].to_numpy() if "squad" in comm.columns else np.full(len(comm), None)
    out = pd.DataFrame(
        {"community_code": np.full(len(points), None, dtype=object),
         "community": np.full(len(points), None, dtype=object),
         "squad": np.full(len(points), None, dtype=object)},
        index=points.index,
    )
    rows = best["p"].to_numpy()
    cols = best["c"].to_numpy()
    out.iloc[rows, 0] = codes[cols]
    out.iloc[rows, 1] = comm["name"].astype(str).to_numpy()[cols]
    out.iloc[rows, 2] = squads[cols]
    return out

