"""Service settings: every option is an ``XUNCHA_*`` environment variable, validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyproj import CRS

BASEMAPS = ("osm", "tianditu", "amap", "local", "none")
"""The base maps :func:`geo.maps.squad.add_basemap` draws (same tuple as ``geo.maps.squad.BASEMAPS``; kept here
so reading the settings does not import folium)."""


class Settings(BaseSettings):
    """Configuration of the xuncha service and CLI.

    Every field is read from the environment variable ``XUNCHA_<FIELD>`` (upper case), e.g.
    ``XUNCHA_DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="XUNCHA_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///xuncha.db",
        description="SQLAlchemy URL; default a SQLite file in the working directory. "
        "PostGIS: postgresql+psycopg://user@host/db",
    )
    working_crs: str = Field(default="EPSG:4547", description="Projected CRS in metres.")
    timezone: str = Field(default="Asia/Shanghai", description="Deployment time zone.")
    boundaries_dir: Path | None = Field(
        default=None, description="Folder with communities.geojson, stations.geojson, squads.json; "
        "default: the embedded Xiaonan data in data/boundaries/.")
    secret_key: str | None = Field(
        default=None, description="Key that signs tokens and session cookies; generated and kept "
        "in the database when unset.")
    token_ttl_minutes: int = Field(default=12 * 60, ge=5, le=7 * 24 * 60)
    max_upload_mb: int = Field(default=50, ge=1, le=1024)
    login_attempts_per_minute: int = Field(default=5, ge=1, le=100)
    upload_max_columns: int = Field(default=200, ge=5, le=10_000,
                                    description="Most columns a case file may have.")
    upload_max_line_kb: int = Field(default=64, ge=1, le=10_240,
                                    description="Longest line of a CSV case file, in KiB.")
    upload_max_cells: int = Field(default=20_000_000, ge=1000,
                                  description="Most cells (rows x columns) of one case file.")
    upload_max_uncompressed_mb: int = Field(
        default=512, ge=1, le=16_384,
        description="Largest uncompressed size of one member of an XLSX file, in MiB.")
    upload_max_shared_strings: int = Field(
        default=2_000_000, ge=1000, description="Most shared strings of one XLSX file.")
    upload_max_shared_chars_mb: int = Field(
        default=64, ge=1, description="Largest total text of an XLSX file's shared strings, in MiB.")
    upload_max_vertices: int = Field(default=5_000_000, ge=1000,
                                     description="Most coordinates of one GeoJSON file.")
    import_memory_mb: int = Field(default=4096, ge=256,
                                  description="Memory cap of the worker that parses an upload, MiB.")
    import_timeout_s: int = Field(default=900, ge=10,
                                  description="Time cap of the worker that parses an upload, s.")
    trusted_proxies: str = Field(
        default="", description="Comma-separated IP addresses or CIDR ranges of reverse proxies "
        "whose X-Forwarded-For/-Proto headers are believed; default none.")
    basemap: str = Field(default="osm", description="Base map of the web maps: osm, tianditu "
                         "(needs XUNCHA_TIANDITU_KEY), amap, local (XUNCHA_TILE_URL, a tile "
                         "service inside the office network) or none (no tiles; works offline).")
    tianditu_key: str | None = None
    tile_url: str | None = Field(
        default=None, description="XYZ tile URL template of basemap=local, e.g. "
        "http://gis.bureau.local/tiles/{z}/{x}/{y}.png (or /tiles/{z}/{x}/{y}.png on this host).")
    tile_attribution: str | None = Field(
        default=None, max_length=200, description="Attribution shown on maps with basemap=local.")
    data_dir: Path = Field(
        default=Path("xuncha-data"), description="Folder of the deployment's own files: the stored "
        "road network (xuncha roads import), case photos, local category aliases.")
    category_aliases: Path | None = Field(
        default=None, description="CSV of the bureau's own category names (columns alias, code / "
        "别名, 编码), added to the national catalogue; default <data_dir>/category_aliases.csv "
        "when that file exists.")
    future_tolerance_hours: float = Field(
        default=24.0, ge=0, le=24 * 365,
        description="Report times further in the future than this are rejected on import.")
    prepare_plans: bool = Field(
        default=False, description="Make the missing plans of today … +7 days for every squad in the "
        "background at start-up and hourly (today and tomorrow first), so no dashboard waits "
        "for the planner (xuncha serve turns it on unless XUNCHA_PREPARE_PLANS is set).")
    photo_max_mb: int = Field(default=10, ge=1, le=100,
                              description="Largest photo attached to a case step, MiB.")
    revisit_days: int = Field(default=3, ge=1, le=30,
                              description="Every community is patrolled at least every N days.")

    @field_validator("working_crs")
    @classmethod
    def _metric_crs(cls, value: str) -> str:
        crs = CRS.from_user_input(value)
        if crs.is_geographic:
            raise ValueError(f"XUNCHA_WORKING_CRS={value} 是地理坐标系；请配置以米为单位的投影坐标系，如 EPSG:4547")
        return value

    @field_validator("basemap")
    @classmethod
    def _known_basemap(cls, value: str) -> str:
        if value not in BASEMAPS:
            raise ValueError(f"XUNCHA_BASEMAP 只能是 {'、'.join(BASEMAPS)}")
        return value

    @model_validator(mode="after")
    def _basemap_complete(self) -> Settings:
        if self.basemap == "tianditu" and not (self.tianditu_key or "").strip():
            raise ValueError("XUNCHA_BASEMAP=tianditu 需要天地图密钥：请设置 XUNCHA_TIANDITU_KEY")
        if self.basemap == "local":
            from geo.errors import InputError
            from geo.maps.squad import check_tile_url

            try:
                check_tile_url(self.tile_url)
            except InputError as exc:
                raise ValueError(f"XUNCHA_BASEMAP=local 需要有效的 XUNCHA_TILE_URL：{exc}") from exc
        return self

    def category_aliases_path(self) -> Path | None:
        """The local category alias file in force: the setting, else ``<data_dir>/category_aliases.csv``
        if it exists, else ``None``."""
        if self.category_aliases is not None:
            return self.category_aliases
        default = self.data_dir / "category_aliases.csv"
        return default if default.is_file() else None

    def roads_path(self) -> Path:
        """Where ``xuncha roads import`` stores the deployment's road network (GraphML)."""
        return self.data_dir / "roads.graphml"

    def map_options(self) -> dict[str, Any]:
        """The base-map keyword arguments of :func:`geo.maps.squad.squad_map` for these settings:
        ``basemap``, ``tianditu_key``, ``tile_url`` and ``tile_attribution``."""
        return {"basemap": self.basemap, "tianditu_key": self.tianditu_key,
                "tile_url": self.tile_url, "tile_attribution": self.tile_attribution}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings read from the environment (cached)."""
    return Settings()
