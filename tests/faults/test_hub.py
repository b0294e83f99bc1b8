"""The model hub failing on the first run, and the runs after it comes back (issue 27, items 1, 5, 6).

Every run is the real command in a subprocess (``python -m quickstart``, ``python -m precompute``)
against a local stand-in hub (``tests.helpers.hub_standin``) serving a tiny random-init ViT saved with
``save_pretrained`` as ``facebook/dino-vits16``, and a tiny Imagenette-shaped archive as the dataset
download. Each failure mode (repository 404, 503 outage, a proxy that is not a hub, connection
refused) must end in a few lines naming the endpoint, the cause and the fix, no traceback, and no
dataset download; quickstart then builds (or reuses) the offline demo, the job exits non-zero. When
the hub is back the next run succeeds and records the commit it loaded; ``--revision`` pins an older
one after main moved.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from transformers import ViTConfig, ViTModel

from precompute.folder_lock import LOCK_FILE
from qkatlas.atlas import Atlas, find_atlases
from qkatlas.models import load_model
from qkatlas.sample_photos import write_sample_photos
from qkatlas.svd import decompose
from tests.helpers.faults import FaultRecorder
from tests.helpers.hub_standin import HubMode, HubStandIn

REPO = Path(__file__).resolve().parents[2]
MODEL = "facebook/dino-vits16"  # what quickstart asks the hub for; the stand-in serves a tiny ViT under it
ARCHIVE = "imagenette2-320.tgz"
WNIDS = ("n01440764", "n03888605")
#: The cause each failure mode must be named by, in the message's own words.
CAUSES = {
    HubMode.REPO_MISSING: "no such repository",
    HubMode.OUTAGE: "HTTP 503",
    HubMode.NOT_A_HUB: "not as a Hugging Face hub",
    HubMode.REFUSED: "does not answer",
}
#: The fix each failure mode must point to.
FIXES = {
    HubMode.REPO_MISSING: "HF_TOKEN",
    HubMode.OUTAGE: "HF_ENDPOINT",
    HubMode.NOT_A_HUB: "HF_ENDPOINT",
    HubMode.REFUSED: "HF_ENDPOINT",
}


def _tiny_vit(folder: Path, seed: int) -> Path:
    """A random-init 2-layer ViT (width 32, 2 heads, 32 px images of 8 px patches), saved as the hub has it."""
    config = ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8
    )
    import torch

    torch.manual_seed(seed)
    ViTModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


def _imagenette_archive() -> bytes:
    """Imagenette's layout (``imagenette2-320/{train,val}/<wnid>/*.JPEG``), three small images a class."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "val"):
            for c, wnid in enumerate(WNIDS):
                for i in range(3):
                    image = io.BytesIO()
                    Image.new("RGB", (40, 30), (60 * i, 200 * c, 90)).save(image, format="JPEG")
                    info = tarfile.TarInfo(f"imagenette2-320/{split}/{wnid}/{wnid}_{i}.JPEG")
                    info.size = image.tell()
                    image.seek(0)
                    tar.addfile(info, image)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions of the model: the older (first commit) and the newer (main after it moved)."""
    root = tmp_path_factory.mktemp("checkpoints")
    return _tiny_vit(root / "old", seed=1), _tiny_vit(root / "new", seed=2)


@pytest.fixture
def hub(checkpoints: tuple[Path, Path]) -> Iterator[HubStandIn]:
    with HubStandIn() as standin:
        standin.add_commit(MODEL, checkpoints[0])
        standin.add_file(ARCHIVE, _imagenette_archive())
        yield standin


def _env(hub: HubStandIn, tmp: Path, cache: str = "hf-cache") -> dict[str, str]:
    """The environment of a first run on a fresh machine whose hub is the stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "QKATLAS_"))}
    return {
        **env,
        "PYTHONPATH": str(REPO),
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp / "hf-home"),
        "HF_HUB_CACHE": str(tmp / cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "QKATLAS_IMAGENETTE_URL": f"{hub.url}/files/{ARCHIVE}",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)


