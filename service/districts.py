"""Districts (区县) of the deployment: list them, store an imported one, scope users to one.

A district is a ``districts`` row plus its squads (``squads.district_code``), their communities and
work stations. :func:`store_district` writes all of them in one transaction: any problem (the code
exists and ``replace`` is off, a squad, community or station code belongs to another district, a
community overlaps one of another district, a replaced community still has cases) raises before
the commit, so the stored districts stay as they were. The boundary file itself is read and validated by :func:`geo.districts.build_district`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from geo.districts import DEFAULT_MAX_OVERLAP_M2, DistrictLayers, overlaps_with
from geo.errors import ValidationError
from service.errors import ConflictError
from service.models import Case, Community, District, Squad, Station, User
from service.storage import Storage, ewkt, from_db_geometry


@dataclass(frozen=True)
class DistrictSummary:
    """One district as ``xuncha boundaries list`` shows it."""

    code: str
    name: str
    city: str
    squads: int
    communities: int
    stations: int


def list_districts(storage: Storage) -> list[DistrictSummary]:
    """Every district by code, with the number of its squads, communities and stations."""
    with storage.begin() as session:
        districts = session.scalars(select(District).order_by(District.code)).all()
        return [_summary(session, d) for d in districts]


def district_choices(storage: Storage) -> list[dict[str, str]]:
    """The districts as a form offers them: code and label (the name; with the city where two
    districts share a name)."""
    found = list_districts(storage)
    names = [d.name for d in found]
    return [{"code": d.code, "label": d.name if names.count(d.name) == 1 or not d.city
             else f"{d.name}（{d.city}）"} for d in found]


def _count(session: Session, model: type[Community] | type[Station], code: str) -> int:
    stmt = (select(func.count()).select_from(model).join(Squad, model.squad_id == Squad.id)
            .where(Squad.district_code == code))
    return int(session.scalar(stmt) or 0)


def _summary(session: Session, d: District) -> DistrictSummary:
    n_squads = session.scalar(select(func.count()).select_from(Squad)
                              .where(Squad.district_code == d.code))
    return DistrictSummary(code=d.code, name=d.name, city=d.city, squads=int(n_squads or 0),
                           communities=_count(session, Community, d.code),
                           stations=_count(session, Station, d.code))


def district_exists(storage: Storage, code: str) -> bool:
    """Whether a district with ``code`` is stored."""
    with storage.begin() as session:
        return session.get(District, code) is not None


def store_district(storage: Storage, layers: DistrictLayers, *, replace: bool = False,
                   max_overlap_m2: float = DEFAULT_MAX_OVERLAP_M2) -> DistrictSummary:
    """Store a validated district with its squads, communities and stations (one transaction).

    Parameters
    ----------
    storage : Storage
    layers : DistrictLayers
        From :func:`geo.districts.build_district`.
    replace : bool
        Replace the district of the same code (its communities and squads not in ``layers`` are
        removed, which needs them to have no cases, users or plans).
    max_overlap_m2 : float
        Overlap tolerated between a community of ``layers`` and one of another district, in m².

    Raises
    ------
    ConflictError
        The code exists (without ``replace``), or a squad, community or station code belongs to
        another district, or a community or squad to be removed is still in use. Nothing changes.
    ValidationError
        A community overlaps one of another district (each named). Nothing changes.
    """
    with storage.begin() as session:
        old = session.get(District, layers.code)
        if old is not None and not replace:
            raise ConflictError(f"区县编码 {layers.code}（{old.name}）已存在，未做任何修改；"
                                "如要替换它的边界和中队，请加 --replace。")
        _check_foreign(session, layers)
        problems = overlaps_with(layers.communities, _other_communities(session, layers.code),
                                 max_overlap_m2=max_overlap_m2)
        if problems:
            raise ValidationError(problems, what=f"区县 {layers.code} 的社区边界")
        if old is None:
            old = District(code=layers.code)
            session.add(old)
        old.name, old.city = layers.name, layers.city
        old.geom, old.data = ewkt(layers.outline), dict(layers.data)
        session.flush()
        _write_rows(session, layers)
        session.flush()
        return _summary(session, old)


def _other_communities(session: Session, code: str) -> gpd.GeoDataFrame:
    """The stored communities of every other district (WGS84, ``code`` and ``name``)."""
    rows = session.execute(
        select(Community.code, Community.name, Community.geom)
        .join(Squad, Community.squad_id == Squad.id)
        .where(or_(Squad.district_code.is_(None), Squad.district_code != code))).all()
    return gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [r[1] for r in rows]},
                            geometry=[from_db_geometry(r[2]) for r in rows], crs=4326)


def _check_foreign(session: Session, layers: DistrictLayers) -> None:
    """Raise if a squad, community or station code of ``layers`` is another district's."""
    code = layers.code
    clashes = []
    squads = [s["id"] for s in layers.squads]
    rows = session.execute(select(Squad.id, Squad.district_code).where(Squad.id.in_(squads))).all()
    clashes += [f"中队「{sid}」（属于区县 {dc or '未知'}）" for sid, dc in rows if dc != code]
    for model, key, values, what in (
            (Community, Community.code, list(layers.communities["code"]), "社区"),
            (Station, Station.code, list(layers.stations["code"]), "工作站")):
        stmt = (select(key, Squad.district_code).join(Squad, model.squad_id == Squad.id)
                .where(key.in_(values)))
        clashes += [f"{what}「{c}」（属于区县 {dc or '未知'}）" for c, dc in session.execute(stmt)
                    if dc != code]
    if clashes:
        shown = "、".join(clashes[:10]) + (f" 等 {len(clashes)} 处" if len(clashes) > 10 else "")
        raise ConflictError(f"区县 {code} 的编号与其他区县重复：{shown}；编号在整个系统中必须唯一，"
                            "请改用其他编号。未做任何修改。")


