"""The weights revision recorded at load (``ModelSource.revision``): the hub commit the weights were
downloaded at, whatever branch or tag named it, for Hugging Face ids and timm names alike.

The loads run in a subprocess whose ``HF_ENDPOINT`` is a local stand-in hub
(``tests.helpers.hub_standin``; ``huggingface_hub`` reads the endpoint at import) serving two commits
of each model; the weights each load returned are compared with the checkpoint folders the commits were
made from, loaded locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from transformers import ViTConfig, ViTModel

from qkatlas.models import load_model
from tests.helpers.hub_standin import HubStandIn

REPO = Path(__file__).resolve().parents[2]
HF_ID = "someorg/tiny-vit"
TIMM_NAME = "vit_tiny_patch16_224.augreg_in21k"
TIMM_OVERRIDES = {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64}

#: Loads each (id, revision, overrides) and writes its recorded revision and layer-0 ``W_q`` to an npz.
LOADS = """
import json, sys
import numpy as np
from qkatlas.models import load_model
loads, out = json.loads(sys.argv[1]), sys.argv[2]
arrays, revisions = {}, []
for number, (model_id, revision, overrides, random_init) in enumerate(loads):
    adapter = load_model(model_id, revision=revision, overrides=overrides or None, random_init=random_init)
    revisions.append(adapter.source.revision)
    arrays[str(number)] = adapter.weights()[0].w_q.numpy()
np.savez(out, **arrays)
print(json.dumps(revisions))
"""


def _hf_checkpoint(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    config = ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8
    )
    ViTModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


def _timm_checkpoint(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = timm.create_model(TIMM_NAME, pretrained=False, **TIMM_OVERRIDES)  # type: ignore[arg-type]
    timm.models.save_for_hf(model, str(folder), safe_serialization=True)
    return folder


def _w_q(folder: Path) -> np.ndarray:
    return load_model(str(folder)).weights()[0].w_q.numpy()


@pytest.mark.parametrize(
    ("model_id", "checkpoint", "overrides"),
    [(HF_ID, _hf_checkpoint, None), (TIMM_NAME, _timm_checkpoint, TIMM_OVERRIDES)],
    ids=["hugging-face", "timm"],
)
def test_the_commit_loaded_is_recorded_and_a_revision_pins_it(
    tmp_path: Path, model_id: str, checkpoint: Callable[[Path, int], Path], overrides: dict[str, object] | None
) -> None:
    old, new = checkpoint(tmp_path / "old", 1), checkpoint(tmp_path / "new", 2)
    repo = model_id if "/" in model_id else f"timm/{model_id}"
    with HubStandIn() as hub:
        old_commit = hub.add_commit(repo, old)
        hub.tag(repo, "v1.0", old_commit)
        new_commit = hub.add_commit(repo, new)  # main moved on
        loads = [
            (model_id, None, overrides, False),
            (model_id, "main", overrides, False),
            (model_id, "v1.0", overrides, False),
            (model_id, old_commit, overrides, False),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env |= {"PYTHONPATH": str(REPO), "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "cache")}
        args = [sys.executable, "-c", LOADS, json.dumps(loads), str(tmp_path / "weights.npz")]
        run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    revisions = json.loads(run.stdout.strip().splitlines()[-1])
    assert revisions == [new_commit, new_commit, old_commit, old_commit]
    loaded = np.load(tmp_path / "weights.npz")
    expected = [_w_q(new), _w_q(new), _w_q(old), _w_q(old)]
    for number, weights in enumerate(expected):
        np.testing.assert_array_equal(loaded[str(number)], weights)
    assert not np.allclose(expected[0], expected[2])  # the two commits differ


def test_random_weights_from_a_known_config_record_no_revision() -> None:
    hf = load_model("facebook/dino-vits16", random_init=True, overrides={"num_hidden_layers": 1})
    timm_model = load_model("vit_tiny_patch16_224", random_init=True, revision="main", overrides={"depth": 1})
    assert hf.source is not None and hf.source.revision is None
    assert timm_model.source is not None and timm_model.source.revision is None
