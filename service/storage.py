"""Storage: one interface over SQLite (default, a file) and PostgreSQL/PostGIS (production).

:class:`Storage` creates its engine lazily, migrates a new database with Alembic and seeds it with
the community boundaries and squads (the embedded Xiaonan default unless a deployment configures
its own boundary folder). Case import lives in :mod:`service.importer`; queries here return
GeoDataFrames in the case contract of :mod:`geo.cases`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Select, and_, delete, func, insert, not_, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from geo.gazetteer import POINT_PRECISIONS
from geo.labels import CLOSED_STATUSES
from service.db import make_engine, migrate, transaction
from service.models import (
    Case,
    CaseEvent,
    Community,
    District,
    Meta,
    PlanJob,
    RateEvent,
    Squad,
    Station,
)

CASE_COLUMNS = ("case_id", "category", "category_name", "reported_at", "status", "closed_at",
                "deadline_at", "description", "address", "source", "coord_system",
                "community_code", "community", "squad", "lon", "lat")
FINAL_STATUSES = tuple(CLOSED_STATUSES)
"""Statuses after which a case is no longer open (no deadline applies)."""


@dataclass(frozen=True)
class CaseFilter:
    """Filters for :meth:`Storage.query_cases`; every field optional.

    ``squads`` restricts to those squads (``None`` = all; the service passes the caller's squad);
    ``bbox`` is (min_lon, min_lat, max_lon, max_lat) in WGS84; times are tz-aware.
    ``overdue=True`` keeps the open cases (not 结案/作废) past their deadline at ``as_of`` (default:
    the time of the query), ``overdue=False`` every other case. ``after`` is a keyset cursor:
    only cases strictly after that ``(reported_at, row id)`` in the newest-first order (older).
    ``precise=True`` keeps only cases located to a point or a landmark (the input of hotspots,
    forecasts and plans), leaving out those placed only by their community's name.
    """

    squads: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] | None = None
    community: str | None = None
    status: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None
    limit: int | None = None
    offset: int = 0
    overdue: bool | None = None
    as_of: datetime | None = None
    after: tuple[datetime, int] | None = None
    precise: bool = False


def ewkt(geom: shapely.Geometry) -> str:
    """EWKT with SRID 4326, accepted by PostGIS and stored as text on SQLite."""
    return f"SRID=4326;{geom.wkt}"


def from_db_geometry(value: Any) -> shapely.Geometry:
    """A shapely geometry from a PostGIS WKB element or an SQLite (E)WKT string."""
    if isinstance(value, str):
        return shapely.from_wkt(value.split(";", 1)[-1])
    from geoalchemy2.shape import to_shape

    return to_shape(value)


class Storage:
    """The database of one deployment.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///xuncha.db`` or ``postgresql+psycopg://…``).
    boundaries_dir : Path, optional
        Folder with the deployment's boundary files; default the embedded Xiaonan data.
    tz : str
        Deployment time zone, used for the times returned by queries.
    """

    def __init__(self, url: str, *, boundaries_dir: Path | None = None,
                 tz: str = "Asia/Shanghai") -> None:
        self.url = url
        self.boundaries_dir = boundaries_dir
        self.tz = tz
        self._ready = False

    @cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (created on first use)."""
        return make_engine(self.url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Session factory bound to :attr:`engine`."""
        return sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A session inside one transaction (committed on success, rolled back on error)."""
        self.init()
        with transaction(self.sessions) as session:
            yield session

    def init(self) -> None:
        """Migrate the schema and seed boundaries and squads into an empty database (idempotent)."""
        if self._ready:
            return
        migrate(self.engine)
        with transaction(self.sessions) as session:
            if session.scalar(select(func.count()).select_from(Squad)) == 0:
                self._seed(session)
        self._ready = True

    def _seed(self, session: Session) -> None:
        from geo.boundaries import load_default

        area = load_default(self.boundaries_dir) if self.boundaries_dir else load_default()
        outline = area.district.to_crs(4326).iloc[0]
        district = str(outline.get("code") or "420902")
        session.add(District(  # the first district (0011); xuncha boundaries import adds others
            code=district, name=str(outline.get("name") or ""), city=str(outline.get("city") or ""),
            geom=ewkt(MultiPolygon([outline.geometry]) if isinstance(outline.geometry, Polygon)
                      else outline.geometry),
            data={k: outline.get(k) for k in ("province", "source", "approximate")
                  if isinstance(outline.get(k), str | bool)}))
        for sq in area.squads:
            session.add(Squad(id=sq["id"], name=sq["name"], street=sq.get("street", ""), data=sq,
                              district_code=district))
        session.flush()
        for row in area.communities.to_crs(4326).itertuples():
            geom = row.geometry
            multi = MultiPolygon([geom]) if isinstance(geom, Polygon) else geom
            session.add(Community(
                code=str(row.code), name=row.name, full_name=getattr(row, "full_name", row.name),
                street=getattr(row, "street", ""), squad_id=row.squad,
                approximate=bool(getattr(row, "approximate", False)),
                area_m2=float(getattr(row, "area_m2", 0.0) or 0.0), geom=ewkt(multi)))
        session.flush()
        for row in area.stations.to_crs(4326).itertuples():
            session.add(Station(code=str(row.code), name=row.name,
                                community_code=str(row.community_code), squad_id=row.squad,
                                lon=row.geometry.x, lat=row.geometry.y, geom=ewkt(row.geometry)))

    def secret(self) -> str:
        """The signing key kept in the database (generated once)."""
        with self.begin() as session:
            row = session.get(Meta, "secret_key")
            if row is None:
                row = Meta(key="secret_key", value=secrets.token_urlsafe(48))
                session.add(row)
            return row.value

    def squads(self) -> list[dict[str, Any]]:
        """All squads as dicts (``id``, ``name``, ``street`` and the squad data file's fields)."""
        with self.begin() as session:
            rows = session.scalars(select(Squad).order_by(Squad.id)).all()
            return [{**(r.data or {}), "id": r.id, "name": r.name, "street": r.street} for r in rows]

    def communities(self, *, squads: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
        """Community polygons (WGS84) with ``code``, ``name``, ``street``, ``squad``, ``approximate``."""
        stmt = select(Community).order_by(Community.code)
        if squads is not None:
            stmt = stmt.where(Community.squad_id.in_(squads))
        with self.begin() as session:
            rows = session.scalars(stmt).all()
            data = [{"code": r.code, "name": r.name, "full_name": r.full_name, "street": r.street,
                     "squad": r.squad_id, "approximate": r.approximate, "area_m2": r.area_m2,
                     "geometry": from_db_geometry(r.geom)} for r in rows]
        return gpd.GeoDataFrame(data, geometry="geometry", crs=4326) if data else \
            gpd.GeoDataFrame({"code": [], "name": [], "squad": []}, geometry=[], crs=4326)

    def stations(self, *, squads: tuple[str, ...] | None = None) -> gpd.GeoDataFrame:
        """Work-station points (WGS84) with ``code``, ``name``, ``community_code``, ``squad``."""
        stmt = select(Station).order_by(Station.code)
        if squads is not None:
            stmt = stmt.where(Station.squad_id.in_(squads))
        with self.begin() as session:
            rows = session.scalars(stmt).all()
            data = [{"code": r.code, "name": r.name, "community_code": r.community_code,
                     "squad": r.squad_id, "lon": r.lon, "lat": r.lat} for r in rows]
        df = pd.DataFrame(data, columns=["code", "name", "community_code", "squad", "lon", "lat"])
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)

    def case_query(self, flt: CaseFilter) -> Select[Any]:
        """The SELECT of cases matching ``flt`` (without order, limit or offset)."""
        stmt = select(Case)
        if flt.squads is not None:
            stmt = stmt.where(Case.squad_id.in_(flt.squads))
        if flt.start is not None:
            stmt = stmt.where(Case.reported_at >= flt.start)
        if flt.end is not None:
            stmt = stmt.where(Case.reported_at < flt.end)
        if flt.categories:
            stmt = stmt.where(Case.category.in_(flt.categories))
        if flt.community:
            stmt = stmt.where((Case.community_code == flt.community) | (Case.community == flt.community))
        if flt.status:
            stmt = stmt.where(Case.status.in_(flt.status))
        if flt.bbox is not None:
            x0, y0, x1, y1 = flt.bbox
            stmt = stmt.where(Case.lon >= x0, Case.lon <= x1, Case.lat >= y0, Case.lat <= y1)
        if flt.overdue is not None:
            late = and_(Case.status.not_in(FINAL_STATUSES), Case.deadline_at.is_not(None),
                        Case.deadline_at < (flt.as_of or datetime.now(UTC)))
            stmt = stmt.where(late if flt.overdue else not_(late))
        if flt.precise:  # geo.gazetteer.POINT_PRECISIONS; None: stored before precisions existed
            stmt = stmt.where(Case.location_precision.is_(None)
                              | Case.location_precision.in_(POINT_PRECISIONS))
        if flt.after is not None:  # a row-value comparison walks ix_cases_reported_id
            stmt = stmt.where(tuple_(Case.reported_at, Case.id) < tuple_(*flt.after))
        return stmt

    def analyze(self) -> None:
        """Refresh the query planner's statistics of the case table (cheap: ~30 ms for 20k cases).

        Worth calling after a large import: without statistics SQLite answers a squad + month
        query through the squad index and a sort, 2–3x slower than through the time index, and
        PostgreSQL plans id lookups on a freshly filled table as sequential scans (autovacuum
        catches up only later).
        """
        self.init()
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE" if self.engine.dialect.name == "sqlite" else "ANALYZE cases")

    def count_cases(self, flt: CaseFilter = CaseFilter()) -> int:
        """Number of cases matching ``flt`` (ignoring its limit and offset)."""
        sub = self.case_query(flt).with_only_columns(Case.id).subquery()
        with self.begin() as session:
            return int(session.scalar(select(func.count()).select_from(sub)) or 0)

    def query_cases(self, flt: CaseFilter = CaseFilter()) -> gpd.GeoDataFrame:
        """Cases matching ``flt`` as a GeoDataFrame (WGS84) in the case contract, newest first."""
        stmt = self.case_query(flt).order_by(Case.reported_at.desc(), Case.id.desc())
        if flt.limit is not None:
            stmt = stmt.limit(flt.limit)
        if flt.offset:
            stmt = stmt.offset(flt.offset)
        cols = [getattr(Case, c if c != "squad" else "squad_id") for c in CASE_COLUMNS]
        with self.begin() as session:
            rows = session.execute(stmt.with_only_columns(*cols)).all()
        df = pd.DataFrame(rows, columns=list(CASE_COLUMNS))
        for col in ("reported_at", "closed_at", "deadline_at"):
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(self.tz)
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)

    def iter_case_frames(self, flt: CaseFilter = CaseFilter(), *,
                         chunk: int = 5000) -> Iterator[gpd.GeoDataFrame]:
        """:meth:`query_cases` of ``flt`` in frames of at most ``chunk`` rows (newest first), each
        read by one keyset query (so memory stays bounded and no query gets slower with depth)."""
        flt = replace(flt, limit=None, offset=0)
        while True:
            stmt = self.case_query(flt).order_by(Case.reported_at.desc(), Case.id.desc())
            cols = [getattr(Case, c if c != "squad" else "squad_id") for c in CASE_COLUMNS]
            with self.begin() as session:
                rows = session.execute(stmt.limit(chunk).with_only_columns(*cols, Case.id)).all()
            if not rows:
                return
            df = pd.DataFrame([r[:-1] for r in rows], columns=list(CASE_COLUMNS))
            for col in ("reported_at", "closed_at", "deadline_at"):
                df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(self.tz)
            yield gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
            if len(rows) < chunk:
                return
            flt = replace(flt, after=(rows[-1][3], int(rows[-1][-1])))

    # ------------------------------------------------------------ state shared by every worker

    def meta_values(self, keys: Iterable[str]) -> dict[str, str]:
        """The ``meta`` rows of ``keys`` that exist (one indexed query)."""
        self.init()
        with self.engine.connect() as conn:
            rows = conn.execute(select(Meta.key, Meta.value).where(Meta.key.in_(tuple(keys))))
            return {str(k): str(v) for k, v in rows}

    def recent_events(self, bucket: str, *, window_s: float) -> tuple[int, datetime | None]:
        """How many :class:`RateEvent` rows of ``bucket`` are younger than ``window_s``, and the
        oldest of them."""
        since = datetime.now(UTC) - timedelta(seconds=window_s)
        stmt = select(func.count(), func.min(RateEvent.at)).where(
            RateEvent.bucket == bucket, RateEvent.at > since)
        with self.begin() as session:
            n, first = session.execute(stmt).one()
        return int(n or 0), first

    def add_events(self, buckets: Iterable[str], *, keep_s: float = 3600.0) -> None:
        """Record one event in each of ``buckets`` (and drop events older than ``keep_s``)."""
        now = datetime.now(UTC)
        with self.begin() as session:
            session.execute(delete(RateEvent).where(RateEvent.at < now - timedelta(seconds=keep_s)))
            session.execute(insert(RateEvent), [{"bucket": b, "at": now} for b in buckets])

    def clear_events(self, bucket: str) -> None:
        """Forget every event of ``bucket``."""
        with self.begin() as session:
            session.execute(delete(RateEvent).where(RateEvent.bucket == bucket))

    def claim_plan_job(self, squad_id: str, day: date, *, owner: str, stale_s: float) -> bool:
        """Insert the job row of ``squad_id``'s ``day`` unless another process holds it (one
        ``INSERT … ON CONFLICT DO NOTHING``); a row older than ``stale_s`` (a crashed worker) is
        taken over. Whether this caller now holds the job."""
        now = datetime.now(UTC)
        row = {"squad_id": squad_id, "plan_date": day, "owner": owner[:64], "started_at": now}
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(PlanJob).values(**row).on_conflict_do_nothing()
        with self.begin() as session:
            session.execute(delete(PlanJob).where(
                PlanJob.squad_id == squad_id, PlanJob.plan_date == day,
                PlanJob.started_at < now - timedelta(seconds=stale_s)))
            # RETURNING names the inserted row (psycopg reports no row count here)
            return session.execute(stmt.returning(PlanJob.squad_id)).first() is not None

    def release_plan_job(self, squad_id: str, day: date) -> None:
        """Remove the job row of ``squad_id``'s ``day``."""
        with self.begin() as session:
            session.execute(delete(PlanJob).where(PlanJob.squad_id == squad_id,
                                                  PlanJob.plan_date == day))

    def get_case(self, case_id: str) -> dict[str, Any] | None:
        """One case with its status history, or ``None`` if there is no such case."""
        with self.begin() as session:
            case = session.scalar(select(Case).where(Case.case_id == case_id))
            if case is None:
                return None
            events = session.scalars(select(CaseEvent).where(CaseEvent.case_pk == case.id)
                                     .order_by(CaseEvent.at, CaseEvent.id)).all()
            out = {c: getattr(case, c if c != "squad" else "squad_id") for c in CASE_COLUMNS}
            out["history"] = [{"from_status": e.from_status, "to_status": e.to_status,
                               "at": e.at, "actor": e.actor, "note": e.note} for e in events]
            return out
