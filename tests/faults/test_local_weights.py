"""The hub gone while the models are local checkpoint folders: every command loads the folder's own
weights, with the hub unreachable (a closed port, ``HF_HUB_OFFLINE=1``) or answering nonsense (a
stand-in that is no hub), and random weights only for the models that need the hub.

Each command runs as a user runs it (``python -m precompute ...``, ``python -m backend``) in a fresh
process whose environment breaks the hub. What it computed is checked against numpy on the
checkpoint's own safetensors: ``σ`` of ``W_q^T W_k`` per head, a SHA-256 of the folder's files
(docs/atlas-format.md), and the attention of the checkpoint loaded by ``transformers`` itself.
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.numpy import load_file, save_file
from transformers import ViTImageProcessor, ViTModel

from qkatlas.atlas import Atlas, find_atlases
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT
from tests.helpers.backend import free_port
from tests.helpers.faults import FaultRecorder
from tests.helpers.o3_images import write_synthetic_o3
from tests.helpers.service import Service

ROOT = Path(__file__).resolve().parents[2]
_TINY_HF = {"num_hidden_layers": 2, "hidden_size": 48, "num_attention_heads": 3, "intermediate_size": 64}
_MEAN, _STD = (0.4, 0.45, 0.5), (0.25, 0.2, 0.3)


class _NotAHub(http.server.BaseHTTPRequestHandler):
    """Answers every request with an HTML error page, as a captive portal or a wrong proxy would."""

    requests = 0

    def _answer(self) -> None:
        type(self).requests += 1
        body = b"<html><body>Proxy error</body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def not_a_hub() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


#: How each run breaks the hub: an endpoint nobody listens on, offline mode, or a server that is no hub.
HUB_STATES = ("closed port", "HF_HUB_OFFLINE=1", "not a hub")


def _hub_env(state: str, not_a_hub: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}
    env["PYTHONPATH"] = str(ROOT)
    if state == "closed port":
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    elif state == "HF_HUB_OFFLINE=1":
        env["HF_HUB_OFFLINE"] = "1"
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    else:
        env["HF_ENDPOINT"] = not_a_hub
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "precompute", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


# --------------------------------------------------------------------------------------------------
# Checkpoints and what numpy makes of them
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init Hugging Face ViT, ``save_pretrained`` with its processor."""
    from qkatlas.models import load_model

    directory = tmp_path_factory.mktemp("hf-vit")
    adapter = load_model(
        "google/vit-base-patch16-224", random_init=True, seed=11, overrides={**_TINY_HF, "image_size": 64}
    )
    assert isinstance(adapter.module, ViTModel)
    adapter.module.save_pretrained(directory)
    ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=list(_MEAN), image_std=list(_STD)).save_pretrained(
        directory
    )
    return directory


@pytest.fixture(scope="module")
def timm_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-init timm ViT in timm's hub layout (``config.json`` with ``architecture``)."""
    from qkatlas.models import load_model

    directory = tmp_path_factory.mktemp("timm-vit")
    adapter = load_model(TINY_VIT, random_init=True, seed=12, overrides=TINY_OVERRIDES)
    timm.models.save_for_hf(adapter.module, str(directory), safe_serialization=True)
    return directory


