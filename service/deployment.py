"""The deployment's own tables for imports: the category catalogue with its local aliases
(:func:`deployment_catalogue`) and the place names that locate rows without coordinates
(:func:`deployment_gazetteer`), each read again only when its file changes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from geo.cases import visible
from geo.catalogue import Catalogue, default_catalogue
from geo.errors import InputError, XunchaError
from geo.gazetteer import Gazetteer
from service.settings import Settings
from service.storage import Storage

GAZETTEER_FILE = "gazetteer.csv"
"""The bureau's own place names in the deployment's data folder (CSV: name, lon, lat, kind,
community; :meth:`geo.gazetteer.Gazetteer.with_entries`)."""
ALIAS_SETTING = "XUNCHA_CATEGORY_ALIASES"
"""The setting naming a deployment's local category alias table (CSV: ``alias,code``)."""


def deployment_catalogue(settings: Settings | None) -> tuple[Catalogue, str]:
    """The category catalogue with the deployment's local aliases, and how to add one.

    The alias table is the CSV file the setting ``category_aliases`` (``XUNCHA_CATEGORY_ALIASES``)
    names, with columns ``alias`` and ``code`` (:meth:`geo.catalogue.Catalogue.with_aliases`).
    The second value is the sentence quoted for an unknown category: it names that file, or
    the setting when none is configured (never a file inside the installed package).
    """
    path = getattr(settings, "category_aliases", None) if settings is not None else None
    if not path:
        return default_catalogue(), (f"或请管理员为本部署建一张类别别名表（CSV，两列 alias,code），"
                                     f"用设置 {ALIAS_SETTING} 指向它，把这个名称加进去后重新导入")
    p = Path(path)
    return _aliased(str(p), p.stat().st_mtime_ns if p.exists() else 0), (
        f"或把它加入本部署的类别别名表 {visible(str(p), limit=200)}（设置 {ALIAS_SETTING}；"
        "CSV 两列 alias,code）后重新导入")


_ALIAS_CACHE: dict[tuple[str, int], Catalogue] = {}
_GAZETTEERS: dict[tuple[Any, ...], Gazetteer] = {}


def deployment_gazetteer(storage: Storage, settings: Settings | None = None, *,
                         communities: Any = None) -> Gazetteer:
    """The deployment's place names: its communities (``communities``, default the stored
    ones), the landmarks of its boundary folder and, with ``settings``, the bureau's own table
    ``<data_dir>/gazetteer.csv`` (:data:`GAZETTEER_FILE`) when it exists, which replaces a
    built-in name it repeats. Built again only when one of them changes.

    Raises
    ------
    InputError
        The bureau's table cannot be used (the message names the file and every bad row).
    """
    comm = storage.communities() if communities is None else communities
    path = settings.data_dir / GAZETTEER_FILE if settings is not None else None
    mtime = path.stat().st_mtime_ns if path is not None and path.is_file() else 0
    key = (str(storage.boundaries_dir), tuple(comm["code"]), tuple(comm["name"]), str(path), mtime)
    if key not in _GAZETTEERS:
        where = (f"本部署的地名表 {visible(str(path), limit=200)}（CSV，列 name,lon,lat,kind,community）"
                 if path is not None else f"本部署的地名表（数据目录下的 {GAZETTEER_FILE}，CSV，列 "
                 "name,lon,lat,kind,community）")
        found = Gazetteer.from_area(communities=comm, landmarks=_landmarks(storage.boundaries_dir),
                                    hint=where)
        if mtime and path is not None:
            from geo.io.tables import read_table

            try:
                found = found.with_entries(read_table(path))
            except XunchaError as exc:
                raise InputError(f"{where}无法使用，未导入任何数据；请修正后重试：{exc}") from exc
        _GAZETTEERS.clear()
        _GAZETTEERS[key] = found
    return _GAZETTEERS[key]


@lru_cache(maxsize=4)
def _landmarks(directory: Path | None) -> Any:
    """The landmarks of a boundary folder (None when it has none), read once per folder."""
    from geo.io.files import read_default_files

    try:
        return read_default_files(directory)["landmarks"]
    except (XunchaError, OSError, KeyError):
        return None


def _aliased(path: str, mtime: int) -> Catalogue:
    """The shipped catalogue extended by the alias table at ``path`` (read again when it changes)."""
    from geo.io.tables import read_table

    key = (path, mtime)
    if key not in _ALIAS_CACHE:
        _ALIAS_CACHE.clear()
        _ALIAS_CACHE[key] = default_catalogue().with_aliases(read_table(path))
    return _ALIAS_CACHE[key]
