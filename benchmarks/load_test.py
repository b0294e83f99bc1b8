"""Load test of the API as Compose deploys it, with ``wrk`` (docs/benchmarks.md#service).

Starts, on free loopback ports: ``redis-server`` (as Compose runs it; ``--redis-url`` to use one),
``python -m backend --workers N`` over an atlas folder (default ``atlases/``, where ``./qk up`` builds;
the offline demo is built there first when it holds no atlas), and nginx with the frontend
container's config (``deploy/nginx.conf`` rendered as the official image does, paths and port
mapped to local ones by ``deploy/native.py``, as tests/integration/test_compose.py runs it). Then, for
each scenario and each kind of request (mode detail JSON of many modes, unpinned as API clients ask
and pinned to the atlas revision, ``&v=``, as the dashboard asks; overlay PNGs with ``?v=``, the
addresses the API hands out), it warms the caches and runs ``wrk --latency`` with a Lua script that round-robins over
those real addresses (``Accept-Encoding: gzip``, as a browser sends):

a. straight at the backend (``--workers``, default 2);
b. through nginx;
c. through nginx while ``--uploaders`` (8) threads upload distinct images in a loop (a sample photo,
   shifted and with fresh noise each time), each asking for the whole-model ranking (the analysis);
   every upload ends analysed (200), told to retry (503 with Retry-After, honoured up to 5 s), or as an
   error, and the counts are printed. The upload rate limit is lifted for the run
   (``QKATLAS_UPLOAD_RATE_LIMIT``): every uploader is 127.0.0.1.

It prints p50, p99, requests/s and errors (socket errors, timeouts and non-2xx/3xx answers; wrk leaves
timed-out requests, 2 s, out of its latencies), p99/p50, and each figure against its bar
(docs/architecture.md#performance-targets). wrk, the server and nginx share the machine's cores.

    python benchmarks/load_test.py                           # 64 connections, 30 s per run (about 4 min)
    python benchmarks/load_test.py --duration 10 --scenarios a,b   # a quick look
    python benchmarks/load_test.py --atlas-dir DIR --workers 4 --json out.json

Needs ``wrk`` and ``nginx`` (Debian packages of those names) and ``redis-server``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from deploy.native import write_nginx_config

ROOT = Path(__file__).resolve().parents[1]

#: p99 bars at 64 connections (docs/architecture.md#performance-targets), per scenario and kind, in ms.
BARS_MS = {("b", "mode detail"): 30.0, ("b", "overlay png"): 50.0, ("c", "mode detail"): 100.0}
BARS_MS |= {("b", "mode detail, pinned"): 30.0, ("c", "mode detail, pinned"): 100.0, ("c", "overlay png"): 100.0}
#: Straight at the backend: p99 at most this many times p50.
TAIL_RATIO_BAR = 4.0
SCENARIOS = {"a": "backend directly", "b": "through nginx", "c": "through nginx + uploads"}


@dataclass
class WrkResult:
    scenario: str
    kind: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str

    @property
    def ratio(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms > 0 else float("nan")


@dataclass
class UploadTally:
    analysed: int = 0
    retry: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    analysis_s: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    """(Used by search_bench.py.)"""
    return float(np.percentile(values, q)) if values else float("nan")


async def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The service's health once it answers (used by search_bench.py)."""
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit("the server exited during startup")
            try:
                health: dict[str, Any] = (await http.get("/api/health")).json()
                return health
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SystemExit(f"{program} is not installed: apt-get install {program} (Debian's package)")
    return path


def _wait_up(url: str, process: subprocess.Popen[bytes], what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited during startup")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} did not come up within {seconds:.0f} s")


def _ensure_atlases(atlas_dir: Path, photos: Path | None) -> None:
    from qkatlas.atlas import find_atlases

    if atlas_dir.is_dir() and find_atlases(atlas_dir)[0]:
        return
    from quickstart.default_atlases import build_default_atlases

    print(f"no atlas in {atlas_dir}: building the offline demo there (as ./qk up --offline does) ...")
    build_default_atlases(atlas_dir, ROOT / "data", offline=True, workers=1, photos=photos)