def _write_rows(session: Session, layers: DistrictLayers) -> None:
    """Insert or update the district's squads, communities and stations; drop the old ones."""
    code = layers.code
    old_squads = set(session.scalars(select(Squad.id).where(Squad.district_code == code)))
    new_squads = {s["id"] for s in layers.squads}
    for record in layers.squads:
        session.merge(Squad(id=record["id"], name=record["name"], street=record.get("street", ""),
                            data=record, district_code=code))
    session.flush()
    old_comms = set(session.scalars(
        select(Community.code).where(Community.squad_id.in_(old_squads))))
    if old_squads:
        session.execute(delete(Station).where(Station.squad_id.in_(old_squads)))
    for row in layers.communities.itertuples():
        session.merge(Community(
            code=row.code, name=row.name, full_name=row.full_name, street=row.street,
            squad_id=row.squad, approximate=bool(row.approximate), area_m2=float(row.area_m2),
            geom=ewkt(row.geometry)))
    session.flush()
    for row in layers.stations.itertuples():
        session.add(Station(code=row.code, name=row.name, community_code=row.community_code,
                            squad_id=row.squad, lon=row.geometry.x, lat=row.geometry.y,
                            geom=ewkt(row.geometry)))
    session.flush()
    _drop_unused(session, old_comms - set(layers.communities["code"]), old_squads - new_squads)


def _drop_unused(session: Session, communities: set[str], squads: set[str]) -> None:
    """Delete the communities and squads a replaced district no longer has (unless in use)."""
    if communities:
        used = session.scalars(select(Case.community_code).where(
            Case.community_code.in_(communities)).distinct().limit(5)).all()
        if used:
            raise ConflictError(f"新边界去掉了社区 {'、'.join(map(str, used))}，但库中仍有这些社区的案件；"
                                "请在新边界中保留它们。未做任何修改。")
        session.execute(delete(Community).where(Community.code.in_(communities)))
    if squads:
        used = list(session.scalars(select(Case.squad_id).where(Case.squad_id.in_(squads))
                                    .distinct().limit(5)))
        used += session.scalars(select(User.squad_id).where(User.squad_id.in_(squads))
                                .distinct().limit(5)).all()
        if used:
            raise ConflictError(f"新的中队名单去掉了中队 {'、'.join(sorted(set(map(str, used))))}，但仍有"
                                "案件或用户属于它们；请保留这些中队。未做任何修改。")
        session.execute(delete(Squad).where(Squad.id.in_(squads)))


def district_squads(storage: Storage, code: str) -> tuple[str, ...]:
    """The ids of the squads of district ``code`` (sorted)."""
    with storage.begin() as session:
        return tuple(session.scalars(select(Squad.id).where(Squad.district_code == code)
                                     .order_by(Squad.id)))
