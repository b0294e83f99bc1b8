"""Bounded load test of the API on loopback (docs/architecture.md#performance-targets).

Starts ``python -m backend`` on a free loopback port over an atlas (built here from a random-init
ViT-S/16 and scikit-image photos unless ``--atlas-dir`` is given), then:

1. ``--clients`` concurrent clients (default 64) for ``--seconds`` (default 20, at most 30) request
   mode details and overlay PNGs of random modes; prints p50/p99 latency, throughput and errors;
2. times the analysis of one uploaded image (first request for a fresh upload, model already loaded).

Only loopback is used. Example: ``python benchmarks/load_test.py --clients 64 --seconds 30``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = "vit_small_patch16_224"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _photos(directory: Path) -> list[bytes]:
    import skimage.data
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    encoded = []
    for n, name in enumerate(("astronaut", "chelsea", "coffee", "rocket", "cat", "hubble_deep_field")):
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        (directory / f"{n:02d}_{name}.jpg").write_bytes(buffer.getvalue())
        encoded.append(buffer.getvalue())
    return encoded


def _build_atlas(root: Path, photos: Path) -> None:
    command = [sys.executable, "-m", "precompute", "--model", MODEL, "--random-init", "--images", str(photos)]
    command += ["--out", str(root), "--top-k", "4", "--batch-size", "6", "--device", "cpu", "--no-progress"]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> dict[str, Any]:
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


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One keep-alive HTTP/1.1 GET on an open connection; returns the status (body read and dropped).

    A minimal client on purpose: the load generator shares the CPUs with the server, and a full
    client library would spend more CPU per request than the server does.
    """
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _load(
    port: int, model: dict[str, Any], clients: int, seconds: float
) -> tuple[dict[str, list[float]], list[str]]:
    latencies: dict[str, list[float]] = {"mode detail": [], "overlay png": []}
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    slug, layers, heads, modes = model["slug"], model["n_layers"], model["n_heads"], model["n_modes"]

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                mode = f"/api/models/{slug}/layers/{rng.randrange(layers)}/heads/{rng.randrange(heads)}/modes/"
                mode += str(rng.randrange(modes))
                sign = rng.choice(("pos", "neg"))
                if rng.random() < 0.5:
                    kind, url = "mode detail", f"{mode}?sign={sign}"
                else:
                    kind, url = "overlay png", f"{mode}/top/{rng.randrange(4)}/overlay.png?sign={sign}&blend=0.5"
                start = time.perf_counter()
                try:
                    status = await _get(reader, writer, url)
                    if status != 200:
                        errors.append(f"{status} {url}")
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    errors.append(f"{type(error).__name__} {url}")
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                latencies[kind].append(time.perf_counter() - start)
        finally:
            writer.close()

    await asyncio.gather(*(client(seed) for seed in range(clients)))
    return latencies, errors


async def _upload_latency(base: str, slug: str, images: list[bytes]) -> tuple[float, float]:
    """(first analysis incl. model load, analysis of another image with the model loaded), seconds."""
    timings = []
    async with httpx.AsyncClient(base_url=base, timeout=300) as http:
        for data in images[:2]:
            upload = (await http.post("/api/uploads", files={"file": ("photo.jpg", data, "image/jpeg")})).json()
            start = time.perf_counter()
            response = await http.get(f"/api/uploads/{upload['id']}/models/{slug}/layers/0/heads/0")
            response.raise_for_status()
            timings.append(time.perf_counter() - start)
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atlas-dir", type=Path, help="serve these atlases (default: build one here)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--redis-url", help="run the server with this Redis (default: in-process cache)")
    args = parser.parse_args()
    seconds = min(args.seconds, 30.0)

    with tempfile.TemporaryDirectory() as scratch:
        images = _photos(Path(scratch) / "photos")
        atlas_dir = args.atlas_dir
        if atlas_dir is None:
            atlas_dir = Path(scratch) / "atlases"
            print(f"building a random-init {MODEL} atlas over {len(images)} photos ...")
            _build_atlas(atlas_dir, Path(scratch) / "photos")
        port = _free_port()
        command = [sys.executable, "-m", "backend", "--atlas-dir", str(atlas_dir), "--port", str(port)]
        command += ["--host", "127.0.0.1", "--log-level", "warning", "--device", "cpu"]
        if args.redis_url:
            command += ["--redis-url", args.redis_url]
        server = subprocess.Popen(command, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            health = asyncio.run(_wait_ready(base, server))
            model = httpx.get(f"{base}/api/models").json()[0]
            print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; ", end="")
            print(f"server: 1 uvicorn worker, cache: {health['redis']}; model {model['model_id']}")
            print(f"load: {args.clients} clients for {seconds:.0f} s (server and clients share the CPUs)")
            results, errors = asyncio.run(_load(port, model, args.clients, seconds))
            for error in errors[:5]:
                print("  error:", error)
            for kind, values in results.items():
                print(
                    f"  {kind:12s} n={len(values):6d}  {len(values) / seconds:7.1f} req/s  "
                    f"p50={_percentile(values, 50) * 1e3:6.1f} ms  p99={_percentile(values, 99) * 1e3:6.1f} ms"
                )
            print(f"  errors: {len(errors)}")
            cold, warm = asyncio.run(_upload_latency(base, model["slug"], images))
            print(f"upload analysis ({model['model_id']}, cpu): first {cold:.2f} s incl. model load; next {warm:.2f} s")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
