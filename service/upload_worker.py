"""Parse an uploaded case file in a separate, capped process, so that one file cannot stall or
exhaust the service.

:func:`read_upload` builds :class:`geo.io.tables.ReadLimits` from the ``XUNCHA_UPLOAD_*`` settings and
runs :func:`geo.io.tables.read_table` in a fresh interpreter (about 0.5 s to start, most of it importing
pandas) whose address space is capped at ``XUNCHA_IMPORT_MEMORY_MB`` (``RLIMIT_AS``, set after the
imports, so it caps the parse) and which is killed after ``XUNCHA_IMPORT_TIMEOUT_S`` seconds. The
job goes in on stdin and the table comes back pickled on stdout. A limit passed answers 413
(:class:`service.errors.PayloadTooLarge`), a malformed file 400 (:class:`geo.errors.FileReadError`);
the CLI exits 2 for both.

This module is imported by the child too: it imports nothing heavy besides :mod:`geo.io.tables`.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import FileReadError
from geo.io.tables import ReadLimitError, ReadLimits, read_table

if TYPE_CHECKING:
    import pandas as pd

    from service.settings import Settings

log = logging.getLogger("xuncha.upload")
_MIB = 1024 * 1024
_ADVICE = "请拆分文件后分批导入，或请管理员调高该设置。"
HINTS: dict[str, str] = {
    "max_bytes": "XUNCHA_MAX_UPLOAD_MB",
    "max_columns": "XUNCHA_UPLOAD_MAX_COLUMNS",
    "max_line_bytes": "XUNCHA_UPLOAD_MAX_LINE_KB",
    "max_cells": "XUNCHA_UPLOAD_MAX_CELLS",
    "max_uncompressed_bytes": "XUNCHA_UPLOAD_MAX_UNCOMPRESSED_MB",
    "max_shared_strings": "XUNCHA_UPLOAD_MAX_SHARED_STRINGS",
    "max_shared_chars": "XUNCHA_UPLOAD_MAX_SHARED_CHARS_MB",
    "max_vertices": "XUNCHA_UPLOAD_MAX_VERTICES",
    "max_members": "固定上限",
}
"""The setting that relaxes each :class:`geo.io.tables.ReadLimits` field (quoted in error messages)."""


def read_limits(settings: Settings, *, max_bytes: int | None = None) -> ReadLimits:
    """The :class:`geo.io.tables.ReadLimits` of ``settings`` (file size ``max_bytes`` if given, else
    ``XUNCHA_MAX_UPLOAD_MB``)."""
    return ReadLimits(
        max_bytes=max_bytes if max_bytes is not None else settings.max_upload_mb * _MIB,
        max_columns=settings.upload_max_columns,
        max_line_bytes=settings.upload_max_line_kb * 1024,
        max_cells=settings.upload_max_cells,
        max_uncompressed_bytes=settings.upload_max_uncompressed_mb * _MIB,
        max_shared_strings=settings.upload_max_shared_strings,
        max_shared_chars=settings.upload_max_shared_chars_mb * _MIB,
        max_vertices=settings.upload_max_vertices,
        hints=HINTS,
    )


def read_upload(source: Path | bytes, *, filename: str, settings: Settings,
                max_bytes: int | None = None) -> pd.DataFrame:
    """Read a case file with :func:`geo.io.tables.read_table` in a capped child process.

    Parameters
    ----------
    source : Path or bytes
        The file (CLI) or the upload's bytes (API, admin page).
    filename : str
        The original file name (its suffix helps to tell the format); "" for a path's own name.
    settings : Settings
        ``upload_max_*`` (the :class:`geo.io.tables.ReadLimits`), ``import_memory_mb`` and
        ``import_timeout_s`` (the child's caps), ``max_upload_mb`` (file size).
    max_bytes : int, optional
        File size limit instead of ``XUNCHA_MAX_UPLOAD_MB`` (the CLI reads local files up to
        :data:`geo.io.tables.MAX_TABLE_BYTES`).

    Returns
    -------
    pandas.DataFrame
        As :func:`geo.io.tables.read_table` returns it.

    Raises
    ------
    service.errors.PayloadTooLarge
        A limit is passed, or the child ran out of memory or time (413).
    geo.errors.FileReadError
        The file is missing, empty or malformed (400).
    """
    limits = read_limits(settings, max_bytes=max_bytes)
    name = filename or (source.name if isinstance(source, Path) else "")
    memory = settings.import_memory_mb * _MIB
    timeout = float(settings.import_timeout_s)
    kind, value = _run(source, name, limits, memory, timeout)
    if kind == "ok":
        return value
    from service.errors import PayloadTooLarge

    if kind == "limit":
        raise PayloadTooLarge(value)
    if kind == "memory":
        raise PayloadTooLarge(f"解析文件超过内存上限 {settings.import_memory_mb} MiB"
                              f"（XUNCHA_IMPORT_MEMORY_MB）{value}；{_ADVICE}")
    if kind == "timeout":
        raise PayloadTooLarge(f"解析文件超时：超过 {settings.import_timeout_s} 秒仍未完成"
                              f"（XUNCHA_IMPORT_TIMEOUT_S）；{_ADVICE}")
    raise FileReadError(value)


_ROOT = str(Path(__file__).resolve().parents[1])
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         # the parse needs no pyarrow; pandas would otherwise load it (hundreds of MiB of address
         # space reserved before the first row) and a modest memory cap could not even start
         "sys.modules['pyarrow'] = None; "
         "from service.upload_worker import serve_child; serve_child()")


def _run(source: Path | bytes, filename: str, limits: ReadLimits, memory: int,
         timeout: float) -> tuple[str, Any]:
    """Run :func:`serve_child` in a fresh interpreter and return its answer ``(kind, value)``.

    A fresh ``python -c`` rather than :class:`multiprocessing.Process`: under the ``xuncha``
    console script, multiprocessing's ``spawn`` and ``forkserver`` children re-import the main
    module (``service.cli``, 2.3 s) for every upload, as Python 3.11's forkserver never preloads it.
    """
    job = pickle.dumps((source, filename, limits, memory, int(timeout) + 5),
                       protocol=pickle.HIGHEST_PROTOCOL)
    # -P: the working directory is not put on sys.path; the project's own root is
    proc = subprocess.Popen([sys.executable, "-P", "-c", _BOOT, _ROOT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(job, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "timeout", None
    finally:
        if proc.poll() is None:  # an exception while waiting (e.g. KeyboardInterrupt)
            proc.kill()
            proc.wait()
    code = proc.returncode
    if code == 0 and out:
        try:
            return pickle.loads(out)  # type: ignore[no-any-return]
        except Exception:  # a truncated answer: the child was cut off while writing it
            log.warning("upload worker answer unreadable: %s", err[-2000:].decode(errors="replace"))
    if code == -signal.SIGXCPU:
        return "timeout", None
    why = f"被信号 {-code} 终止" if code < 0 else f"退出码 {code}"
    log.warning("upload worker failed (%s): %s", why, err[-2000:].decode(errors="replace"))
    return "memory", f"（解析进程{why}）"


def serve_child() -> None:
    """In the child: cap memory and CPU time, read the job from stdin, answer on stdout."""
    import openpyxl  # noqa: F401  (imported before the cap: only the parse is capped)

    answer_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed while parsing goes to stderr, not into the answer
    source, filename, limits, memory, cpu = pickle.load(sys.stdin.buffer)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # the child stops even if orphaned
    answer: tuple[str, Any]
    try:
        answer = ("ok", read_table(source, filename=filename, limits=limits))
    except ReadLimitError as exc:
        answer = ("limit", str(exc))
    except FileReadError as exc:
        answer = ("read", str(exc))
    except MemoryError:
        answer = ("memory", "")
    except Exception as exc:  # an unforeseen parser failure is still the file's: say so
        answer = ("read", f"文件无法解析（{type(exc).__name__}: {exc}）；请检查文件格式。")
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        del answer
        data = pickle.dumps(("memory", "（返回结果时）"))
    with answer_to:
        answer_to.write(data)