def folder_hash(directory: Path) -> str:
    """The documented content hash (docs/atlas-format.md), computed here from the files alone."""
    digest = hashlib.sha256()
    names = ("config.json", "preprocessor_config.json")
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.name in names or path.name.endswith((".safetensors", ".bin", ".index.json")):
            data = path.read_bytes()
            digest.update(path.name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + digest.hexdigest()


def checkpoint_sigma(directory: Path) -> np.ndarray:
    """``[L, H, d_h]``: singular values of ``W_q^T W_k`` of every head, from the safetensors file."""
    tensors = load_file(str(directory / "model.safetensors"))
    config = json.loads((directory / "config.json").read_text())
    if "architecture" in config:  # timm: fused qkv rows [q; k; v]
        qkv = [tensors[f"blocks.{layer}.attn.qkv.weight"] for layer in range(TINY_OVERRIDES["depth"])]
        pairs = [(w[: w.shape[1]], w[w.shape[1] : 2 * w.shape[1]]) for w in qkv]
        n_heads = TINY_OVERRIDES["num_heads"]
    else:
        prefix = next(k for k in tensors if k.endswith("layer.0.attention.attention.query.weight")).split("layer.0.")[0]
        pairs = [
            (
                tensors[f"{prefix}layer.{layer}.attention.attention.query.weight"],
                tensors[f"{prefix}layer.{layer}.attention.attention.key.weight"],
            )
            for layer in range(config["num_hidden_layers"])
        ]
        n_heads = config["num_attention_heads"]
    sigma = []
    for w_q, w_k in pairs:
        d_head = w_q.shape[0] // n_heads
        heads = []
        for head in range(n_heads):
            rows = slice(head * d_head, (head + 1) * d_head)
            m = w_q[rows].astype(np.float64).T @ w_k[rows].astype(np.float64)
            heads.append(np.linalg.svd(m, compute_uv=False)[:d_head])
        sigma.append(heads)
    return np.asarray(sigma)


def _spectra_csv(path: Path) -> tuple[str, np.ndarray]:
    """The first-line label and ``σ [L, H, M]`` of a reproduce spectra CSV."""
    with path.open() as handle:
        label = handle.readline().strip()
        rows = list(csv.DictReader(handle))
    shape = tuple(1 + max(int(r[key]) for r in rows) for key in ("layer", "head", "mode"))
    sigma = np.zeros(shape)
    for r in rows:
        sigma[int(r["layer"]), int(r["head"]), int(r["mode"])] = float(r["sigma"])
    return label, sigma


def _assert_sigma(actual: np.ndarray, directory: Path) -> None:
    expected = checkpoint_sigma(directory)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12 * expected.max())


# --------------------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", HUB_STATES)
def test_reproduce_runs_a_local_checkpoint_on_its_own_weights_without_a_hub(
    tmp_path: Path, hf_checkpoint: Path, not_a_hub: str, state: str, faults: FaultRecorder
) -> None:
    before = _NotAHub.requests
    done = _run(
        ["reproduce", "--out", str(tmp_path), "--models", str(hf_checkpoint), "--no-progress"],
        _hub_env(state, not_a_hub),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RANDOM" not in done.stdout + done.stderr
    assert "(local checkpoint weights)" in done.stdout
    label, sigma = _spectra_csv(tmp_path / "spectra" / f"{hf_checkpoint.name}.csv")
    assert label == "# local checkpoint weights"
    _assert_sigma(sigma, hf_checkpoint)
    with (tmp_path / "fig3_weighted_cosine.csv").open() as handle:
        assert handle.readline().strip() == "# local checkpoint weights"
        assert {row["weights"] for row in csv.DictReader(handle)} == {"local checkpoint weights"}
    hub_requests = _NotAHub.requests - before
    assert hub_requests == 0  # a local checkpoint never asks the hub
    faults.record(
        f"hub gone ({state}), reproduce on a local checkpoint",
        injected=1,
        requests=1,
        failures_seen=0,
        lost=0,
        produced="the checkpoint's own σ (to 1e-9), labelled local checkpoint weights",
    )


def test_reproduce_labels_only_the_hub_models_random(
    tmp_path: Path, timm_checkpoint: Path, not_a_hub: str, faults: FaultRecorder
) -> None:
    """A local timm checkpoint and a timm hub name in one run, hub unreachable: the checkpoint keeps its
    weights, the hub model runs on random ones, and every figure and CSV says which is which."""
    overrides = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--override", f"{key}={value}")]
    models = [str(timm_checkpoint), TINY_VIT]
    args = ["reproduce", "--out", str(tmp_path), "--models", *models, *overrides, "--no-progress"]
    done = _run(args, _hub_env("closed port", not_a_hub))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"RANDOM WEIGHTS — offline: the model hub is unreachable, so {TINY_VIT} are")
    local_label, sigma = _spectra_csv(tmp_path / "spectra" / f"{timm_checkpoint.name}.csv")
    assert local_label == "# local checkpoint weights"
    _assert_sigma(sigma, timm_checkpoint)
    random_label, _ = _spectra_csv(tmp_path / "spectra" / f"{TINY_VIT}.csv")
    assert random_label == "# RANDOM WEIGHTS — offline"
    mixed = f"MIXED WEIGHTS — local checkpoint weights: {timm_checkpoint}; RANDOM WEIGHTS — offline: {TINY_VIT}"
    with (tmp_path / "fig3_weighted_cosine.csv").open() as handle:
        assert handle.readline().strip() == f"# {mixed}"
        weights = {row["model"]: row["weights"] for row in csv.DictReader(handle)}
    assert weights == {str(timm_checkpoint): "local checkpoint weights", TINY_VIT: "RANDOM WEIGHTS — offline"}
    svg = (tmp_path / "fig3_weighted_cosine.svg").read_text()
    assert f"{TINY_VIT} (random weights)" in svg and f"{timm_checkpoint} (random weights)" not in svg
    faults.record(
        "hub gone (closed port), reproduce on a local checkpoint and a hub model",
        injected=1,
        requests=1,
        failures_seen=0,
        lost=0,
        produced="own σ for the checkpoint; the hub model on random weights, labelled per model",
    )


