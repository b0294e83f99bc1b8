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

import gzip
import hashlib
import os
import shutil
import tarfile
import traceback
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from precompute.job import run_job
from precompute.job_config import JobConfig
from qkatlas.atlas import find_atlases
from qkatlas.atlas.format import MANIFEST, atlas_slug
from qkatlas.images import default_source_name
from qkatlas.models import model_slug
from qkatlas.models.hub import HubUnavailableError, resolve_commit
from qkatlas.models.planted import PLANTED_MODEL_ID, generate_planted_images
from qkatlas.sample_photos import optional_sample_dir, write_sample_photos
from quickstart.download import DEFAULT_RETRY, DownloadSource, RetryPolicy, download, local_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "facebook/dino-vits16"
#: The first bytes of every gzip file: a page served in place of the archive is refused before it is kept.
GZIP_MAGIC = b"\x1f\x8b"

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


def fetch_imagenette(data_dir: Path, url: str = IMAGENETTE_URL, retry: RetryPolicy = DEFAULT_RETRY) -> Path:
    """Download and unpack Imagenette once; return its validation folder (one folder per class).

    The archive downloads into ``data_dir`` (named after its URL, its ``.part`` kept when a download is
    cut, so that the next run resumes it); a ``file://`` URL is read in place. Its ``val/`` folder is
    unpacked beside the target and moved into place with one rename, so a killed run leaves nothing the
    next run trips on. Every failure is a ``DownloadError`` naming the URL and ``QKATLAS_IMAGENETTE_URL``.
    """
    target = data_dir / "imagenette-val"
    if (target / "LOC_synset_mapping.txt").is_file():
        return target
    source = DownloadSource(url, "the Imagenette archive", "QKATLAS_IMAGENETTE_URL", magic=GZIP_MAGIC)
    local = local_file(url)
    if local is not None and not local.is_file():
        raise source.error(f"there is no file {local}", "Check the path")
    archive = local or download(source, imagenette_archive_path(data_dir, url), retry)
    unpacking = data_dir / ".imagenette-unpacking"
    shutil.rmtree(unpacking, ignore_errors=True)  # what a killed run left
    try:
        val = _unpack_val(source, archive, unpacking, keep_archive=local is not None)
        mapping = "".join(f"{wnid} {name}\n" for wnid, name in IMAGENETTE_CLASSES.items())
        (val / "LOC_synset_mapping.txt").write_text(mapping)
        shutil.rmtree(target, ignore_errors=True)  # a folder without the mapping is not a finished one
        val.rename(target)
    finally:
        shutil.rmtree(unpacking, ignore_errors=True)
    for downloaded in data_dir.glob("imagenette-*.tgz*"):  # this archive, and partial ones from other URLs
        if downloaded != local:
            downloaded.unlink()
    return target


def imagenette_archive_path(data_dir: Path, url: str) -> Path:
    """Where the archive from ``url`` downloads to: named after the URL, so that a partial file is only
    ever resumed from the address it came from."""
    return data_dir / f"imagenette-{hashlib.sha256(url.encode()).hexdigest()[:12]}.tgz"


def _unpack_val(source: DownloadSource, archive: Path, into: Path, *, keep_archive: bool) -> Path:
    """Unpack the archive's ``<top>/val/<class>/<image>`` files into ``into``; return the ``val`` folder.

    A damaged archive or one without that layout raises ``DownloadError``, and a downloaded archive is
    then deleted (downloading the same bytes again would not help), so the next run starts afresh.
    """
    seen: list[str] = []  # the archive's first few folders, to say what it holds instead
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if len(seen) <= 6 and (folder := "/".join(parts[:2])) not in seen:
                    seen.append(folder)
                if "val" in parts[:-1] and (member.isfile() or member.isdir()):
                    tar.extract(member, into, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        if not keep_archive:
            archive.unlink()
        gone = "it was deleted, so the next run downloads it again" if not keep_archive else f"the file is {archive}"
        raise source.error(
            f"the archive is damaged or not a gzip-compressed tar file ({type(error).__name__}: {error}); {gone}",
            "If this happens again, check the address",
        ) from None
    vals = sorted((p for p in into.rglob("val") if p.is_dir()), key=lambda p: len(p.parts))
    if not vals or not any(folder.is_dir() for folder in vals[0].iterdir()):
        if not keep_archive:
            archive.unlink()
        holds = ", ".join(seen[:6]) + (", …" if len(seen) > 6 else "") if seen else "nothing"
        raise source.error(
            "the archive has no val/ folder of class folders (expected imagenette2-320/val/<class id>/<image>.JPEG, "
            f"as in imagenette2-320.tgz); it holds {holds}",
            "Check that the address names Imagenette's archive",
        )
    return vals[0]


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