def _quickstart(tmp: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--no-serve", "--workers", "0", "--atlas-dir", str(tmp / "atlases"), "--data-dir", str(tmp / "data")]
    return _run(["-m", "quickstart", *args, *extra], env)


def _hub_message(output: str) -> list[str]:
    """The lines of the hub failure's message (from 'cannot get the model' to its fix)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "cannot get the model" in line)
    return lines[start : start + 2]


def _assert_clear(run: subprocess.CompletedProcess[str], hub: HubStandIn, mode: HubMode) -> list[str]:
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    message = _hub_message(output)
    text = "\n".join(message)
    assert MODEL in text and hub.url in text and "HF_ENDPOINT" in text, text
    assert CAUSES[mode] in text and FIXES[mode] in text, text
    return message


@pytest.fixture(scope="module")
def demo_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two of scikit-image's photos: enough for the demo's random-init ViT-S/16, cheap on a CPU."""
    everything = tmp_path_factory.mktemp("all-photos")
    write_sample_photos(everything)
    chosen = tmp_path_factory.mktemp("demo-photos")
    for photo in sorted(p for p in everything.iterdir() if p.is_file())[:2]:
        photo.rename(chosen / photo.name)
    return chosen


def test_quickstart_without_the_model_builds_the_demo_then_the_real_atlas_when_the_hub_is_back(
    hub: HubStandIn, tmp_path: Path, demo_photos: Path, faults: FaultRecorder
) -> None:
    env = _env(hub, tmp_path)
    for number, mode in enumerate(CAUSES):
        hub.set_mode(mode)
        hub.requests.clear()
        run = _quickstart(tmp_path, env, "--photos", str(demo_photos))
        assert run.returncode == 0, run.stdout + run.stderr
        message = _assert_clear(run, hub, mode)
        assert "OFFLINE DEMO" in run.stdout and "--offline" in run.stdout, run.stdout
        # Nothing else before the demo starts: the message, then what quickstart does about it.
        before_demo = run.stdout.split("OFFLINE DEMO")[0].strip().splitlines()
        assert len(before_demo) == 3 and run.stderr.split("loading model")[0].strip() == "", run.stdout + run.stderr
        assert hub.file_requests(ARCHIVE) == [], "the dataset was downloaded although the model was not there"
        atlases, failures = find_atlases(tmp_path / "atlases")
        assert not failures
        assert sorted(a.manifest.model_source.id for a in atlases) == ["facebook/dino-vits16", "planted"]
        assert all(a.manifest.model_source.random_init or a.manifest.model_source.planted for a in atlases)
        if number > 0:  # the demo of the first failure is reused, not built again
            assert run.stdout.count("already built") == 2, run.stdout
        faults.record(
            f"hub: {mode.value} (quickstart)",
            injected=1,
            requests=len(hub.hub_requests()),
            failures_seen=1,
            lost=0,
            produced=f"{len(message)}-line message, offline demo, exit 0",
        )

    hub.set_mode(HubMode.OK)
    hub.requests.clear()
    run = _quickstart(tmp_path, env, "--photos", str(demo_photos))
    assert run.returncode == 0, run.stdout + run.stderr
    # The model first (config and weights), then the dataset.
    weights = hub.requests.index(next(r for r in hub.requests if r.startswith("GET") and "model.safetensors" in r))
    assert hub.requests.index(f"GET /files/{ARCHIVE}") > weights
    atlas = Atlas.open(tmp_path / "atlases" / "facebook--dino-vits16__imagenette-val")
    source = atlas.manifest.model_source
    assert not source.random_init and source.revision == hub.repos[MODEL].commits[0][0]
    assert atlas.manifest.dataset.n_images == 2 * 3
    faults.record(
        "hub: back after failures (quickstart)",
        injected=0,
        requests=len(hub.requests),
        failures_seen=0,
        lost=0,
        produced="pretrained atlas with the commit recorded",
    )


def test_quickstart_serves_the_atlases_built_with_trained_weights_when_the_hub_is_gone(
    hub: HubStandIn, tmp_path: Path, demo_photos: Path, faults: FaultRecorder
) -> None:
    images = _image_folder(tmp_path / "images")
    own = _job(images, tmp_path / "atlases", _env(hub, tmp_path))  # the user's own atlas, trained weights
    assert own.returncode == 0, own.stdout + own.stderr
    no_hub = _env(hub, tmp_path, cache="empty-cache")  # the weights went with the hub: only the atlases are left
    hub.set_mode(HubMode.REFUSED)
    run = _quickstart(tmp_path, no_hub, "--photos", str(demo_photos))
    assert run.returncode == 0, run.stdout + run.stderr
    _assert_clear(run, hub, HubMode.REFUSED)
    assert "OFFLINE DEMO" not in run.stdout
    assert "Serving the 1 atlas(es) with trained weights already built (facebook--dino-vits16__images)" in run.stdout
    assert "the offline demo is built only when there is nothing to serve" in run.stdout
    atlases, failures = find_atlases(tmp_path / "atlases")
    assert not failures and [a.slug for a in atlases] == ["facebook--dino-vits16__images"]

    hub.set_mode(HubMode.OK)  # the hub back: the default atlas is built beside it
    online = _quickstart(tmp_path, _env(hub, tmp_path), "--photos", str(demo_photos))
    assert online.returncode == 0, online.stdout + online.stderr
    hub.set_mode(HubMode.REFUSED)
    again = _quickstart(tmp_path, no_hub, "--photos", str(demo_photos))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "atlas facebook--dino-vits16__imagenette-val already built; reusing it" in again.stdout
    assert "cannot get the model" not in again.stdout + again.stderr and "OFFLINE DEMO" not in again.stdout
    atlases, failures = find_atlases(tmp_path / "atlases")
    slugs = ["facebook--dino-vits16__imagenette-val", "facebook--dino-vits16__images"]
    assert not failures and sorted(a.slug for a in atlases) == slugs
    faults.record(
        "hub: gone after online runs (quickstart)",
        injected=2,
        requests=2,
        failures_seen=1,
        lost=0,
        produced="the atlases with trained weights served, no demo built",
    )


def test_quickstart_with_the_model_but_no_dataset_says_so_and_succeeds_once_it_is_there(
    hub: HubStandIn, tmp_path: Path, faults: FaultRecorder
) -> None:
    """The whole command, as a user runs it: the model is on the hub, the dataset's URL answers 404."""
    env = {**_env(hub, tmp_path), "QKATLAS_IMAGENETTE_URL": f"{hub.url}/files/moved-{ARCHIVE}"}
    run = _quickstart(tmp_path, env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr and len(run.stderr.strip().splitlines()) <= 4, run.stderr
    assert f"{hub.url}/files/moved-{ARCHIVE}" in run.stderr and "QKATLAS_IMAGENETTE_URL" in run.stderr, run.stderr
    assert "404" in run.stderr and "OFFLINE DEMO" not in run.stdout
    assert not (tmp_path / "data" / "imagenette-val").exists()
    hub.add_file(f"moved-{ARCHIVE}", _imagenette_archive())  # the mirror has it now
    again = _quickstart(tmp_path, env)
    assert again.returncode == 0, again.stdout + again.stderr
    atlas = Atlas.open(tmp_path / "atlases" / "facebook--dino-vits16__imagenette-val")
    assert atlas.manifest.dataset.n_images == 2 * 3 and not atlas.manifest.model_source.random_init
    faults.record(
        "dataset URL answers 404 while the hub gives the model (quickstart)",
        injected=1,
        requests=2,
        failures_seen=1,
        lost=0,
        produced=f"{len(run.stderr.strip().splitlines())} lines naming the URL and QKATLAS_IMAGENETTE_URL, exit 1; "
        "the next run built the atlas",
    )


def _image_folder(images: Path) -> Path:
    """Two classes of two small images."""
    for c, wnid in enumerate(WNIDS):
        (images / wnid).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 30), (90 * i, 200 * c, 40)).save(images / wnid / f"{i}.jpg")
    return images


