"""The one error hierarchy of :mod:`geo`.

Every error raised on purpose by the library is a :class:`XunchaError`. The service maps each
class to an HTTP status code in one table (``service/errors.py``); the CLI maps them to exit codes.
Messages say what was wrong, where (row, column, value, id) and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass


class XunchaError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(XunchaError, ValueError):
    """The caller's data or options are wrong; the message says how to fix them."""


class CRSError(InputError):
    """A coordinate reference system is missing, geographic where metres are needed, or unknown."""


class NotFoundError(InputError, LookupError):
    """An id (case, squad, team, stop, community) does not exist."""


@dataclass(frozen=True)
class Problem:
    """One validation problem in one row of an input table.

    Attributes
    ----------
    row : int
        1-based row number as a user sees it in a spreadsheet (header = row 1, first data row = 2);
        0 when the problem concerns the whole file.
    column : str
        Column name as written in the file (or the canonical name when the column is missing).
    value : str
        The offending value as text ("" when missing).
    message : str
        What is wrong and how to fix it, in Simplified Chinese.
    """

    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        return f"{where}，列「{self.column}」，值「{self.value}」：{self.message}"


class ValidationError(InputError):
    """Several problems found while validating input; all are collected before raising.

    Parameters
    ----------
    problems : list of Problem
        Every problem found.
    what : str
        A short description of what was validated (for the first line of the message).
    """

    def __init__(self, problems: list[Problem], what: str = "输入数据") -> None:
        self.problems = list(problems)
        lines = [f"{what}有 {len(self.problems)} 处问题："]
        lines += [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  …… 另有 {len(self.problems) - 50} 处问题未列出")
        super().__init__("\n".join(lines))


class FileReadError(InputError):
    """A file cannot be read at all (format, encoding, size); nothing was stored."""


class SolverError(XunchaError, RuntimeError):
    """An optimisation solver failed or gave no usable solution."""


class InfeasibleError(SolverError):
    """The problem has no feasible solution; the message names the stop, site or constraint."""
