"""The uniform interface every model family exposes to the rest of qkatlas.

An adapter wraps one loaded vision transformer and answers, per layer and head, the questions the
method needs (docs/method.md#projection-bases): the query/key weights, the LayerNorm feeding them,
the prefix tokens, the patch grid and the model's own preprocessing. It also runs batches while
capturing, at every block, the residual stream entering the block and the LayerNorm output that
feeds ``W_q``/``W_k``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from qkatlas.conventions import Sign
from qkatlas.errors import ActionableError
from qkatlas.images.preprocessing import Preprocessing

from .source import ModelSource

PrefixKind = Literal["cls", "distillation", "register"]

#: Called once per block during a captured forward pass with
#: ``(layer, residual [B, N, d], normed [B, N, d])``: the residual stream entering the block and the
#: output of the block's first LayerNorm (what ``W_q``/``W_k`` see). ``N`` includes prefix tokens.
CaptureFn = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class BlockCapture:
    """What one block's forward pass shows the method; ``N`` includes prefix tokens.

    ``residual [B, N, d]``: the residual stream entering the block; ``normed [B, N, d]``: the output of
    its first LayerNorm; ``query, key [B, N, H, d_h]``: the model's own ``W_q·normed + b_q`` and
    ``W_k·normed + b_k`` as its projections computed them (views of their outputs, biases included,
    before any scaling), head ``h`` at index ``h``.
    """

    residual: torch.Tensor
    normed: torch.Tensor
    query: torch.Tensor
    key: torch.Tensor


#: Called once per block with ``(layer, capture)`` during ``ViTAdapter.run_capturing_blocks``.
BlockCaptureFn = Callable[[int, BlockCapture], None]


#: Called with one block's attention probabilities ``[B, H, N, N]`` (the model's own softmax) during a
#: forward pass that captures them (``ViTAdapter.capturing_attention``).
AttentionFn = Callable[[torch.Tensor], None]


class UnsupportedModelError(ValueError):
    """The model's attention is not a plain bilinear form of LayerNorm outputs (or it is unknown)."""


class ModelLoadError(ActionableError, RuntimeError):
    """The model could not be loaded: unknown id, unreadable checkpoint, or the hub could not give it
    (``qkatlas.models.hub.HubUnavailableError``); the message says which."""


PlantedKind = Literal["contextual", "grouping"]


@dataclass(frozen=True)
class PlantedMode:
    """A mode set by hand in a model's weights (only the planted demo model, ``qkatlas.models.planted``, has
    them): its place in the atlas and what its pages must show, to check the atlas by eye."""

    layer: int
    head: int
    mode: Annotated[int, Field(description="Mode index in the atlas (0 = largest σ).")]
    sign: Annotated[Sign, Field(description="The signed mode (in the atlas) whose maps follow `query` and `key`.")]
    query: Annotated[str, Field(description="The colour the query direction u detects.")]
    key: Annotated[str, Field(description="The colour the key direction v detects.")]
    sigma: Annotated[float, Field(description="Its singular value, set by construction.")]
    kind: Annotated[PlantedKind, Field(description="`grouping`: u = v (cos 1); `contextual`: u ⟂ v (cos 0).")]
    description: Annotated[str, Field(description="What the mode does, in words.")]
    expected_look: Annotated[
        str, Field(description="What its top images and maps should show, for someone checking by eye.")
    ]


@dataclass(frozen=True)
class ModelSpec:
    """Static facts about a loaded model. ``grid`` is patches per side: ``image_size // patch_size``."""

    model_id: str
    family: str
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    patch_size: int
    image_size: int
    prefix_kinds: tuple[PrefixKind, ...]
    revision: str | None = None
    random_init: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    #: Modes known by construction (only the planted demo model has any).
    planted_modes: tuple[PlantedMode, ...] = ()

    @property
    def n_prefix(self) -> int:
        return len(self.prefix_kinds)

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def n_patches(self) -> int:
        return self.grid * self.grid


@dataclass(frozen=True)
class LayerWeights:
    """Per-head query/key parameters of one block, in float64.

    Shapes: ``w_q, w_k: [H, d_h, d]`` (PyTorch ``out × in`` rows of head ``h``), ``b_q, b_k: [H, d_h]``,
    ``ln_weight, ln_bias: [d]`` (γ, β of the LayerNorm feeding the projections).
    """

    w_q: torch.Tensor
    w_k: torch.Tensor
    b_q: torch.Tensor
    b_k: torch.Tensor
    ln_weight: torch.Tensor
    ln_bias: torch.Tensor
    ln_eps: float


