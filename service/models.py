"""Database tables (SQLAlchemy 2 ORM). Geometry is PostGIS on PostgreSQL and WKT text on SQLite.

Point tables also keep ``lon``/``lat`` columns so that bounding-box filters use plain indexes on
both backends; on PostGIS the ``geom`` column has a GiST index for spatial SQL and QGIS.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC (naive UTC on SQLite, timestamptz on PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class GeometryColumn(TypeDecorator[Any]):
    """PostGIS ``geometry(kind, 4326)`` on PostgreSQL, EWKT text on SQLite (no SpatiaLite needed).

    Values are bound as EWKT strings (``SRID=4326;POINT(…)``) on both backends; PostGIS returns
    WKB elements, SQLite the stored text (see :func:`service.storage.from_db_geometry`).
    """

    impl = Text
    cache_ok = True
    spatial_index = False  # GiST indexes are created by the migration, on PostgreSQL only
    use_N_D_index = False  # noqa: N815 (attribute name read by geoalchemy2)

    def __init__(self, kind: str = "POINT") -> None:
        super().__init__()
        self.kind = kind

    def __repr__(self) -> str:
        return f"GeometryColumn({self.kind!r})"

    def load_dialect_impl(self, dialect: Dialect | None) -> Any:  # type: ignore[override]
        if dialect is not None and dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(self.kind, srid=4326, spatial_index=False))
        return Text()


def geometry(kind: str) -> GeometryColumn:
    """A geometry column type of ``kind`` (POINT, MULTIPOLYGON) in EPSG:4326."""
    return GeometryColumn(kind)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base class of all tables."""


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class District(Base):
    """A district (区县) of the deployment (0011): its division code, name, city, outline and the
    boundary file's details (``data``). Its squads carry its code (:attr:`Squad.district_code`);
    communities, stations and cases reach it through their squad."""

    __tablename__ = "districts"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(64), default="")
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Squad(Base):
    __tablename__ = "squads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    street: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # 0011: the district (districts.code) the squad works in
    district_code: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)


class Community(Base):
    __tablename__ = "communities"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    full_name: Mapped[str] = mapped_column(String(128), default="")
    street: Mapped[str] = mapped_column(String(64), default="")
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id"), index=True)
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))


class Station(Base):
    __tablename__ = "stations"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    community_code: Mapped[str] = mapped_column(ForeignKey("communities.code"), index=True)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id"), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))


class ImportBatch(Base):
    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    coords: Mapped[str] = mapped_column(String(32), default="wgs84")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    n_rows: Mapped[int] = mapped_column(Integer, default=0)
    n_inserted: Mapped[int] = mapped_column(Integer, default=0)
    n_updated: Mapped[int] = mapped_column(Integer, default=0)
    n_rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Case(Base):
    """A case. This table is the SQLite shape (one table, ``UNIQUE (case_id)``); on PostgreSQL
    migration 0013 partitions it by month of ``reported_at`` with ``PRIMARY KEY (id,
    reported_at)``, and the registry ``case_keys (id, case_id UNIQUE)`` hands out ``id`` and
    keeps case numbers unique (:mod:`service.partitions`). Either way ``id`` identifies a case,
    and ``case_events``/``case_photos`` refer to it by that id."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    category_name: Mapped[str] = mapped_column(String(64), default="")
    # no index of its own (0013): ix_cases_reported_id (reported_at, id) leads with it
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default="上报", index=True)
    status_flag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A mark beside the workflow status from an export (挂账, 督办, 延期, 超期 …), or None."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    coord_system: Mapped[str] = mapped_column(String(32), default="wgs84")
    location_precision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """How exact lon/lat are (geo.gazetteer): point (the file's coordinates), landmark (placed by
    a landmark's name, ~100 m), community (a point inside the named community); None = point.
    Community-level cases count in community statistics but not in point hotspots or routes."""
    community_code: Mapped[str | None] = mapped_column(ForeignKey("communities.code"), index=True)
    community: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # no index of its own (0013): ix_cases_squad_reported (squad_id, reported_at) leads with it
    squad_id: Mapped[str | None] = mapped_column(ForeignKey("squads.id"))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assignee_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The current assignee of the case (the latest step that named one): kind, id, name."""
    assignee_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee_name: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_cases_lon_lat", "lon", "lat"),
                      Index("ix_cases_squad_reported", "squad_id", "reported_at"),
                      Index("ix_cases_reported_id", "reported_at", "id"))


