"""Place-name normalisation of the gazetteer (:mod:`geo.gazetteer`): how names are compared.

:func:`normalise` folds a text (NFKC, lower case, no punctuation, no leading area prefix, one
suffix form); :func:`core_name` strips the canonical suffix; :func:`street_key` a street's tail.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

DEFAULT_PREFIXES = ("湖北省", "孝感市", "孝南区")
SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "居委会", "社区", "小区")
"""Suffix variants taken as one (longest first)."""

_PUNCT = re.compile(r"[\W_]+")
_SUFFIX_RE = re.compile("|".join(SUFFIXES))
_CANON = "社区"
_STREET_TAIL = re.compile(r"(街道办事处|街道办|街道|办事处|街)$")


def normalise(text: object, prefixes: Iterable[str] = DEFAULT_PREFIXES) -> str:
    """A text as compared: NFKC, lower case, no punctuation, no leading prefix, one suffix form."""
    t = _PUNCT.sub("", unicodedata.normalize("NFKC", str(text)).lower())
    pre = tuple(p for p in prefixes if p)
    while pre and t.startswith(pre):
        t = t[len(next(p for p in pre if t.startswith(p))):]
    return re.sub(f"({_CANON})+", _CANON, _SUFFIX_RE.sub(_CANON, t))


def core_name(canon: str) -> tuple[str, bool]:
    """``(name without its suffix, had a suffix)`` of a normalised name."""
    if canon.endswith(_CANON) and len(canon) > len(_CANON):
        return canon[:-len(_CANON)], True
    return canon, False


def street_key(text: object) -> str:
    """A street name as compared: normalised, without its 街道/办事处 tail."""
    return _STREET_TAIL.sub("", normalise(text, ()))


def name_entry(name: str, lon: float, lat: float, precision: str, *, kind: str, source: str,
               prefixes: Iterable[str], community_code: str | None = None, community: str = "",
               street: str = "") -> dict[str, object] | None:
    """A gazetteer entry of ``name`` (its normalised ``key`` and ``core``); None if no core."""
    key = normalise(name, prefixes)
    core, _ = core_name(key)
    if not core:
        return None
    return {"name": str(name).strip(), "key": key, "core": core, "lon": float(lon),
            "lat": float(lat), "precision": precision, "kind": kind,
            "community_code": community_code, "community": community, "street": street,
            "source": source}
