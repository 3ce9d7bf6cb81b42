"""Service settings: every option is an ``XUNCHA_*`` environment variable, validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyproj import CRS


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
    basemap: str = Field(default="osm", description="osm, tianditu or amap")
    tianditu_key: str | None = None
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
        if value not in ("osm", "tianditu", "amap"):
            raise ValueError("XUNCHA_BASEMAP 只能是 osm、tianditu 或 amap")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings read from the environment (cached)."""
    return Settings()
