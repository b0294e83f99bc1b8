"""The real loading paths on checkpoints saved locally (timm's hub layout and ``save_pretrained``),
refusals of layouts the method does not cover, and fast failure offline (CPU, no network)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from transformers import (
    BaseImageProcessor,
    BeitConfig,
    BeitModel,
    BitImageProcessor,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    DeiTConfig,
    DeiTForImageClassificationWithTeacher,
    DeiTImageProcessor,
    PreTrainedModel,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
)

from qkatlas.models import (
    CheckpointChangedError,
    ModelLoadError,
    ModelSource,
    UnsupportedModelError,
    load_model,
    load_model_from_source,
    model_source,
)
from qkatlas.models.base import ViTAdapter
from qkatlas.models.hub import hub_reachable

_TINY_HF = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 64}


def _assert_same_weights(loaded: ViTAdapter, original: ViTAdapter) -> None:
    assert loaded.spec.n_layers == original.spec.n_layers
    for layer in range(original.spec.n_layers):
        a, b = loaded.layer_weights(layer), original.layer_weights(layer)
        for name in ("w_q", "w_k", "b_q", "b_k", "ln_weight", "ln_bias"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)
        assert a.ln_eps == b.ln_eps
    pixels = torch.randn(1, 3, original.spec.image_size, original.spec.image_size)
    for own, reloaded in zip(original.attention_probs(pixels), loaded.attention_probs(pixels), strict=True):
        torch.testing.assert_close(reloaded, own)


@pytest.mark.parametrize(
    ("model_id", "overrides"),
    [
        ("vit_tiny_patch16_224.augreg_in21k", {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 64}),
        (
            "vit_small_patch14_reg4_dinov2.lvd142m",
            {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 56},
        ),
        ("deit_tiny_distilled_patch16_224.fb_in1k", {"depth": 2, "embed_dim": 64, "num_heads": 2}),
    ],
)
def test_timm_checkpoint_round_trip(tmp_path: Path, model_id: str, overrides: dict[str, Any]) -> None:
    original = load_model(model_id, random_init=True, seed=3, overrides=overrides)
    timm.models.save_for_hf(original.module, str(tmp_path), safe_serialization=True)
    config = json.loads((tmp_path / "config.json").read_text())
    assert "architecture" in config and (tmp_path / "model.safetensors").is_file()

    loaded = load_model(str(tmp_path))
    assert not loaded.spec.random_init
    assert loaded.spec.prefix_kinds == original.spec.prefix_kinds
    assert loaded.spec.grid == original.spec.grid
    assert loaded.preprocessing == original.preprocessing
    _assert_same_weights(loaded, original)
    assert model_source(loaded).id == str(tmp_path)


def _hf_module(adapter: ViTAdapter) -> PreTrainedModel:
    assert isinstance(adapter.module, PreTrainedModel), type(adapter.module)
    return adapter.module


def _save_hf(adapter: ViTAdapter, directory: Path, processor: BaseImageProcessor) -> None:
    _hf_module(adapter).save_pretrained(directory)
    processor.save_pretrained(directory)


HF_CASES = [
    (
        "google/vit-base-patch16-224",
        {**_TINY_HF, "image_size": 64},
        ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=[0.1, 0.2, 0.3]),
    ),
    (
        "facebook/deit-tiny-distilled-patch16-224",
        {**_TINY_HF, "image_size": 64},
        DeiTImageProcessor(size={"height": 72, "width": 72}, crop_size={"height": 64, "width": 64}),
    ),
    (
        "openai/clip-vit-base-patch16",
        {**_TINY_HF, "image_size": 64},
        CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}),
    ),
    (
        "facebook/dinov2-with-registers-small",
        _TINY_HF,
        BitImageProcessor(size={"shortest_edge": 80}, crop_size={"height": 70, "width": 70}),
    ),
]


@pytest.mark.parametrize(("model_id", "overrides", "processor"), HF_CASES, ids=[c[0] for c in HF_CASES])
def test_hf_checkpoint_round_trip(
    tmp_path: Path, model_id: str, overrides: dict[str, Any], processor: BaseImageProcessor
) -> None:
    original = load_model(model_id, random_init=True, seed=4, overrides=overrides)
    _save_hf(original, tmp_path, processor)
    loaded = load_model(str(tmp_path))
    assert loaded.spec.family == original.spec.family
    assert loaded.spec.prefix_kinds == original.spec.prefix_kinds
    expected = processor.to_dict()
    crop = expected["crop_size"]["height"] if expected.get("do_center_crop") else expected["size"]["height"]
    assert loaded.preprocessing.crop == crop
    assert loaded.preprocessing.mean == pytest.approx(tuple(expected["image_mean"]))
    if loaded.spec.family == "hf-dinov2-registers":
        assert loaded.spec.image_size == 70 and loaded.spec.grid == 5  # runs at the processor crop
        return  # the original ran at 224 px: compare weights only
    _assert_same_weights(loaded, original)


def test_hf_full_clip_checkpoint_loads_its_vision_tower(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 32},
        vision_config={**_TINY_HF, "image_size": 32, "patch_size": 16},
        projection_dim=16,
    )
    full = CLIPModel(config)
    full.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert loaded.spec.family == "hf-clip" and loaded.spec.grid == 2
    expected = full.vision_model.encoder.layers[1].self_attn.k_proj.weight.detach().double()
    torch.testing.assert_close(loaded.layer_weights(1).w_k.reshape(64, 64), expected, rtol=0, atol=0)


def test_local_directory_random_init_reads_only_the_config(tmp_path: Path) -> None:
    original = load_model("facebook/dino-vits16", random_init=True, seed=5, overrides=_TINY_HF)
    _hf_module(original).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()  # random init must not need the weights
    rebuilt = load_model(str(tmp_path), random_init=True, seed=5)
    assert rebuilt.spec.random_init and rebuilt.spec.n_layers == 2
    # Same config and seed as the original random init: the same weights.
    torch.testing.assert_close(rebuilt.layer_weights(1).w_q, original.layer_weights(1).w_q, rtol=0, atol=0)


def test_load_model_from_source_rebuilds_the_same_weights() -> None:
    overrides = {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 64}
    adapter = load_model("vit_small_patch16_224.dino", random_init=True, seed=9, overrides=overrides)
    stored = json.loads(json.dumps(model_source(adapter).model_dump()))  # as an atlas's manifest keeps it
    rebuilt = load_model_from_source(ModelSource.model_validate(stored))
    _assert_same_weights(rebuilt, adapter)
    assert rebuilt.spec.model_id == adapter.spec.model_id


def _content_hash(directory: Path, names: list[str]) -> str:
    """The documented revision of a checkpoint folder (docs/atlas-format.md) over ``names``, from the files."""
    digest = hashlib.sha256()
    for name in sorted(names):
        data = (directory / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + digest.hexdigest()


def test_local_checkpoint_revision_is_the_hash_of_its_weight_and_config_files(tmp_path: Path) -> None:
    original = load_model(
        "google/vit-base-patch16-224", random_init=True, seed=6, overrides={**_TINY_HF, "image_size": 64}
    )
    _save_hf(original, tmp_path, ViTImageProcessor(size={"height": 64, "width": 64}))
    (tmp_path / "README.md").write_text("notes")  # files that do not change the model are left out
    (tmp_path / ".cache").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "model.safetensors").write_bytes(b"not read")
    expected = _content_hash(tmp_path, ["config.json", "model.safetensors", "preprocessor_config.json"])
    loaded = load_model(str(tmp_path))
    assert model_source(loaded).revision == expected and loaded.spec.revision == expected
    assert model_source(load_model(str(tmp_path), random_init=True)).revision is None  # random weights: none

    timm_dir = tmp_path / "timm"
    timm_model = load_model(
        "vit_tiny_patch16_224", random_init=True, seed=2, overrides={"depth": 1, "embed_dim": 32, "num_heads": 2}
    )
    timm.models.save_for_hf(timm_model.module, str(timm_dir), safe_serialization=True)
    assert model_source(load_model(str(timm_dir))).revision == _content_hash(
        timm_dir, ["config.json", "model.safetensors"]
    )


def test_a_changed_local_checkpoint_is_refused_against_its_recorded_revision(tmp_path: Path) -> None:
    original = load_model(
        "google/vit-base-patch16-224", random_init=True, seed=7, overrides={**_TINY_HF, "image_size": 64}
    )
    _hf_module(original).save_pretrained(tmp_path)
    source = model_source(load_model(str(tmp_path)))
    assert source.revision is not None
    # Another checkpoint saved over it: its weights differ, and so does its revision.
    other = load_model(
        "google/vit-base-patch16-224", random_init=True, seed=8, overrides={**_TINY_HF, "image_size": 64}
    )
    _hf_module(other).save_pretrained(tmp_path)
    with pytest.raises(CheckpointChangedError, match=f"changed since its revision was recorded.*not {source.revision}"):
        load_model_from_source(source)
    now = model_source(load_model(str(tmp_path)))
    assert not now.same_weights(source)  # a resumed job rebuilds the atlas
    _assert_same_weights(load_model_from_source(now), other)
    # A manifest written before revisions were recorded loads the folder as it is.
    _assert_same_weights(load_model_from_source(source.model_copy(update={"revision": None})), other)
    with pytest.raises(ModelLoadError, match="content hash"):
        load_model(str(tmp_path), revision="0" * 40)


def test_planted_source_round_trip() -> None:
    adapter = load_model("planted")
    rebuilt = load_model_from_source(model_source(adapter))
    _assert_same_weights(rebuilt, adapter)


@pytest.mark.parametrize(
    ("model_id", "overrides", "reason"),
    [
        ("vit_tiny_patch16_224", {"depth": 1, "qk_norm": True}, "qk_norm"),
        ("beit_base_patch16_224", {"depth": 1, "embed_dim": 64, "num_heads": 2}, "relative position bias"),
        ("resnet18", {}, "not a plain ViT-style"),
        ("eva02_tiny_patch14_224.mim_in22k", {"depth": 1}, "EVA"),
    ],
)
def test_timm_refusals(model_id: str, overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnsupportedModelError, match=reason):
        load_model(model_id, random_init=True, overrides=overrides)


def test_hf_relative_position_bias_is_refused(tmp_path: Path) -> None:
    config = BeitConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=32, image_size=32)
    BeitModel(config).save_pretrained(tmp_path)
    with pytest.raises(UnsupportedModelError, match="relative position bias"):
        load_model(str(tmp_path))


@pytest.mark.parametrize("model_id", ["no_such_model_xyz", "not-a-model.tag"])
def test_unknown_id_is_a_load_error(model_id: str) -> None:
    with pytest.raises(ModelLoadError, match="unknown model id"):
        load_model(model_id, random_init=True)


def test_directory_without_config_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model(str(tmp_path))


@pytest.mark.skipif(hub_reachable(), reason="the hub is reachable here; this checks offline behaviour")
@pytest.mark.parametrize(
    "model_id", ["facebook/dino-vits16", "vit_tiny_patch16_224.augreg_in21k", "someorg/unknown-model"]
)
def test_pretrained_load_fails_fast_offline(model_id: str) -> None:
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match="HF_ENDPOINT"):
        load_model(model_id)
    assert time.monotonic() - started < 20


def test_timm_checkpoint_classifier_gives_the_models_own_logits(tmp_path: Path) -> None:
    """``classifier=True`` keeps the checkpoint's head; the encoder's weights are those loaded without it."""
    overrides: dict[str, Any] = {"depth": 2, "embed_dim": 64, "num_heads": 2}
    torch.manual_seed(0)
    full = timm.create_model("deit_tiny_distilled_patch16_224.fb_in1k", pretrained=False, **overrides).eval()
    timm.models.save_for_hf(full, str(tmp_path), safe_serialization=True)
    loaded = load_model(str(tmp_path), classifier=True)
    assert loaded.class_names is not None and len(loaded.class_names) == 1000
    assert loaded.class_names[1].startswith("goldfish")
    _assert_same_weights(loaded, load_model(str(tmp_path)))
    pixels = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        own = full(pixels)  # the distilled model's inference: the mean of its two heads
    outputs = loaded.outputs(pixels)
    assert outputs.logits is not None
    torch.testing.assert_close(outputs.logits, own)
    assert load_model(str(tmp_path)).outputs(pixels).logits is None


@pytest.mark.parametrize("model_class", [ViTForImageClassification, DeiTForImageClassificationWithTeacher])
def test_hf_classification_checkpoint_classifier_gives_the_models_own_logits(
    tmp_path: Path, model_class: type[PreTrainedModel]
) -> None:
    torch.manual_seed(0)
    config_class = ViTConfig if model_class is ViTForImageClassification else DeiTConfig
    attributes: dict[str, Any] = {**_TINY_HF, "image_size": 32, "patch_size": 16}
    config = config_class(**attributes, id2label={i: f"c{i}" for i in range(5)})  # num_labels follows
    full = model_class(config).eval()  # type: ignore[no-untyped-call]  # transformers leaves eval unannotated
    full.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path), classifier=True)
    assert loaded.class_names == ("c0", "c1", "c2", "c3", "c4")
    _assert_same_weights(loaded, load_model(str(tmp_path)))
    pixels = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        own = full(pixel_values=pixels).logits
    outputs = loaded.outputs(pixels)
    assert outputs.logits is not None
    torch.testing.assert_close(outputs.logits, own)