@dataclass(frozen=True)
class QueryProjection:
    """Where one head's queries come out of the model: ``module``'s output ``[B, N, F]`` (before any
    reshape into heads or scaling) holds them in the features ``rows``, the rows of ``W_q``/``b_q``
    in ``LayerWeights`` order."""

    module: nn.Module
    rows: slice


@dataclass(frozen=True)
class ProjectionOutput:
    """Where one block's queries (or keys) come out of the model: ``module``'s output ``[B, N, F]``
    (before any reshape into heads or scaling) holds all heads' in features ``start … start + H·d_h``,
    head ``h`` in ``start + h·d_h … start + (h + 1)·d_h``: the rows of ``W_q`` (``W_k``) and their
    bias in ``LayerWeights`` order."""

    module: nn.Module
    start: int


@dataclass(frozen=True)
class ModelOutputs:
    """What the model makes of a batch. ``embedding [B, D]``: its pooled output (``ViTAdapter.outputs``
    says which per family); ``logits [B, C]``: its classifier's, or None when the adapter has none."""

    embedding: torch.Tensor
    logits: torch.Tensor | None


def this_thread_only(hook: Callable[..., object]) -> Callable[..., object]:
    """``hook`` acting only in the thread that wraps it: the service's analysis threads share one
    model, and a hook installed for one request must leave the others' forward passes alone."""
    owner = threading.get_ident()

    def guarded(*args: object) -> object:
        return hook(*args) if threading.get_ident() == owner else None

    return guarded


