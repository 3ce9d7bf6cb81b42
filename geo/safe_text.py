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
"""

from __future__ import annotations

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