def _job(images: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--model", MODEL, "--images", str(images), "--out", str(out), "--workers", "0", "--no-progress"]
    return _run(["-m", "precompute", *args, *extra], env)


def _sigma(atlas_or_folder: Atlas | Path) -> np.ndarray:
    if isinstance(atlas_or_folder, Atlas):
        return atlas_or_folder.sigma_all
    return decompose(load_model(str(atlas_or_folder)).weights()).sigma


def test_job_fails_clearly_without_the_model_then_pins_the_commit_it_loaded(
    hub: HubStandIn, tmp_path: Path, checkpoints: tuple[Path, Path], faults: FaultRecorder
) -> None:
    images = _image_folder(tmp_path / "images")
    env = _env(hub, tmp_path)
    for mode in CAUSES:
        hub.set_mode(mode)
        hub.requests.clear()
        run = _job(images, tmp_path / "atlases", env)
        assert run.returncode != 0
        message = _assert_clear(run, hub, mode)
        assert "--random-init" in run.stderr and len(run.stderr.strip().splitlines()) <= 5, run.stderr
        # Nothing written but the output folder's lock file (its holder's record, overwritten by the next job).
        left = sorted(p.name for p in (tmp_path / "atlases").iterdir()) if (tmp_path / "atlases").exists() else []
        assert left in ([], [LOCK_FILE]), left
        faults.record(
            f"hub: {mode.value} (job)",
            injected=1,
            requests=len(hub.hub_requests()),
            failures_seen=1,
            lost=0,
            produced=f"{len(message)}-line message, exit {run.returncode}",
        )
    debug = _job(images, tmp_path / "atlases", env, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr  # --debug keeps the traceback

    hub.set_mode(HubMode.OK)
    old_commit = hub.repos[MODEL].commits[0][0]
    new_commit = hub.add_commit(MODEL, checkpoints[1])  # main moves on
    run = _job(images, tmp_path / "atlases", env)
    assert run.returncode == 0, run.stdout + run.stderr
    latest = Atlas.open(tmp_path / "atlases" / "facebook--dino-vits16__images")
    assert latest.manifest.model_source.revision == new_commit
    np.testing.assert_allclose(_sigma(latest), _sigma(checkpoints[1]), rtol=1e-5)

    pinned_run = _job(images, tmp_path / "pinned", env, "--revision", old_commit)
    assert pinned_run.returncode == 0, pinned_run.stdout + pinned_run.stderr
    pinned = Atlas.open(tmp_path / "pinned" / "facebook--dino-vits16__images")
    assert pinned.manifest.model_source.revision == old_commit
    np.testing.assert_allclose(_sigma(pinned), _sigma(checkpoints[0]), rtol=1e-5)
    assert not np.allclose(_sigma(pinned), _sigma(latest))

    unknown = _job(images, tmp_path / "unknown", env, "--revision", "v9.9")
    assert unknown.returncode == 1 and "no such revision" in unknown.stderr and "--revision" in unknown.stderr
    assert "Traceback" not in unknown.stderr, unknown.stderr

    # Resuming keeps the atlas built from the commit main still points to.
    resumed = _job(images, tmp_path / "atlases", env, "--resume")
    assert resumed.returncode == 0 and "kept the finished atlas" in resumed.stdout, resumed.stdout + resumed.stderr
    faults.record(
        "hub: back, main moved (job)",
        injected=0,
        requests=4,  # runs: main, --revision <older commit>, --revision <unknown>, --resume
        failures_seen=1,
        lost=0,
        produced="atlases pinned to the commit loaded; --revision rebuilds the older one; unknown revision named",
    )
