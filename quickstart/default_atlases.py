"""The main job behind ``./qk up``: build the default atlas, then serve the dashboard.

With a model hub in reach: DINO ViT-S/16 (``facebook/dino-vits16``) over the Imagenette validation
split, downloaded on first use. Without one, an offline demo that needs no download, each atlas
labelled as such in the UI (from its manifest's ``model_source``): the planted-mode model over
generated images, and a random-init DINO ViT-S/16 over the photos bundled with scikit-image (plus the
ImageNet samples in ``../shared/data`` when present). Finished atlases are reused on the next run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from tqdm import tqdm

from precompute.job import JobConfig, run_job
from qkatlas.atlas import find_atlases
from qkatlas.atlas.format import atlas_slug
from qkatlas.images import default_source_name
from qkatlas.models import model_slug
from qkatlas.models._hub import hub_reachable
from qkatlas.models.planted import PLANTED_MODEL_ID, generate_planted_images
from qkatlas.sample_photos import write_sample_photos

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "facebook/dino-vits16"
IMAGENETTE_URL = os.environ.get(
    "QKATLAS_IMAGENETTE_URL", "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz"
)
#: Imagenette's ten ImageNet classes, so the atlas shows names rather than WordNet ids.
IMAGENETTE_CLASSES = {
    "n01440764": "tench",
    "n02102040": "English springer",
    "n02979186": "cassette player",
    "n03000684": "chain saw",
    "n03028079": "church",
    "n03394916": "French horn",
    "n03417042": "garbage truck",
    "n03425413": "gas pump",
    "n03445777": "golf ball",
    "n03888605": "parachute",
}
SHARED_SAMPLES = REPO.parent / "shared" / "data" / "imagenet-samples"


def fetch_imagenette(data_dir: Path, url: str = IMAGENETTE_URL) -> Path:
    """Download and unpack Imagenette once; return its validation folder (one folder per class)."""
    target = data_dir / "imagenette-val"
    if (target / "LOC_synset_mapping.txt").is_file():
        return target
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        archive = Path(tmp) / "imagenette.tgz"
        with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="downloading Imagenette") as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/val/" in f"/{m.name}" and (m.isfile() or m.isdir())]
            tar.extractall(unpacked, members=members, filter="data")
        val = next(p for p in unpacked.rglob("val") if p.is_dir())
        mapping = "".join(f"{wnid} {name}\n" for wnid, name in IMAGENETTE_CLASSES.items())
        (val / "LOC_synset_mapping.txt").write_text(mapping)
        val.rename(target)
    return target


def _demo_photos(data_dir: Path) -> Path:
    """scikit-image's bundled photos (CC0 / public domain), written once as JPEG/PNG files."""
    target = data_dir / "demo-photos"
    if not target.is_dir():
        write_sample_photos(target)
    return target


def _build(out: Path, model: str, images: Path, dataset: str, **options: Any) -> None:
    slug = atlas_slug(model_slug(model), dataset)
    if (out / slug / "manifest.json").is_file():
        print(f"atlas {slug} already built; reusing it")
        return
    print(f"building atlas {slug} ...")
    run_job(JobConfig(model_id=model, images=str(images), out=out, dataset_name=dataset, **options))


def build_default_atlases(
    out: Path, data_dir: Path, *, offline: bool, workers: int, photos: Path | None = None
) -> None:
    if not offline and hub_reachable():
        images = fetch_imagenette(data_dir)
        _build(out, DEFAULT_MODEL, images, "imagenette-val", workers=workers)
        return
    print(
        "No model hub reachable (or --offline): building the OFFLINE DEMO instead. It needs no download; "
        "its atlases are labelled in the dashboard as planted / random weights."
    )
    planted_images = data_dir / "planted-images"
    if not planted_images.is_dir():
        generate_planted_images(planted_images, n=70, seed=0)
    _build(out, PLANTED_MODEL_ID, planted_images, "planted-shapes", top_k=8, batch_size=32, workers=workers)
    if photos is None:
        photos = SHARED_SAMPLES if SHARED_SAMPLES.is_dir() else _demo_photos(data_dir)
    _build(
        out,
        DEFAULT_MODEL,
        photos,
        default_source_name(photos),
        random_init=True,
        top_k=8,
        batch_size=32,
        workers=workers,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m precompute.default_run", description=__doc__)
    parser.add_argument("--atlas-dir", type=Path, default=REPO / "atlases")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--offline", action="store_true", help="skip the hub and build the offline demo")
    parser.add_argument("--photos", type=Path, default=None, help="photos for the offline demo's random-init ViT")
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="build the atlases, then stop")
    args = parser.parse_args(argv)
    build_default_atlases(args.atlas_dir, args.data_dir, offline=args.offline, workers=args.workers, photos=args.photos)
    atlases, failures = find_atlases(args.atlas_dir)
    print(f"{len(atlases)} atlas(es) in {args.atlas_dir}: " + ", ".join(a.slug for a in atlases))
    for path, reason in failures:
        print(f"  not served: {path.name}: {reason}")
    if args.no_serve:
        return 0
    print(f"serving the dashboard on http://{args.host}:{args.port}/")
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "backend",
            "--atlas-dir",
            str(args.atlas_dir),
            "--host",
            args.host,
            "--port",
            str(args.port),
        ],
    )
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