# --------------------------------------------------------------------------------------------------
# o3 and build
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["HF_HUB_OFFLINE=1", "not a hub"])
def test_o3_records_the_local_checkpoint_and_its_hash_without_a_hub(
    tmp_path: Path, timm_checkpoint: Path, not_a_hub: str, state: str, faults: FaultRecorder
) -> None:
    before = _NotAHub.requests
    o3 = write_synthetic_o3(tmp_path / "o3", n=3)
    out = tmp_path / "atlases"
    args = ["o3", "--model", str(timm_checkpoint), "--o3", str(o3), "--out", str(out), "--no-progress"]
    done = _run(args, _hub_env(state, not_a_hub))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RANDOM" not in done.stdout
    (written,) = out.glob("*o3.json")
    source = json.loads(written.read_text())["model_source"]
    assert source["id"] == str(timm_checkpoint) and source["random_init"] is False
    assert source["revision"] == folder_hash(timm_checkpoint)
    assert _NotAHub.requests == before  # timm's local-dir loading never asks the hub
    faults.record(
        f"hub gone ({state}), o3 on a local timm checkpoint",
        injected=1,
        requests=1,
        failures_seen=0,
        lost=0,
        produced="o3.json of the checkpoint's weights, revision = its content hash",
    )


@pytest.fixture(scope="module")
def hf_atlas(tmp_path_factory: pytest.TempPathFactory, hf_checkpoint: Path, photo_dir: Path) -> Path:
    """The atlas of ``hf_checkpoint`` built by ``python -m precompute build`` with the hub at a closed port."""
    out = tmp_path_factory.mktemp("local-atlases")
    done = _build(hf_checkpoint, photo_dir, out)
    assert done.returncode == 0, done.stderr[-3000:]
    (atlas,), failures = find_atlases(out)
    assert not failures
    return atlas.path


def test_build_records_the_local_checkpoint_and_its_own_sigma_without_a_hub(
    hf_atlas: Path, hf_checkpoint: Path, faults: FaultRecorder
) -> None:
    atlas = Atlas.open(hf_atlas)
    source = atlas.manifest.model_source
    assert (source.id, source.random_init, source.revision) == (str(hf_checkpoint), False, folder_hash(hf_checkpoint))
    assert atlas.manifest.model.revision == folder_hash(hf_checkpoint)
    _assert_sigma(atlas.sigma_all, hf_checkpoint)
    faults.record(
        "hub gone (closed port), build on a local checkpoint",
        injected=1,
        requests=1,
        failures_seen=0,
        lost=0,
        produced="an atlas of the checkpoint's own σ, revision = its content hash",
    )


# --------------------------------------------------------------------------------------------------
# The service, and a checkpoint changed after its atlas was built
# --------------------------------------------------------------------------------------------------


