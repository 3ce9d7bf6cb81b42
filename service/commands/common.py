"""Small helpers shared by the CLI command modules (JSON problem files in, JSON solutions out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


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
