"""Markdown tables of ``benchmarks/results/hotspot_speed.json`` for ``benchmarks/report.py``.

The layout is that of ``benchmarks/hotspot_speed.py``: ``district`` (one row per size,
background share and method), ``cli`` (the whole ``xuncha hotspots`` command), ``real`` (PAI on
the real data sets) and ``rows`` (the earlier HDBSCAN benchmark with its scikit-learn
comparison); a missing section is left out, ``section_dates`` says when each ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["hotspots"]


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _num(value: Any, fmt: str) -> str:
    return "–" if value is None or value != value else format(value, fmt)


def _district(rows: list[dict[str, Any]]) -> str:
    body = [[f"{r['n']:,}", f"{r['background_share']:.0%}", r["method"],
             f"{r['recall_compact']:.2f}", f"{r['recall_street']:.2f}",
             f"{r['recall_weak']:.2f}", _num(r.get("recall_weak_overlap"), ".2f"),
             _num(r.get("weak_ceiling"), ".2f"), _num(r.get("weak_cover"), ".2f"),
             f"{r['precision']:.2f}", r["merged"], f"{r['area_share']:.2%}", r["hotspots"],
             f"{r['time_s']:.2f}", _num(r.get("cpu_s"), ".2f"), f"{r['peak_rss_mb']:.0f}",
             str(r.get("date", "–"))[:16]]
            for r in rows]
    return ("Simulated district, 60 planted hotspots (20 compact, 20 street, 20 weak); "
            "`find_hotspots` from a WGS84 frame. *Weak ceiling*: share of the weak hotspots "
            "whose own count is significant at the level a district-wide scan needs, even "
            "at their true place and size (no method can exceed it much). *Recall*: planted "
            "centre inside a polygon (the headline); *recall weak (overlap)*: centre inside "
            "or at least 30 % of the planted footprint covered. *Weak cover*: median share of "
            "a found weak disc its polygon covers. `background-cells`: the default before "
            "weak hotspots were drawn at the scale of their windows. Rows of different runs "
            "(column *run*) were not measured side by side.\n\n"
            + _table(["cases", "background", "method", "recall compact", "recall street",
                      "recall weak", "recall weak (overlap)", "weak ceiling", "weak cover",
                      "precision", "merged", "area",
                      "hotspots", "wall s", "CPU s", "peak MB", "run (UTC)"], body))


def _cli(rows: list[dict[str, Any]]) -> str:
    body = [[f"{r['n']:,}", r["method"], r.get("via", ""), r["exit_code"],
             f"{r['time_s']:.1f}", _num(r.get("cpu_s"), ".1f"), _num(r.get("peak_rss_mb"), ".0f"),
             _num(r.get("recall_weak"), ".2f"), _num(r.get("recall_weak_overlap"), ".2f"),
             _num(r.get("precision"), ".2f"),
             _num(r.get("area_share"), ".2%")] for r in rows]
    return ("Whole `xuncha hotspots` command on the district cases (80 % background) as CSV "
            "(read, check, project, detect, describe, write GeoJSON); CPU s = user + system, "
            "what it costs when other jobs share the cores.\n\n"
            + _table(["cases", "method", "via", "exit", "wall s", "CPU s", "peak MB",
                      "recall weak", "recall weak (overlap)", "precision", "area"], body))


def _real(rows: list[dict[str, Any]]) -> str:
    body = [[r["dataset"], r["method"], f"{r['cases']:,}", r["hotspots"],
             f"{r['case_share']:.1%}", f"{r['area_share']:.3%}", _num(r.get("pai"), ".1f"),
             f"{r['time_s']:.1f}"] for r in rows]
    return ("Real data (`../shared/data/real`): share of cases inside the hotspots against the "
            "share of the study area (occupied 250 m cells) they take, PAI = their ratio.\n\n"
            + _table(["dataset", "method", "cases", "hotspots", "cases inside", "area",
                      "PAI", "s"], body))


def _legacy(rows: list[dict[str, Any]]) -> str:
    body = [[f"{r['n']:,}", f"{r['time_total_s']:.2f}", f"{r['time_cluster_s']:.2f}",
             f"{r['peak_rss_mb']:.0f}", r["hotspots"], f"{r['recall']:.3f}",
             f"{r['precision']:.3f}"] for r in rows]
    out = ("Earlier benchmark, HDBSCAN on a 12 km x 10 km city, 40 hotspots with 60 % of the "
           "cases.\n\n" + _table(["cases", "total s", "clustering s", "peak MB", "hotspots",
                                  "recall", "precision"], body))
    sk = next((r["sklearn"] for r in rows if "sklearn" in r), None)
    if sk:
        out += (f"\n\nPlain scikit-learn HDBSCAN on the same {sk['n']:,} points: "
                f"{sk['sklearn_time_s']:.1f} s ({sk['speedup']:.0f}× slower); adjusted Rand "
                f"index grid vs sklearn {sk['ari_grid_vs_sklearn']:.3f} without the density "
                f"floor, {sk['ari_grid_floor_vs_sklearn']:.3f} with it (sklearn's precision "
                f"against the planted truth: {sk['sklearn_precision']:.3f}).")
    return out


SECTIONS: list[tuple[str, Callable[[list[dict[str, Any]]], str]]] = [
    ("district", _district), ("cli", _cli), ("real", _real), ("rows", _legacy)]


def hotspots(d: dict[str, Any]) -> str:
    """All hotspot sections present in the result ``d``, each with the date it ran."""
    dates = d.get("section_dates", {})
    parts = []
    for key, fn in SECTIONS:
        if d.get(key):
            when = f"\n\n*Run {str(dates[key])[:16]} UTC.*" if key in dates else ""
            parts.append(fn(d[key]) + when)
    if not parts:
        raise KeyError("district/cli/real/rows")
    return "\n\n".join(parts)
