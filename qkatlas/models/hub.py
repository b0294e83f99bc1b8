"""Bounded access to the Hugging Face hub for the real (pretrained) loading paths.

Left alone, ``huggingface_hub`` retries an unreachable hub for about a minute per file before giving
up. We probe the hub endpoint once per process with a short TCP connect; when it does not answer we
switch ``huggingface_hub`` into offline mode for the duration of the load, so files already in the
local cache still load and anything else fails within seconds with a clear ``ModelLoadError``.
"""

from __future__ import annotations

import contextlib
import functools
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar
from urllib.parse import urlparse

from huggingface_hub import constants as hub_constants

from .base import ModelLoadError, UnsupportedModelError

_PROBE_TIMEOUT_S = 3.0
_T = TypeVar("_T")


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


@functools.cache
def hub_reachable() -> bool:
    """Whether a TCP connection to the hub endpoint opens within a few seconds (checked once per
    process; name resolution included, which ``socket`` timeouts do not bound, hence the thread)."""
    if hub_constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(hub_constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(_connects, host, port).result(timeout=_PROBE_TIMEOUT_S + 1)
    except FutureTimeout:
        return False
    finally:
        pool.shutdown(wait=False)


@contextlib.contextmanager
def _offline_unless_reachable() -> Iterator[bool]:
    """Offline mode for ``huggingface_hub`` (cache only) while the hub is unreachable; yields
    whether the hub is reachable."""
    reachable = hub_reachable()
    previous = hub_constants.HF_HUB_OFFLINE
    if not reachable:
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield reachable
    finally:
        hub_constants.HF_HUB_OFFLINE = previous


def load_from_hub(model_id: str, load: Callable[[], _T]) -> _T:
    """Run ``load`` (which downloads ``model_id``), failing fast with ``ModelLoadError`` offline."""
    with _offline_unless_reachable() as reachable:
        try:
            return load()
        except (UnsupportedModelError, ModelLoadError):
            raise
        except Exception as error:  # the hub libraries raise many unrelated types on failure
            where = "" if reachable else " (offline? the hub is unreachable and it is not cached)"
            raise ModelLoadError(
                f"could not download {model_id!r}{where}: {type(error).__name__}: {error}. "
                "Use --random-init for an offline run with random weights."
            ) from error
