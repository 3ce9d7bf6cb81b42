"""Markdown of ``benchmarks/results/scale.json`` (``benchmarks/scale.py``), for ``report.py``."""

from __future__ import annotations

from typing import Any


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _batch(d: dict[str, Any]) -> str:
    rows = [[f"{r['cases']:,}", f"{r['write_s']:.1f}", f"{r['dataset_mb']:.0f}",
             f"{r['in_process']['seconds']:.1f}", f"{r['in_process']['peak_rss_mb']:,}",
             f"{r['dask_local_2_workers']['seconds']:.1f}",
             f"{r['dask_local_2_workers']['peak_rss_mb']:,}",
             "✓" if r["results_equal"] else "✗", r.get("run_utc", "?")] for r in d["rows"]]
    return _table(["cases", "simulate + write GeoParquet s", "dataset MB", "one machine s",
                   "peak MB", "Dask LocalCluster (2 workers) s", "peak MB (all processes)",
                   "equal", "run (UTC)"], rows)


def _import(pg: dict[str, Any]) -> str:
    rows = []
    for p in pg["rows"]:
        imp, cpu = p["import"], p["import"]["cpu_s"]
        rows.append([f"{p['cases']:,}", f"{p['squads']} in {p['districts']}", p["csv_files"],
                     f"{imp['seconds']:.1f}", f"{imp['rows_per_s']:,}", f"{imp['peak_rss_mb']:,}",
                     f"{cpu['client']:.0f} + {cpu['reader_workers']:.0f} + {cpu['db_backends']:.0f}",
                     imp["rejected"]])
    return _table(["cases", "squads in districts", "CSV files", "import s", "rows/s",
                   "peak RSS MB", "CPU s (importer + readers + PostgreSQL)", "rejected"], rows)


def _latency(pg: dict[str, Any]) -> str:
    rows = []
    for p in pg["rows"]:
        items = [(f"tile {k.replace('_', ', ')}", v) for k, v in p["tiles"].items()]
        items.append(("case list, bbox + month", p["case_list_bbox_month"]))
        rows += [[f"{p['cases']:,}", name, v["requests"], f"{v['p50_ms']:.0f}",
                  f"{v['p95_ms']:.0f}", f"{v['max_ms']:.0f}", f"{v['bytes_mean']:,}"]
                 for name, v in items]
    return _table(["cases", "request", "n", "p50 ms", "p95 ms", "max ms", "mean bytes"], rows)


def scale(d: dict[str, Any]) -> str:
    """The batch rows (one machine vs Dask), and the PostGIS import and latency when present."""
    out = _batch(d)
    pg = d.get("postgis")
    if pg and pg.get("rows"):
        m = pg.get("machine", {})
        out += (f"\n\nPostGIS import: {pg['import_path']}; then through the app: "
                f"{pg['tiles']}; {pg['case_list']}:\n\n"
                + _import(pg) + "\n\n" + _latency(pg)
                + f"\n\n*PostGIS part run {str(m.get('date', '?'))[:16]} UTC.*")
    return out