def _backend_has_workers_flag() -> bool:
    help_text = subprocess.run(
        [sys.executable, "-m", "backend", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return "--workers" in help_text


def _start_nginx(prefix: Path, port: int, backend_port: int, workers: int) -> subprocess.Popen[bytes]:
    html = ROOT / "frontend" / "dist"
    if not (html / "index.html").is_file():
        html = prefix / "html"
        html.mkdir()
        (html / "index.html").write_text("<!doctype html><title>qkatlas</title>")
    upstream = f"127.0.0.1:{backend_port}"
    command = write_nginx_config(prefix, port=port, backend_upstream=upstream, html=html, workers=workers)
    command[0] = _need("nginx")
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    return subprocess.Popen(command)


def _paths(base: str, n_modes: int, seed: int = 0) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Mode detail addresses of ``n_modes`` random signed modes of the largest atlas, as API clients
    ask (unpinned) and as the dashboard asks (pinned to the atlas revision, ``&v=``), and the pinned
    overlay addresses their answers hand out."""
    models = httpx.get(f"{base}/api/models", timeout=30).json()
    model = max(models, key=lambda m: m["n_layers"] * m["n_heads"] * m["n_modes"])
    rng = random.Random(seed)
    modes: list[str] = []
    overlays: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as http:
        while len(modes) < n_modes:
            layer, head = rng.randrange(model["n_layers"]), rng.randrange(model["n_heads"])
            mode, sign = rng.randrange(model["n_modes"]), rng.choice(("pos", "neg"))
            path = f"/api/models/{model['slug']}/layers/{layer}/heads/{head}/modes/{mode}?sign={sign}"
            detail = http.get(path)
            detail.raise_for_status()
            tops = detail.json()["top_images"]
            if not tops:  # an inactive mode: no images
                continue
            modes.append(path)
            overlays.append(rng.choice(tops)["overlay_url"])
    pinned = [f"{path}&v={model['revision']}" for path in modes]
    return {"mode detail": modes, "mode detail, pinned": pinned, "overlay png": overlays}, model


_LUA = """-- Round-robin over real addresses; each wrk thread starts at its own offset.
local paths = {%s}
local counter = 0
local offset = 0
setup = function(thread)
  thread:set("offset", offset)
  offset = offset + 7919
end
init = function(args)
  counter = offset
end
wrk.headers["Accept-Encoding"] = "gzip"
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def _write_lua(directory: Path, kind: str, paths: list[str]) -> Path:
    script = directory / f"{kind.replace(' ', '_').replace(',', '')}.lua"
    script.write_text(_LUA % ", ".join(json.dumps(p) for p in paths))
    return script


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str, scenario: str, kind: str) -> WrkResult:
    """The figures of ``wrk --latency``'s report."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)$", output, re.MULTILINE))
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not percentiles or done is None or rps is None:
        raise SystemExit(f"could not read wrk's report:\n{output}")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    counts = [int(n) for n in socket_errors.groups()] if socket_errors else [0, 0, 0, 0]
    bad = int(non_2xx.group(1)) if non_2xx else 0
    detail = "connect {}, read {}, write {}, timeout {}".format(*counts) + f", non-2xx/3xx {bad}"
    return WrkResult(
        scenario=scenario,
        kind=kind,
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1e3,
        rps=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        errors=sum(counts) + bad,
        error_detail=detail,
    )


def _wrk(url: str, script: Path, *, threads: int, connections: int, seconds: float) -> str:
    command = [_need("wrk"), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["-s", str(script), url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _sample_photos() -> list[np.ndarray[Any, np.dtype[np.uint8]]]:
    import skimage.data

    photos = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "cat"):
        photos.append(np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)[..., :3])
    return photos


def _distinct_jpeg(photo: np.ndarray[Any, np.dtype[np.uint8]], rng: np.random.Generator) -> bytes:
    """The photo shifted by a random offset with fresh noise: a new file (and upload id) every time."""
    from PIL import Image

    h, w = photo.shape[:2]
    size = min(h, w) * 3 // 4
    top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    crop = photo[top : top + size, left : left + size].astype(np.int16)
    noisy = np.clip(crop + rng.integers(-8, 9, size=crop.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _uploader(base: str, slug: str, seed: int, stop: threading.Event, tally: UploadTally) -> None:
    rng = np.random.default_rng(seed)
    photos = _sample_photos()
    with httpx.Client(base_url=base, timeout=300) as http:
        while not stop.is_set():
            data = _distinct_jpeg(photos[int(rng.integers(len(photos)))], rng)
            start = time.perf_counter()
            try:
                response = http.post("/api/uploads", files={"file": ("photo.jpg", data, "image/jpeg")})
                if response.status_code == 201:
                    upload = response.json()["id"]
                    response = http.get(f"/api/uploads/{upload}/models/{slug}/modes", params={"limit": 20})
            except httpx.HTTPError as error:
                with tally.lock:
                    tally.errors[type(error).__name__] += 1
                continue
            elapsed = time.perf_counter() - start
            retry_after = response.headers.get("retry-after")
            with tally.lock:
                if response.status_code == 200:
                    tally.analysed += 1
                    tally.analysis_s.append(elapsed)
                elif response.status_code == 503 and retry_after is not None:
                    tally.retry += 1
                else:
                    tally.errors[str(response.status_code)] += 1
            if response.status_code == 503 and retry_after is not None:
                stop.wait(min(float(retry_after), 5.0))


def _row(result: WrkResult) -> str:
    bar = BARS_MS.get((result.scenario, result.kind))
    if result.scenario == "a":
        verdict = f"p99/p50 ≤ {TAIL_RATIO_BAR:g}: {'met' if result.ratio <= TAIL_RATIO_BAR else 'NOT met'}"
    elif bar is not None:
        verdict = f"p99 < {bar:g} ms: {'met' if result.p99_ms < bar else 'NOT met'}"
    else:
        verdict = ""
    if result.errors:
        verdict += f"; {result.errors} errors ({result.error_detail})"
    return (
        f"| {result.scenario} {SCENARIOS[result.scenario]} | {result.kind} | {result.rps:,.0f} | "
        f"{result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.ratio:.1f} | {result.errors} | {verdict} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atlas-dir", type=Path, default=ROOT / "atlases", help="default: atlases/ (./qk up's)")
    parser.add_argument("--photos", type=Path, help="photos for the offline demo, if it is built here")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before each run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="backend worker processes")
    parser.add_argument("--nginx-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--uploaders", type=int, default=8)
    parser.add_argument("--modes", type=int, default=512, help="distinct mode addresses (and overlays) requested")
    parser.add_argument("--scenarios", default="a,b,c")
    parser.add_argument("--redis-url", help="use this Redis (default: start redis-server on a free port)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; choose from a, b, c")
    for program in ("wrk", "nginx"):
        _need(program)

    _ensure_atlases(args.atlas_dir, args.photos)
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="qkatlas-load-") as scratch:
        try:
            redis_url = args.redis_url
            if redis_url is None:
                redis_port = _free_port()
                redis = [_need("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
                redis += ["--appendonly", "no", "--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lru"]
                processes.append(subprocess.Popen(redis, stdout=subprocess.DEVNULL))
                redis_url = f"redis://127.0.0.1:{redis_port}/0"
                time.sleep(0.5)
            backend_port = _free_port()
            workers = args.workers
            backend = [sys.executable, "-m", "backend", "--atlas-dir", str(args.atlas_dir), "--host", "127.0.0.1"]
            backend += ["--port", str(backend_port), "--redis-url", redis_url, "--log-level", "warning"]
            if _backend_has_workers_flag():
                backend += ["--workers", str(workers)]
            else:
                print(f"this backend has no --workers: measuring 1 worker (asked for {workers})")
                workers = 1
            env = {**os.environ, "QKATLAS_UPLOAD_RATE_LIMIT": "1000000000", "QKATLAS_DEVICE": "cpu"}
            processes.append(subprocess.Popen(backend, cwd=ROOT, env=env))
            backend_base = f"http://127.0.0.1:{backend_port}"
            _wait_up(f"{backend_base}/api/health", processes[-1], "the backend")
            nginx_port = _free_port()
            processes.append(_start_nginx(Path(scratch), nginx_port, backend_port, args.nginx_workers))
            nginx_base = f"http://127.0.0.1:{nginx_port}"
            _wait_up(f"{nginx_base}/", processes[-1], "nginx")

            paths, model = _paths(backend_base, args.modes)
            scripts = {kind: _write_lua(Path(scratch), kind, kind_paths) for kind, kind_paths in paths.items()}
            health = httpx.get(f"{backend_base}/api/health", timeout=10).json()
            print(
                f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; backend: {workers} "
                f"worker(s), Redis {health.get('redis')}; nginx: {args.nginx_workers} worker(s); atlas "
                f"{model['slug']} ({model['n_layers']}×{model['n_heads']} heads, {model['n_modes']} modes); "
                f"{len(paths['mode detail'])} mode addresses and as many overlays; wrk {args.threads} threads, "
                f"{args.connections} connections, {args.duration:g} s per run after {args.warmup:g} s warm-up"
            )
            results: list[WrkResult] = []
            tally = UploadTally()
            for scenario in scenarios:
                base = backend_base if scenario == "a" else nginx_base
                stop = threading.Event()
                uploaders = []
                if scenario == "c":
                    for seed in range(args.uploaders):
                        thread = threading.Thread(
                            target=_uploader, args=(nginx_base, model["slug"], seed, stop, tally), daemon=True
                        )
                        thread.start()
                        uploaders.append(thread)
                try:
                    for kind, script in scripts.items():
                        options = {"threads": args.threads, "connections": args.connections}
                        if args.warmup > 0:
                            _wrk(base, script, seconds=args.warmup, **options)
                        output = _wrk(base, script, seconds=args.duration, **options)
                        result = parse_wrk(output, scenario, kind)
                        results.append(result)
                        print(_row(result), flush=True)
                finally:
                    stop.set()
                    for thread in uploaders:
                        thread.join(timeout=330)
            if "c" in scenarios:
                analysis = sorted(tally.analysis_s)
                median = f"{analysis[len(analysis) // 2]:.2f} s" if analysis else "n/a"
                verdict = "met" if not tally.errors else "NOT met"
                print(
                    f"uploads ({args.uploaders} clients): {tally.analysed} analysed (median {median} from upload "
                    f"to ranking), {tally.retry} told to retry (503 + Retry-After), errors {dict(tally.errors)}: "
                    f"every upload analysed or told to retry: {verdict}"
                )
            print("\n| scenario | request | req/s | p50 ms | p99 ms | p99/p50 | errors | bar |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for result in results:
                print(_row(result))
            if args.json:
                report = {
                    "results": [{**asdict(r), "p99_over_p50": r.ratio} for r in results],
                    "uploads": {"analysed": tally.analysed, "retry": tally.retry, "errors": dict(tally.errors)},
                    "backend_workers": workers,
                    "connections": args.connections,
                    "duration_s": args.duration,
                    "cpus": os.cpu_count(),
                }
                args.json.write_text(json.dumps(report, indent=2))
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