def _photo() -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(5).integers(0, 255, (80, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _reference_attention(checkpoint: Path, seen: bytes, layer: int, head: int, query: int) -> np.ndarray:
    """The attention row of token ``query`` computed by ``transformers`` itself on the checkpoint's weights,
    from the image as the model sees it (uint8 PNG), normalized with the checkpoint's mean and std."""
    model = ViTModel.from_pretrained(checkpoint, add_pooling_layer=False, attn_implementation="eager")
    image = np.asarray(Image.open(io.BytesIO(seen)).convert("RGB"), dtype=np.float32) / 255.0
    pixels = (torch.from_numpy(image).permute(2, 0, 1) - torch.tensor(_MEAN)[:, None, None]) / torch.tensor(_STD)[
        :, None, None
    ]
    with torch.no_grad():
        attentions = model(pixel_values=pixels[None], output_attentions=True).attentions
    row: np.ndarray = attentions[layer][0, head, query].double().numpy()
    return row


@pytest.fixture
def offline_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_atlas: Path) -> Iterator[Service]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    service = Service(hf_atlas.parent, None, tmp_path / "service.log")
    yield service
    service.stop()


def test_service_analyses_uploads_with_the_local_checkpoint_without_a_hub(
    offline_service: Service, hf_atlas: Path, hf_checkpoint: Path, faults: FaultRecorder
) -> None:
    slug = hf_atlas.name
    upload_id = offline_service.upload(_photo())
    base = f"/api/uploads/{upload_id}/models/{slug}"
    seen = offline_service.get(f"{base}/image.png")
    assert seen.status == 200
    layer, head, patch = 1, 2, 5
    reply = offline_service.get(f"{base}/layers/{layer}/heads/{head}/attention?query_patch={patch}")
    assert reply.status == 200, reply.body[:500]
    expected = _reference_attention(hf_checkpoint, seen.body, layer, head, 1 + patch)
    np.testing.assert_allclose(np.asarray(reply.json()["attention"]), expected, atol=2e-5)
    faults.record(
        "hub gone (HF_HUB_OFFLINE=1), service analysing an upload with a local checkpoint",
        injected=1,
        requests=3,
        failures_seen=0,
        lost=0,
        produced="the checkpoint's own attention (transformers' to 2e-5)",
    )


def _build(checkpoint: Path, images: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m precompute build`` of ``checkpoint`` with the hub at a closed port."""
    args = ["build", "--model", str(checkpoint), "--images", str(images), "--out", str(out), "--top-k", "3"]
    return _run([*args, "--no-progress", "--workers", "0", *extra], _hub_env("closed port", ""))


def _double_a_query_weight(checkpoint: Path) -> None:
    weights = checkpoint / "model.safetensors"
    tensors = load_file(str(weights))
    name = next(k for k in tensors if k.endswith("layer.0.attention.attention.query.weight"))
    tensors[name] = tensors[name] * 2
    save_file(tensors, str(weights), metadata={"format": "pt"})


def test_a_changed_checkpoint_is_refused_for_uploads_and_rebuilt_on_resume(
    hf_checkpoint: Path, photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: FaultRecorder
) -> None:
    checkpoint = Path(shutil.copytree(hf_checkpoint, tmp_path / "checkpoint"))
    out = tmp_path / "atlases"
    assert _build(checkpoint, photo_dir, out).returncode == 0
    (atlas,), _ = find_atlases(out)
    recorded = atlas.manifest.model_source.revision
    _double_a_query_weight(checkpoint)  # the checkpoint changes after its atlas was built

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    service = Service(out, None, tmp_path / "service.log")
    try:
        upload_id = service.upload(_photo())
        refused = service.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0")
        browsed = service.get(f"/api/models/{atlas.slug}/layers/0/heads/0/modes/0")
    finally:
        service.stop()
    assert refused.status == 503
    detail = refused.json()["detail"]
    assert "checkpoint this atlas was built from has changed" in detail and str(recorded) in detail
    assert browsed.status == 200  # the rest of the atlas still browses

    # Resuming the job sees other weights: it rebuilds the atlas from the checkpoint as it is now.
    done = _build(checkpoint, photo_dir, out, "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "keeping the finished atlas" not in done.stdout + done.stderr
    rebuilt = Atlas.open(atlas.path)
    assert rebuilt.manifest.model_source.revision == folder_hash(checkpoint) != recorded
    _assert_sigma(rebuilt.sigma_all, checkpoint)
    faults.record(
        "local checkpoint changed after its atlas was built",
        injected=1,
        requests=3,
        failures_seen=1,
        lost=0,
        produced="503 naming the changed checkpoint and the recorded revision; browsing 200; --resume rebuilds",
    )
