"""A district (区县) from a community boundary file and its squads: validated, ready to store.

:func:`build_district` reads the file (:mod:`geo.boundary_files`), checks the communities with
:func:`geo.boundaries.validate_boundaries` (closed, valid polygons, unique codes, no two polygons
overlapping by more than ``max_overlap_m2`` square metres, measured in the working CRS) and checks
that every community belongs to exactly one squad. The squads come from a ``squads.json``
(``{"squads": [{"id", "name", "communities": [codes], …}]}``, the format of the embedded
default) or, without one, from the file's ``squad`` column. Every problem is collected before
:class:`~geo.errors.ValidationError` is raised; each names the feature, the community and what to
fix. The result is in EPSG:4326 with one work station per community (a point inside it, marked
approximate) and the district outline (the union of its communities).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.boundaries import validate_boundaries
from geo.boundary_files import read_boundary_file
from geo.crs import to_working
from geo.errors import InputError, Problem, ValidationError

DEFAULT_MAX_OVERLAP_M2 = 1.0
"""Overlap tolerated between two communities, in m² (digitising slivers on shared edges)."""
CODE_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,12}$")
"""A district code: the 6-digit division code (420902) or up to 12 letters, digits, ``-``, ``_``."""
LIMITS = {"code": 16, "name": 64, "squad": 32, "street": 64, "full_name": 128}
"""Longest text the database keeps for each community column."""


@dataclass(frozen=True)
class DistrictLayers:
    """A validated district, in EPSG:4326.

    Attributes
    ----------
    code, name, city : str
    outline : MultiPolygon
        The union of the communities.
    communities : GeoDataFrame
        ``code``, ``name``, ``full_name``, ``street``, ``squad``, ``approximate``, ``area_m2``.
    stations : GeoDataFrame
        One work station per community: ``code``, ``name``, ``community_code``, ``squad``.
    squads : list of dict
        Squad records (``id``, ``name``, ``street``, ``communities`` and the file's other fields).
    source_crs : str
        The CRS of the file.
    """

    code: str
    name: str
    city: str
    outline: MultiPolygon
    communities: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    squads: list[dict[str, Any]]
    source_crs: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def check_district_fields(code: str, name: str) -> None:
    """Raise :class:`InputError` unless ``code`` and ``name`` are a valid district code and name."""
    if not CODE_PATTERN.match(code or ""):
        raise InputError(f"区县编码「{(code or '')[:40]}」无效；请用行政区划代码（如 420902）或 1–12 个"
                         "字母、数字、-、_。")
    if not name.strip() or len(name) > 64:
        raise InputError("区县名称不能为空，且不超过 64 个字符（如 孝南区）。")


def build_district(path: Path, *, code: str, name: str, city: str = "",
                   squads: Sequence[Mapping[str, Any]] | None = None, crs: str | None = None,
                   layer: str | None = None,
                   max_overlap_m2: float = DEFAULT_MAX_OVERLAP_M2) -> DistrictLayers:
    """Read and validate a district's communities and squads.

    Parameters
    ----------
    path : Path
        The community boundary file (columns ``code``, ``name``; optional ``squad``, ``street``,
        ``full_name``).
    code, name, city : str
        The district's code, name and city.
    squads : sequence of mapping, optional
        The squad records (``squads.json``); None: from the file's ``squad`` column.
    crs : str, optional
        The file's CRS when it declares none.
    layer : str, optional
        GeoPackage layer.
    max_overlap_m2 : float
        Overlap tolerated between two communities, in square metres.

    Returns
    -------
    DistrictLayers

    Raises
    ------
    InputError
        Bad code or name; :class:`~geo.errors.CRSError` without a CRS; FileReadError.
    ValidationError
        One problem per bad feature or squad (nothing is returned).
    """
    check_district_fields(code, name)
    read = read_boundary_file(path, crs=crs, layer=layer)
    problems = list(read.problems)
    unreadable = {p.row for p in problems}
    try:
        comm = validate_boundaries(read.frame, max_overlap_m2=max_overlap_m2)
    except ValidationError as exc:
        problems += [p for p in exc.problems
                     if not (p.row in unreadable and p.column == "geometry")]
        comm = None
    base = comm if comm is not None else read.frame
    records = _squad_records(base, squads, problems) if "code" in base.columns else []
    problems += _text_problems(base)
    if comm is None or problems:
        raise ValidationError(_named(problems, base), what=f"边界文件 {path.name}")
    return _assemble(comm, records, code=code, name=name, city=city, crs=_crs_name(read.crs))


def _crs_name(crs: Any) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else str(crs.name)


def overlaps_with(new: gpd.GeoDataFrame, stored: gpd.GeoDataFrame, *,
                  max_overlap_m2: float = DEFAULT_MAX_OVERLAP_M2) -> list[Problem]:
    """A problem for each community of ``new`` overlapping a ``stored`` one (another district's)
    by more than ``max_overlap_m2`` square metres (both layers with ``code`` and ``name``)."""
    if len(new) == 0 or len(stored) == 0:
        return []
    work = to_working(new)
    other = stored.to_crs(work.crs)
    left, right = other.sindex.query(work.geometry.to_numpy(), predicate="intersects")
    problems = []
    for i, j in zip(left, right, strict=True):
        area = float(shapely.area(shapely.intersection(work.geometry.iloc[i],
                                                       other.geometry.iloc[j])))
        if area > max_overlap_m2:
            problems.append(Problem(
                int(i) + 2, "geometry", str(new["code"].iloc[i]),
                f"第 {i + 1} 个要素（社区 {new['code'].iloc[i]} {new['name'].iloc[i]}）：与已有区县的社区"
                f"「{other['code'].iloc[j]} {other['name'].iloc[j]}」重叠 {area:.1f} 平方米（允许 "
                f"{max_overlap_m2:g}）；不同区县的社区不能重叠，请修正边界。"))
    return problems


def _named(problems: list[Problem], frame: gpd.GeoDataFrame) -> list[Problem]:
    """The problems with the community's code and name in front of each message."""
    codes = frame["code"].tolist() if "code" in frame.columns else [None] * len(frame)
    names = frame["name"].tolist() if "name" in frame.columns else [None] * len(frame)
    out = []
    for p in problems:
        pos = p.row - 2
        if 0 <= pos < len(frame):
            who = " ".join(str(v) for v in (codes[pos], names[pos]) if v is not None and str(v))
            p = Problem(p.row, p.column, p.value,
                        f"第 {pos + 1} 个要素（社区 {who or '无编号'}）：{p.message}")
        out.append(p)
    return out


def _squad_records(comm: gpd.GeoDataFrame, squads: Sequence[Mapping[str, Any]] | None,
                   problems: list[Problem]) -> list[dict[str, Any]]:
    """The squad records, with every community in exactly one squad (else problems)."""
    codes = [_text(c) for c in comm["code"]]
    rows = {c: pos + 2 for pos, c in reversed(list(enumerate(codes))) if c}
    column = [None if _blank(v) else str(v).strip() for v in
              (comm["squad"] if "squad" in comm.columns else [None] * len(comm))]
    if squads is None:
        ids = sorted({s for s in column if s})
        squads = [{"id": s, "name": s, "communities": [c for c, k in zip(codes, column, strict=True)
                                                        if k == s]} for s in ids]
    owners: dict[str, list[str]] = {c: [] for c in codes if c}
    records: list[dict[str, Any]] = []
    for n, raw in enumerate(squads, start=1):
        record = dict(raw)
        sid = str(record.get("id") or "").strip()
        if not sid or len(sid) > LIMITS["squad"]:
            problems.append(Problem(0, "squads", sid, f"第 {n} 个中队的编号为空或超过 32 个字符。"))
            continue
        if any(r["id"] == sid for r in records):
            problems.append(Problem(0, "squads", sid, f"中队编号「{sid}」重复；每个中队编号只能出现一次。"))
            continue
        for c in (str(x) for x in record.get("communities") or ()):
            if c in owners:
                owners[c].append(sid)
            else:
                problems.append(Problem(0, "squads", c, f"中队「{sid}」列出的社区「{c}」不在边界文件中。"))
        record.update(id=sid, name=str(record.get("name") or sid)[:64],
                      street=str(record.get("street") or "")[:64])
        records.append(record)
    for c, sids in owners.items():
        problems += _owner_problems(c, sids, column[rows[c] - 2], rows[c])
    return records


def _owner_problems(code: str, sids: list[str], in_file: str | None, row: int) -> list[Problem]:
    if not sids:
        return [Problem(row, "squad", code, "不属于任何中队；请在 squads.json 某个中队的 communities "
                        "中列出它，或在边界文件的 squad 列填写中队编号。")]
    if len(sids) > 1:
        return [Problem(row, "squad", code, f"同时属于中队 {'、'.join(sids)}；每个社区只能属于一个中队。")]
    if in_file and in_file != sids[0]:
        return [Problem(row, "squad", in_file, f"边界文件写的中队「{in_file}」与 squads.json 中的「{sids[0]}」"
                        "不一致；请改成一致。")]
    return []


def _text_problems(comm: gpd.GeoDataFrame) -> list[Problem]:
    problems = []
    for col, limit in LIMITS.items():
        if col == "squad" or col not in comm.columns:
            continue
        for pos, v in enumerate(comm[col]):
            if not _blank(v) and len(str(v)) > limit:
                problems.append(Problem(pos + 2, col, str(v)[:40], f"超过 {limit} 个字符；请缩短。"))
    for pos, v in enumerate(comm["name"] if "name" in comm.columns else ()):
        if _blank(v):
            problems.append(Problem(pos + 2, "name", "", "社区名称为空；每个社区需要名称。"))
    return problems


def _blank(v: object) -> bool:
    return v is None or bool(pd.isna(v)) or str(v).strip() == ""  # type: ignore[arg-type]


def _text(v: object, default: str = "") -> str:
    return default if _blank(v) else str(v).strip()


def _assemble(comm: gpd.GeoDataFrame, records: list[dict[str, Any]], *, code: str, name: str,
              city: str, crs: str) -> DistrictLayers:
    owner = {str(c): r["id"] for r in records for c in r.get("communities") or ()}
    street = {r["id"]: r.get("street", "") for r in records}
    area = to_working(comm).geometry.area.to_numpy()
    wgs = comm.to_crs(4326)
    out = gpd.GeoDataFrame({
        "code": [str(c) for c in wgs["code"]],
        "name": [_text(v) for v in wgs["name"]],
        "full_name": [_text(wgs.get("full_name", wgs["name"]).iloc[i], _text(wgs["name"].iloc[i]))
                      for i in range(len(wgs))],
        "street": [_text(wgs["street"].iloc[i], street[owner[str(c)]]) if "street" in wgs.columns
                   else street[owner[str(c)]] for i, c in enumerate(wgs["code"])],
        "squad": [owner[str(c)] for c in wgs["code"]],
        "approximate": [bool(v) if not _blank(v) else False
                        for v in wgs.get("approximate", pd.Series([False] * len(wgs)))],
        "area_m2": [round(float(a), 1) for a in area],
    }, geometry=[MultiPolygon([g]) if isinstance(g, Polygon) else g for g in wgs.geometry],
        crs=4326)
    points = [g.representative_point() for g in out.geometry]
    stations = gpd.GeoDataFrame({
        "code": [f"ZS{c}" for c in out["code"]], "name": [f"{n}城管工作站" for n in out["name"]],
        "community_code": list(out["code"]), "squad": list(out["squad"])},
        geometry=points, crs=4326)
    union = shapely.union_all(out.geometry.to_numpy())
    outline = union if isinstance(union, MultiPolygon) else MultiPolygon(
        [g for g in getattr(union, "geoms", [union]) if isinstance(g, Polygon)])
    for r in records:
        r["district_code"] = code
    return DistrictLayers(code=code, name=name.strip(), city=city.strip(), outline=outline,
                          communities=out, stations=stations, squads=records, source_crs=crs,
                          data={"source_crs": crs, "stations": "每个社区一个示意工作站（社区内一点）"})