class ViTAdapter(ABC):
    """One loaded ViT-style model behind the interface the method needs."""

    spec: ModelSpec
    preprocessing: Preprocessing
    module: nn.Module
    #: How the model was loaded (``qkatlas.models.model_source``); set by ``load_model``.
    source: ModelSource | None = None
    #: The names of the classifier's classes (logit column ``c`` is ``class_names[c]``), or None when
    #: the adapter carries no classifier (``load_model(..., classifier=True)`` keeps the checkpoint's).
    class_names: tuple[str, ...] | None = None

    def __init__(self) -> None:
        #: Held by every forward pass that switches the model to an attention path forming the probabilities
        #: (timm's unfused path, Hugging Face's eager implementation) until it has switched back: the switch
        #: is model-wide, and two threads interleaving it could leave it off under the other's capture.
        self.attention_switch = threading.Lock()

    @abstractmethod
    def layer_weights(self, layer: int) -> LayerWeights:
        """Query/key weights and LayerNorm of block ``layer``, float64 on the CPU."""

    @abstractmethod
    def blocks(self) -> list[nn.Module]:
        """The transformer blocks, in order."""

    @abstractmethod
    def _block_norm(self, block: nn.Module) -> nn.Module:
        """The LayerNorm whose output feeds the block's query/key projections."""

    @abstractmethod
    def _run(self, pixels: torch.Tensor) -> None:
        """Run the encoder on normalized pixels ``[B, 3, S, S]`` (outputs are discarded)."""

    @abstractmethod
    def attention_probs(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        """The model's *own* attention probabilities, per layer ``[B, H, N, N]`` (fp32)."""

    @abstractmethod
    def projection_outputs(self, layer: int) -> tuple[ProjectionOutput, ProjectionOutput]:
        """Where block ``layer``'s queries and keys come out of the model: ``(query, key)``."""

    def query_projection(self, layer: int, head: int) -> QueryProjection:
        """The module whose output holds head ``head``'s queries in block ``layer``, and their rows."""
        query, _key = self.projection_outputs(layer)
        d_head = self.spec.d_head
        start = query.start + head * d_head
        return QueryProjection(query.module, slice(start, start + d_head))

    @abstractmethod
    def _outputs(self, pixels: torch.Tensor) -> ModelOutputs:
        """The full forward pass of normalized pixels ``[B, 3, S, S]``: pooled embedding and logits."""

    @abstractmethod
    def capturing_attention(self, layer: int, keep: AttentionFn) -> contextlib.AbstractContextManager[None]:
        """While active, forward passes of this thread call ``keep`` with block ``layer``'s attention
        probabilities, as the model computes them (with any hook on its projections applied)."""

    @torch.inference_mode()
    def outputs(self, pixels: torch.Tensor) -> ModelOutputs:
        """The model's pooled embedding (and classifier logits when it has one) of ``pixels``."""
        return self._outputs(pixels)

    def weights(self) -> list[LayerWeights]:
        return [self.layer_weights(layer) for layer in range(self.spec.n_layers)]

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def to(self, device: torch.device | str) -> ViTAdapter:
        self.module.to(device)
        return self

    @contextlib.contextmanager
    def _hooks(self, on_layer: CaptureFn) -> Iterator[None]:
        residuals: dict[int, torch.Tensor] = {}
        handles = []
        for layer, block in enumerate(self.blocks()):

            def pre_hook(
                _m: nn.Module,
                args: tuple[torch.Tensor, ...],
                kwargs: dict[str, torch.Tensor],
                layer: int = layer,
            ) -> None:
                # HF blocks may receive the hidden states as a keyword argument.
                residuals[layer] = args[0] if args else kwargs["hidden_states"]

            def norm_hook(_m: nn.Module, _a: tuple[torch.Tensor, ...], out: torch.Tensor, layer: int = layer) -> None:
                on_layer(layer, residuals.pop(layer), out)

            # This thread's passes only: the service's analysis threads share the model.
            handles.append(block.register_forward_pre_hook(this_thread_only(pre_hook), with_kwargs=True))
            handles.append(self._block_norm(block).register_forward_hook(this_thread_only(norm_hook)))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @contextlib.contextmanager
    def _projection_hooks(self, on_block: BlockCaptureFn) -> Iterator[None]:
        """Hooks that collect each block's residual, LayerNorm output, queries and keys (in whatever
        order the model computes them) and call ``on_block`` once all four exist."""
        n_heads, d_head = self.spec.n_heads, self.spec.d_head
        width = n_heads * d_head
        parts: dict[int, dict[str, torch.Tensor]] = {}

        def keep(layer: int, name: str, value: torch.Tensor) -> None:
            found = parts.setdefault(layer, {})
            found[name] = value
            if len(found) == 4:
                del parts[layer]
                on_block(layer, BlockCapture(found["residual"], found["normed"], found["query"], found["key"]))

        def output_hook(sides: list[tuple[str, int]], layer: int) -> Callable[..., None]:
            def hook(_m: nn.Module, _a: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
                for name, start in sides:
                    heads = out[..., start : start + width]
                    keep(layer, name, heads.view(*heads.shape[:-1], n_heads, d_head))

            return hook

        def keep_inputs(layer: int, residual: torch.Tensor, normed: torch.Tensor) -> None:
            keep(layer, "residual", residual)
            keep(layer, "normed", normed)

        handles = []
        with self._hooks(keep_inputs):
            for layer in range(self.spec.n_layers):
                query, key = self.projection_outputs(layer)
                sides_of: dict[int, list[tuple[str, int]]] = {}
                for name, output in (("query", query), ("key", key)):
                    sides_of.setdefault(id(output.module), []).append((name, output.start))
                modules = {id(query.module): query.module, id(key.module): key.module}
                for module_id, sides in sides_of.items():  # one hook per module (timm's fused qkv gives both)
                    hook = this_thread_only(output_hook(sides, layer))
                    handles.append(modules[module_id].register_forward_hook(hook))
            try:
                yield
            finally:
                for handle in handles:
                    handle.remove()

    @torch.inference_mode()
    def run_with_capture(self, pixels: torch.Tensor, on_layer: CaptureFn) -> None:
        """Forward ``pixels [B, 3, S, S]``, calling ``on_layer`` at every block (see ``CaptureFn``)."""
        with self._hooks(on_layer):
            self._run(pixels)

    @torch.inference_mode()
    def run_capturing_blocks(self, pixels: torch.Tensor, on_block: BlockCaptureFn) -> None:
        """Forward ``pixels [B, 3, S, S]``, calling ``on_block`` once per block with its residual,
        LayerNorm output, queries and keys (``BlockCapture``), blocks in order."""
        with self._projection_hooks(on_block):
            self._run(pixels)

    @torch.inference_mode()
    def forward(self, pixels: torch.Tensor) -> None:
        """The plain forward pass (the baseline the benchmarks compare against)."""
        self._run(pixels)

    def normalize(self, images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 crops ``[B, 3, S, S]`` (as the model sees them) → normalized float pixels."""
        mean, std = self._mean_std(images.device, dtype)
        return (images.to(dtype) / 255.0 - mean) / std

    @functools.cache  # noqa: B019 (one entry per device and dtype for the adapter's lifetime)
    def _mean_std(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The preprocessing's mean and std ``[1, 3, 1, 1]`` on ``device``, made once: building them
        from Python floats on a GPU would wait for the device at every batch."""
        mean = torch.tensor(self.preprocessing.mean, dtype=dtype).view(1, 3, 1, 1).to(device)
        std = torch.tensor(self.preprocessing.std, dtype=dtype).view(1, 3, 1, 1).to(device)
        return mean, std
