"""The analyser of each served atlas's model: rebuilt from the atlas's manifest when first needed, and
dropped once that atlas is no longer served (rebuilt under the same name, or removed), so the memory
held follows the atlases served now, not every atlas ever served."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import numpy as np

from qkatlas.analysis import ImageAnalyzer
from qkatlas.atlas import Atlas
from qkatlas.device import DeviceName, resolve_device
from qkatlas.models import CheckpointChangedError, load_model_from_source
from qkatlas.svd import decompose

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """The atlas's model cannot be rebuilt here, or its weights do not match the atlas."""


class AnalyzerRegistry:
    """One ``ImageAnalyzer`` per served atlas revision, on ``device`` (thread-safe)."""

    def __init__(self, device: DeviceName) -> None:
        self.device = resolve_device(device)
        self._analyzers: dict[str, tuple[str, ImageAnalyzer]] = {}  # slug → (revision, analyser)
        self._lock = threading.Lock()

    def get(self, atlas: Atlas) -> ImageAnalyzer:
        """The atlas's analyser, built when first needed or when the atlas was rebuilt (the replaced
        atlas's model is dropped). Raises ``ModelUnavailable``."""
        with self._lock:
            loaded = self._analyzers.get(atlas.slug)
            if loaded is None or loaded[0] != atlas.revision:
                self._analyzers.pop(atlas.slug, None)
                loaded = (atlas.revision, self._load(atlas))
                self._analyzers[atlas.slug] = loaded
            return loaded[1]

    def loaded(self) -> dict[str, str]:
        """slug → revision of every analyser held now."""
        with self._lock:
            return {slug: revision for slug, (revision, _) in self._analyzers.items()}

    def retain(self, served: Iterable[Atlas]) -> None:
        """Drop the analysers of atlases not in ``served`` (removed, or served now at another revision)."""
        current = {atlas.slug: atlas.revision for atlas in served}
        with self._lock:
            for slug, (revision, _) in list(self._analyzers.items()):
                if current.get(slug) != revision:
                    log.info("releasing the model of %s (revision %s): no longer served", slug, revision)
                    del self._analyzers[slug]

    def _load(self, atlas: Atlas) -> ImageAnalyzer:
        log.info("loading the model of %s on %s", atlas.slug, self.device)
        try:
            # With the checkpoint's classifier, if any: removing modes reports the classes before and after.
            adapter = load_model_from_source(atlas.manifest.model_source, classifier=True).to(self.device)
        except CheckpointChangedError as error:  # a local checkpoint no longer hashes to the atlas's revision
            log.error("cannot analyse uploads with %s: %s", atlas.slug, error)
            raise ModelUnavailable(
                "the checkpoint this atlas was built from has changed since (its files no longer hash to the "
                f"recorded revision {atlas.manifest.model_source.revision}); upload analysis is off for this atlas "
                "until it is rebuilt from the checkpoint as it is now, or the checkpoint is restored"
            ) from None
        except Exception as error:  # missing checkpoint, unsupported layout, out of memory ...
            log.exception("cannot load the model of %s", atlas.slug)
            raise ModelUnavailable(f"the model of this atlas cannot be loaded ({type(error).__name__})") from None
        adapter.module.eval()
        dec = decompose(adapter.weights())
        if dec.sigma.shape != atlas.sigma_all.shape or not np.allclose(
            dec.sigma, atlas.sigma_all, rtol=1e-4, atol=1e-6
        ):
            raise ModelUnavailable("the model's weights do not match this atlas; refusing to analyse")
        return ImageAnalyzer(adapter, dec)