class CaseEvent(Base):
    """One status transition of a case: who moved it from which state to which, and when."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_pk: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    to_status: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    assignee_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """Whom the step handed the case to: team, officer or unit (``geo.labels.ASSIGNEE_KINDS``)."""
    assignee_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee_name: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CasePhoto(Base):
    """A photo attached to a case step, stored in the database (both backends; backed up with
    the cases, removed with them). ``content_type`` is decided from the bytes, never the client."""

    __tablename__ = "case_photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_pk: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_events.id", ondelete="SET NULL"), nullable=True, index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A user of the service.

    ``token_version`` is signed into every token (claim ``ver``); a token whose version is not the
    user's current one is refused. It goes up by one whenever the password, role, squad or the
    active flag changes (:func:`_revoke_tokens_on_change`, so disabling *and* re-enabling both end
    old sessions) and on sign-out (:func:`service.auth.revoke_tokens`).
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    squad_id: Mapped[str | None] = mapped_column(ForeignKey("squads.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 0008: the patrol team (squads.json team id) of an officer, for the officer's route page
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 0011: an admin or planner bound to one district (districts.code) sees only its squads
    district_code: Mapped[str | None] = mapped_column(String(12), nullable=True)


_TOKEN_FIELDS = ("password_hash", "role", "squad_id", "active", "district_code")
"""User columns a token vouches for: changing any of them revokes the user's tokens."""


@event.listens_for(User, "before_update")
def _revoke_tokens_on_change(_mapper: Mapper[User], _connection: Connection, target: User) -> None:
    """Bump ``token_version`` (in SQL, race-free) when a field in :data:`_TOKEN_FIELDS` really
    changed in this flush, unless the version itself was set explicitly."""
    state = inspect(target)
    if state.attrs.token_version.history.has_changes():
        return
    for name in _TOKEN_FIELDS:
        hist = state.attrs[name].history
        if hist.added and list(hist.added) != list(hist.deleted):
            target.token_version = User.token_version + 1  # type: ignore[assignment]
            return


class Plan(Base):
    """A squad's patrol plan for one day (the solver's solution and its stops, as JSON)."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id"), index=True)
    plan_date: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("squad_id", "plan_date", name="uq_plan_squad_date"),)


class PlanVisit(Base):
    """One planned visit of a community (so that "days since last visit" is real)."""

    __tablename__ = "plan_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    squad_id: Mapped[str] = mapped_column(String(32), index=True)
    plan_date: Mapped[date] = mapped_column(Date, index=True)
    community_code: Mapped[str] = mapped_column(String(16), index=True)
    stop_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))


class ConfirmedVisit(Base):
    """A stop of a day's plan that an officer confirmed on site (0008): one row per squad, day
    and stop (confirming again changes nothing), with the time, optionally the phone's position,
    who confirmed it and a finding note. "Days since last visit" counts these when they exist."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"),
                                                nullable=True)
    squad_id: Mapped[str] = mapped_column(String(32), index=True)
    team_id: Mapped[str] = mapped_column(String(64))
    plan_date: Mapped[date] = mapped_column(Date, index=True)
    stop_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    community_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    officer: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("squad_id", "plan_date", "stop_id",
                                       name="uq_visits_squad_date_stop"),)


class WorkLogEntry(Base):
    """One entry of the 城管进社区工作日志 (work log)."""

    __tablename__ = "work_log_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    squad_id: Mapped[str] = mapped_column(ForeignKey("squads.id"), index=True)
    community_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    place: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    problem: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # 0006: station and team of the entry, every linked case (case_id is the first), photos
    # taken, and the void (作废) mark: an entry is never deleted, it is voided with a reason.
    station_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    team_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    photo_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class SitingScenario(Base):
    __tablename__ = "siting_scenarios"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SitingJob(Base):
    """A siting computation run in the background (0010): queued → running → done / failed, with
    its progress, the scenarios it stored and the reason it failed. ``owner`` is the process
    running it (``host:pid:boot``) and ``heartbeat_at`` its last sign of life, so that any worker
    can tell a job lost in a restart. At most one queued or running job per user (the partial
    unique index below, on both backends)."""

    __tablename__ = "siting_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    phase: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scenario_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(128), default="")
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


Index("ux_siting_jobs_active_user", SitingJob.created_by, unique=True,
      sqlite_where=SitingJob.status.in_(("queued", "running")),
      postgresql_where=SitingJob.status.in_(("queued", "running")))


class RateEvent(Base):
    """One counted event of a rate limit (a failed sign-in, a plan generation), shared by every
    worker process: a limit counts the rows of its ``bucket`` newer than its window."""

    __tablename__ = "rate_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_rate_events_bucket_at", "bucket", "at"),)


class PlanJob(Base):
    """A plan being computed: at most one row per squad and day (the cross-process plan lock)."""

    __tablename__ = "plan_jobs"
    squad_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_date: Mapped[date] = mapped_column(Date, primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RenderedDoc(Base):
    """A rendered route-sheet document (PDF), keyed by a hash of its plan, team and format."""

    __tablename__ = "rendered_docs"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class AnalysisLayer(Base):
    """An analysis layer (hotspots, Gi* cells, trends, forecast cells) computed once per data
    version (0012, :mod:`service.layer_store`): the GeoJSON of its frame and what restores it
    (column types, index, ``attrs`` such as the ranking), keyed by ``layer_key`` (kind, scope
    and parameters) and ``version`` (the data it was computed from)."""

    __tablename__ = "analysis_layers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    layer_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(Text, default="*")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    n_features: Mapped[int] = mapped_column(Integer, default=0)
    geojson: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("layer_key", "version",
                                       name="uq_analysis_layers_key_version"),)
