"""Road import from a province-sized OpenStreetMap extract (synthetic): time and memory.

Usage: ``python benchmarks/road_import.py [--side 1500] [--compare-full]``. Writes a street grid
over Hubei's bounding box (``--side``² nodes, a way every 4 blocks in both directions; 1500 gives
2.25 million nodes and 1.125 million ways, 5.7 MB of PBF) with pyosmium, then reads it as
``xuncha roads import`` does, clipped to the embedded Xiaonan communities, in a fresh process
(so that the peak memory is the read's own). ``--compare-full`` also runs the earlier path, which
built the whole extract into a network before clipping (:func:`geo.io.osm._window` returning
no window), side by side. The extract is simulated: a real one has denser streets in towns and
more tags per way, so real times differ. Prints a table and writes
``benchmarks/results/road_import.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_info  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: Hubei's bounding box (lon/lat), roughly.
HUBEI = (108.3, 29.0, 116.1, 33.3)


def write_extract(path: Path, side: int) -> dict[str, int]:
    """A ``side`` × ``side`` street grid over :data:`HUBEI`, ways of 4 blocks, as ``.osm.pbf``."""
    import osmium
    from osmium.osm.mutable import Node, Way

    x0, y0, x1, y1 = HUBEI
    ways = 0
    with osmium.SimpleWriter(str(path)) as w:
        for i in range(side):
            for j in range(side):
                loc = (x0 + (x1 - x0) * j / (side - 1), y0 + (y1 - y0) * i / (side - 1))
                w.add_node(Node(id=i * side + j + 1, location=loc, version=1))
        for i in range(side):
            for j0 in range(0, side - 1, 4):
                span = range(j0, min(j0 + 5, side))
                w.add_way(Way(id=ways + 1, nodes=[i * side + j + 1 for j in span],
                              tags={"highway": "residential"}, version=1))
                w.add_way(Way(id=ways + 2, nodes=[j * side + i + 1 for j in span],
                              tags={"highway": "footway"}, version=1))
                ways += 2
    return {"nodes": side * side, "ways": ways, "bytes": path.stat().st_size}


def _no_window(area: Any, crs: Any) -> None:
    """No reading window: the whole extract is built into a network, then clipped."""
    return None


def _child(mode: str, path: str) -> None:
    """Read the extract as ``roads import`` does; print wall, CPU, peak memory and the size."""
    from geo.boundaries import load_default
    from geo.io import osm

    if mode == "full":
        osm._window = _no_window  # type: ignore[assignment]  # the earlier path
    area = load_default().communities
    t, cpu = time.perf_counter(), time.process_time()
    g = osm.read_osm_network(path, service_area=area, keep_largest=False)
    print(json.dumps({"mode": mode, "wall_s": time.perf_counter() - t,
                      "cpu_s": time.process_time() - cpu,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "edges": g.number_of_edges(), "nodes": g.number_of_nodes()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=1500, help="grid nodes per side")
    ap.add_argument("--compare-full", action="store_true",
                    help="also run the earlier whole-extract path (slow, about 12 GB at 1500)")
    ap.add_argument("--out", default=str(RESULTS / "road_import.json"))
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hubei-synthetic.osm.pbf"
        t = time.perf_counter()
        extract = write_extract(path, args.side) | {"write_s": time.perf_counter() - t}
        rows = []
        for mode in ["window"] + (["full"] if args.compare_full else []):
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {"machine": machine_info(), "extract": extract, "rows": rows,
              "note": "synthetic street grid over Hubei's bounding box (simulated)"}
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"extract: {extract['ways']:,} ways, {extract['nodes']:,} nodes, "
          f"{extract['bytes'] / 1e6:.1f} MB (simulated)")
    print("| read | wall s | CPU s | peak MB | edges kept |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mb']:.0f} | "
              f"{r['edges']:,} |")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
