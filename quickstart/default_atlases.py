"""The atlases ``./qk up`` serves, built once and reused.

With a model hub in reach: DINO ViT-S/16 (``facebook/dino-vits16``) over the Imagenette validation
split (reused once built, without asking the hub), downloaded on first use once the model is resolved
(its config and weights on the hub or in the local cache; the atlas is pinned to the commit they came
from). Without the model (or with ``--offline``): the atlases already built from trained weights when
there are any, else an offline demo that needs no download, each atlas labelled as such in the UI
(from its manifest's ``model_source``): the planted-mode model over generated images, and a
random-init DINO ViT-S/16 over the optional ImageNet sample photos when the machine has them
(``qkatlas.sample_photos.optional_sample_dir``), else over the photos bundled with
scikit-image. Finished atlases are reused on the next run.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
import traceback
import urllib.request
from pathlib import Path
from typing import Any

from tqdm import tqdm

from precompute.job import run_job
from precompute.job_config import JobConfig
from qkatlas.atlas import find_atlases
from qkatlas.atlas.format import MANIFEST, atlas_slug
from qkatlas.images import default_source_name
from qkatlas.models import model_slug
from qkatlas.models.hub import HubUnavailableError, resolve_commit
from qkatlas.models.planted import PLANTED_MODEL_ID, generate_planted_images
from qkatlas.sample_photos import optional_sample_dir, write_sample_photos

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "facebook/dino-vits16"
DEFAULT_DATASET = "imagenette-val"
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
    if (out / slug / MANIFEST).is_file():
        print(f"atlas {slug} already built; reusing it")
        return
    print(f"building atlas {slug} ...")
    run_job(JobConfig(models=(model,), images=str(images), out=out, dataset_name=dataset, **options))


def _pretrained_atlases(out: Path) -> list[str]:
    """The atlases under ``out`` built from trained weights (not the offline demo's planted or random
    ones): what a run without the hub serves instead of building the demo."""
    atlases, _failures = find_atlases(out)
    return [a.slug for a in atlases if not (a.manifest.model_source.random_init or a.manifest.model_source.planted)]


def build_default_atlases(
    out: Path, data_dir: Path, *, offline: bool, workers: int, photos: Path | None = None, debug: bool = False
) -> None:
    """The default atlas: reused when built, else built when the hub gives the model (checked before the
    dataset is downloaded); else the atlases already built from trained weights when there are any;
    else the offline demo. ``debug``: print the traceback of a hub failure too."""
    default = atlas_slug(model_slug(DEFAULT_MODEL), DEFAULT_DATASET)
    if (out / default / MANIFEST).is_file():
        print(f"atlas {default} already built; reusing it (it needs neither the hub nor a download)")
        return
    if offline:
        why = "--offline was given."
    else:
        try:
            revision = resolve_commit(DEFAULT_MODEL, None)  # config and weights, from the hub or the cache
        except HubUnavailableError as error:
            if debug:
                traceback.print_exception(error)
            why = str(error)
        else:
            images = fetch_imagenette(data_dir)
            _build(out, DEFAULT_MODEL, images, DEFAULT_DATASET, workers=workers, revision=revision)
            return
    print(f"No model from the hub: {why}")
    served = _pretrained_atlases(out)
    if served:
        print(
            f"Serving the {len(served)} atlas(es) with trained weights already built ({', '.join(served)}); "
            "the offline demo is built only when there is nothing to serve."
        )
        return
    print(
        "Building the OFFLINE DEMO instead: it needs no download, and its atlases are labelled in the dashboard "
        "as planted / random weights (--offline skips the hub check)."
    )
    planted_images = data_dir / "planted-images"
    if not planted_images.is_dir():
        generate_planted_images(planted_images, n=70, seed=0)
    _build(
        out, PLANTED_MODEL_ID, planted_images, "planted-shapes", top_k=8, batch_size=32, workers=workers, effects=True
    )
    if photos is None:
        samples = optional_sample_dir("imagenet-samples")
        photos = samples if samples.is_dir() else _demo_photos(data_dir)
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
