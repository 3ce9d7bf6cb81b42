"""User text made safe for the places it is written to: spreadsheets, CSV files, templates.

Two rules, defined here once and used by every writer:

- :func:`formula_safe` — a cell value that a spreadsheet program would read as a formula
  (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
  apostrophe, so Excel, WPS and LibreOffice show the text instead of evaluating it
  (OWASP "CSV injection"). Numbers, dates and ``None`` pass unchanged.
- :func:`template_safe` — braces become HTML character references, so text placed in HTML
  that a template engine might compile again (folium/branca compile popup and tooltip HTML as
  Jinja2 templates) can never open a ``{{ … }}``, ``{% … %}`` or ``{# … #}`` tag. Browsers show
  ``&#123;`` as ``{``, so people see exactly what they typed.

:func:`formula_safe_frame` applies :func:`formula_safe` to every text cell and column name of a
DataFrame (the siting tables and every XLSX/CSV writer of :mod:`geo.sheets` use it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

XLSX_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
"""Control characters an XLSX cell cannot hold (openpyxl's ``ILLEGAL_CHARACTERS_RE``; tab,
newline and carriage return are allowed)."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet cell a formula (or hide one behind whitespace)."""


def formula_safe(value: object) -> object:
    """``value`` as it may be written to an XLSX or CSV cell.

    Parameters
    ----------
    value
        Any cell value. Only ``str`` values are changed.

    Returns
    -------
    object
        ``"'" + value`` for a string starting with one of :data:`FORMULA_PREFIXES`,
        otherwise ``value`` itself.

    Examples
    --------
    >>> formula_safe("=1+1")
    "'=1+1"
    >>> formula_safe("书院路 12 号")
    '书院路 12 号'
    >>> formula_safe(-3.5)
    -3.5
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def template_safe(text: str) -> str:
    """``text`` with ``{`` and ``}`` as HTML character references (``&#123;``, ``&#125;``).

    Apply it to text that is already HTML-escaped and will be shown as HTML; the result
    contains no brace, so no template engine finds a tag in it.

    Examples
    --------
    >>> template_safe("{{7*7}}")
    '&#123;&#123;7*7&#125;&#125;'
    """
    return text.replace("{", "&#123;").replace("}", "&#125;")


def _safe_cell(value: object, *, strip_control: bool) -> object:
    """One cell value under the writer rule (control characters first, so none hides a prefix)."""
    if isinstance(value, str) and strip_control:
        value = XLSX_ILLEGAL_CHARACTERS.sub("", value)
    return formula_safe(value)


def _is_text_column(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def formula_safe_frame(frame: pd.DataFrame, *, strip_control: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` whose string cells and column names can never start a formula.

    Parameters
    ----------
    frame : DataFrame
        The table to export. Text columns (object, string or categorical dtype) are passed
        through :func:`formula_safe` cell by cell; numeric, boolean and date columns are kept
        as they are.
    strip_control : bool, default False
        Also remove the control characters that XLSX cannot hold
        (:data:`XLSX_ILLEGAL_CHARACTERS`; tab, newline and carriage return are kept). Set it for
        XLSX, leave it off for CSV.

    Returns
    -------
    DataFrame
        The safe copy (same index, same column order).

    Examples
    --------
    >>> import pandas as pd
    >>> formula_safe_frame(pd.DataFrame({"地址": ["=1+1", "书院路"], "n": [-1, 2]}))["地址"].tolist()
    ["'=1+1", '书院路']
    """
    import pandas as pd

    columns: dict[int, pd.Series] = {}
    for i, (_, series) in enumerate(frame.items()):
        if _is_text_column(series):
            columns[i] = series.astype(object).map(
                lambda v: _safe_cell(v, strip_control=strip_control))
        else:
            columns[i] = series
    out = pd.DataFrame(columns, index=frame.index)
    out.columns = pd.Index([_safe_cell(c, strip_control=strip_control) for c in frame.columns])
    return out
