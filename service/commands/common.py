"""Small helpers shared by the CLI command modules (JSON problem files in, JSON solutions out,
the proxy options of ``xuncha serve``, the case-table options of ``hotspots`` and ``forecast``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from service.settings import Settings

CoordsOpt = Annotated[str | None, typer.Option(
    "--coords", help="坐标系：wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号（默认按表头和数值判断）")]
"""``--coords``: the coordinate system of a case table's columns (else guessed)."""
MapOpt = Annotated[list[str] | None, typer.Option(
    "--map", help="指定列的用途：列名=角色（可重复），例如 --map 小类=category --map 受理时间=reported_at")]
"""``--map``: column roles a case table's headers do not give (repeatable ``列名=角色``)."""


def read_json(path: Path, *, what: str) -> Any:
    """Read a JSON file (UTF-8, BOM allowed); exit 2 with a Chinese message if unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"错误：无法读取{what}文件 {path}：{exc}", err=True)
        raise typer.Exit(2) from exc


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def uvicorn_proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy keyword arguments for ``settings``.

    uvicorn by default rewrites the client address and scheme from ``X-Forwarded-For``/``-Proto``
    of any request from 127.0.0.1, so anything on this host (or a proxy that passes the header
    through) could pick its own address and dodge the failed-login limit. Here the headers are
    believed only from ``XUNCHA_TRUSTED_PROXIES``: ``{"proxy_headers": False}`` when it is unset,
    else ``{"proxy_headers": True, "forwarded_allow_ips": [...]}`` with its networks.

    Raises
    ------
    geo.errors.InputError
        ``XUNCHA_TRUSTED_PROXIES`` has an entry that is not an IP address or CIDR range.
    """
    from service.deps import parse_trusted_proxies

    nets = parse_trusted_proxies(settings.trusted_proxies)
    if not nets:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": [str(n) for n in nets]}
