"""Load generators of ``benchmarks/service_load.py``: the built-in asyncio HTTP/1.1 client (each
client draws its next request from its weights) and ``wrk`` (C; clients split over the endpoints
in proportion to the weights, one ``wrk`` per endpoint, all at once), and the latency summary.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from _load_setup import Pick, auth_headers


def summary(lat_s: list[float], errors: int, seconds: float) -> dict[str, Any]:
    """Requests, errors, p50/p95/p99/max (ms) and req/s of one endpoint at one level."""
    lat = np.array(lat_s) * 1000
    pct = {f"p{p}_ms": round(float(np.percentile(lat, p)), 1) if lat_s else None
           for p in (50, 95, 99)}
    return {"requests": len(lat_s), "errors": errors, **pct,
            "max_ms": round(float(lat.max()), 1) if lat_s else None,
            "rps": round(len(lat_s) / seconds, 1) if seconds else 0.0}


# ----------------------------------------------------------------------------- python client
class Http:
    """A minimal keep-alive HTTP/1.1 GET client (Content-Length or chunked bodies)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        hdrs: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding") == "chunked":
            while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection") == "close":
            await self.close()
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _python_client(port: int, token: str, mix: list[tuple[str, int, Pick]], stop: float,
                         lat: dict[str, list[float]], err: dict[str, int], seed_: int) -> None:
    rng, http = random.Random(seed_), Http(port)
    names, weights = [m[0] for m in mix], [m[1] for m in mix]
    picks = {m[0]: m[2] for m in mix}
    headers = auth_headers(token)
    try:
        while time.perf_counter() < stop:
            name = rng.choices(names, weights)[0]
            path, t0 = picks[name](rng), time.perf_counter()
            try:
                ok = await asyncio.wait_for(http.get(path, headers), 60) == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await http.close()
            lat.setdefault(name, []).append(time.perf_counter() - t0)
            err[name] = err.get(name, 0) + (0 if ok else 1)
    finally:
        await http.close()


def run_python(port: int, plan: list[tuple[str, list[tuple[str, int, Pick]]]], seconds: float
               ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every client (token, mix) for ``seconds``; in-flight requests finish."""
    lat: dict[str, list[float]] = {}
    err: dict[str, int] = {}

    async def go() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*[_python_client(port, tok, mix, stop, lat, err, i)
                               for i, (tok, mix) in enumerate(plan)])

    asyncio.run(go())
    return lat, err


# ----------------------------------------------------------------------------- wrk
WRK_LUA = """
local lines, i, threads = {}, 0, {}
bad = 0
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  math.randomseed(tonumber(args[2]))
  i = math.random(#lines)
end
function request()
  i = i % #lines + 1
  local tok, path = lines[i]:match("([^\\t]*)\\t(.*)")
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tok,
                                   ["Cookie"] = "xuncha_session=" .. tok})
end
function done(summary, latency, requests)
  local e, non200 = summary.errors, 0
  for _, t in ipairs(threads) do non200 = non200 + t:get("bad") end
  io.write(string.format("RESULT %d %d %d %d %f %f %f %f\\n", summary.requests,
    non200 + e.connect + e.read + e.write, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def split_connections(plan: list[tuple[str, list[tuple[str, int, Pick]]]]) -> dict[str, int]:
    """Clients per endpoint in proportion to the mix's request shares (each endpoint ≥ 1)."""
    share: dict[str, float] = {}
    for _tok, mix in plan:
        total = sum(w for _n, w, _p in mix)
        for n, w, _p in mix:
            share[n] = share.get(n, 0.0) + w / total
    conns = {n: max(1, int(s)) for n, s in share.items()}
    for n in sorted(share, key=lambda n: int(share[n]) - share[n]):  # largest remainders first
        if sum(conns.values()) >= len(plan):
            break
        conns[n] += 1
    return conns


def run_wrk(port: int, plan: list[tuple[str, list[tuple[str, int, Pick]]]], seconds: float,
            folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """One ``wrk`` per endpoint at once, with pre-drawn (token, path) lines of the clients."""
    (folder / "mix.lua").write_text(WRK_LUA)
    conns, procs = split_connections(plan), {}
    rng = random.Random(len(plan))
    for name, c in conns.items():
        users = [(tok, p) for tok, mix in plan for n, _w, p in mix if n == name]
        lines = [f"{tok}\t{p(rng)}" for tok, p in (rng.choice(users) for _ in range(5000))]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
        procs[name] = subprocess.Popen(
            ["wrk", "-t1", f"-c{c}", f"-d{seconds:.0f}s", "--timeout", "30s", "-s",
             str(folder / "mix.lua"), f"http://127.0.0.1:{port}", "--", str(folder / f"{name}.txt"),
             str(rng.randrange(1, 10**6))], stdout=subprocess.PIPE, text=True)
    rows = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=seconds + 120)
        line = next((ln for ln in out.splitlines() if ln.startswith("RESULT")), None)
        if line is None:
            raise RuntimeError(f"wrk 未输出结果（{name}）:\n{out}")
        n, errs, tmo, dur, p50, p95, p99, mx = (float(v) for v in line.split()[1:])
        ms = {k: round(v / 1e3, 1) if n else None
              for k, v in (("p50_ms", p50), ("p95_ms", p95), ("p99_ms", p99), ("max_ms", mx))}
        rows[name] = {"requests": int(n), "errors": int(errs + tmo), **ms,
                      "rps": round(n / (dur / 1e6), 1)}
    return rows, conns
