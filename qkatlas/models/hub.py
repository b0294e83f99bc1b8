"""Bounded access to the Hugging Face hub for the real (pretrained) loading paths.

Left alone, ``huggingface_hub`` retries an unreachable hub for about a minute per file before giving
up. We probe the hub endpoint once per process with a short TCP connect; when it does not answer we
switch ``huggingface_hub`` into offline mode for the duration of the load, so files already in the
local cache still load and anything else fails within seconds.

Whatever goes wrong between us and the hub (no answer, a missing repository, an outage, a proxy that
is not a hub) ends in one ``HubUnavailableError``: a few lines naming the model, the endpoint
(``HF_ENDPOINT``), the cause in words and its likely fix, instead of the hub libraries' chained
tracebacks. ``resolve_commit`` resolves a model before anything else is fetched (the config and a
weight file on the hub or in the cache) and returns the commit they come from, which the loaders pin
and the manifest records (``ModelSource.revision``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from huggingface_hub import constants as hub_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .base import ModelLoadError, UnsupportedModelError
from .source import HUB_COMMIT

_PROBE_TIMEOUT_S = 3.0
_T = TypeVar("_T")
#: The weight files a Hugging Face checkpoint may have, in the order ``from_pretrained`` prefers them.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class HubUnavailableError(ModelLoadError):
    """The hub could not give a model. ``cause``: why, in words; ``fix``: what to try. The message
    names the model, the endpoint, the cause and the fix (the command adds how to run without the
    hub: ``--offline`` for quickstart, ``--random-init`` for the job)."""

    def __init__(self, model_id: str, cause: str, fix: str) -> None:
        self.model_id, self.cause, self.fix = model_id, cause, fix
        super().__init__(f"cannot get the model {model_id!r} from the model hub at {hub_endpoint()}: {cause}.\n{fix}")

    def __reduce__(self) -> tuple[type[HubUnavailableError], tuple[str, str, str]]:
        return type(self), (self.model_id, self.cause, self.fix)  # picklable, for process pools


def hub_endpoint() -> str:
    """The hub's address, and where it was set."""
    return f"{hub_constants.ENDPOINT} (HF_ENDPOINT)" if os.environ.get("HF_ENDPOINT") else hub_constants.ENDPOINT


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
    """Offline mode for ``huggingface_hub`` (cache only) while the hub is unreachable, and its retry
    warnings silenced; yields whether the hub is reachable."""
    reachable = hub_reachable()
    previous, hub_logger = hub_constants.HF_HUB_OFFLINE, logging.getLogger("huggingface_hub")
    previous_level = hub_logger.level
    if not reachable:
        hub_constants.HF_HUB_OFFLINE = True
    hub_logger.setLevel(logging.ERROR)  # no line per retry: a failure ends in one HubUnavailableError
    try:
        yield reachable
    finally:
        hub_constants.HF_HUB_OFFLINE = previous
        hub_logger.setLevel(previous_level)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception it was raised from or during, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe_hub_failure(model_id: str, error: BaseException, *, reachable: bool) -> HubUnavailableError:
    """The ``HubUnavailableError`` for ``error`` (from a hub library, with its whole chain), in words."""
    chain = _chain(error)

    def found(kind: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kind)), None)

    token_fix = "If the repository is private or gated, set HF_TOKEN to a token that may read it."
    if found(GatedRepoError):
        return HubUnavailableError(model_id, "the repository is gated (its terms must be accepted)", token_fix)
    if (missing_repo := found(RepositoryNotFoundError)) is not None:
        code = f" (HTTP {missing_repo.response.status_code})" if isinstance(missing_repo, HfHubHTTPError) else ""
        return HubUnavailableError(
            model_id,
            f"the hub has no such repository, or none this token may read{code}",
            f"Check the model id. {token_fix}",
        )
    if found(RevisionNotFoundError):
        return HubUnavailableError(
            model_id, "the repository has no such revision", "Check --revision (a branch, tag or commit hash)."
        )
    if (missing := found(RemoteEntryNotFoundError)) is not None:
        return HubUnavailableError(
            model_id, f"a file is missing from the repository ({_last_line(missing)})", "Check the model id."
        )
    http = next((e for e in chain if isinstance(e, HfHubHTTPError) and e.response is not None), None)
    status = http.response.status_code if isinstance(http, HfHubHTTPError) else None
    mirror_fix = "Try again later, or set HF_ENDPOINT to a reachable mirror of the hub."
    if status is not None and status >= 500:
        return HubUnavailableError(model_id, f"the hub answered HTTP {status} (an outage?)", mirror_fix)
    if reachable and (found(FileMetadataError) or found(json.JSONDecodeError)):
        return HubUnavailableError(
            model_id,
            "the endpoint answered, but not as a Hugging Face hub (no hub headers: a proxy or login page?)",
            "Set HF_ENDPOINT to a Hugging Face hub or mirror, or configure the proxy (HTTPS_PROXY).",
        )
    if status is not None:
        return HubUnavailableError(model_id, f"the hub answered HTTP {status}", f"{token_fix} {mirror_fix}")
    if not reachable:
        return HubUnavailableError(
            model_id,
            "the hub does not answer (no network, or the connection is refused) and the model is not in the "
            f"local cache ({hub_constants.HF_HUB_CACHE})",
            "Check the network (and HTTPS_PROXY), or set HF_ENDPOINT to a reachable mirror of the hub.",
        )
    return HubUnavailableError(model_id, f"{type(error).__name__}: {_last_line(error)}", mirror_fix)


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def load_from_hub(model_id: str, load: Callable[[], _T]) -> _T:
    """Run ``load`` (which downloads ``model_id``), failing fast offline; any hub failure is a
    ``HubUnavailableError`` saying why."""
    with _offline_unless_reachable() as reachable:
        try:
            return load()
        except (UnsupportedModelError, ModelLoadError):
            raise
        except Exception as error:  # the hub libraries raise many unrelated types on failure
            raise describe_hub_failure(model_id, error, reachable=reachable) from error


def resolve_commit(
    repo_id: str,
    revision: str | None,
    *,
    first_file: str = "config.json",
    weight_files: tuple[str, ...] = HF_WEIGHT_FILES,
) -> str:
    """The commit that ``revision`` (a branch, tag or commit; default ``main``) of the hub repository
    ``repo_id`` points to, once its ``first_file`` (a top-level file) and the first of ``weight_files``
    it has are in the local cache: downloaded from the hub, or found in the cache when the hub is
    unreachable. Raises ``HubUnavailableError`` (before anything else is fetched) when the hub cannot
    give them."""

    def fetch() -> str:
        config = Path(hf_hub_download(repo_id, first_file, revision=revision))
        commit = config.parent.name  # the cache's layout: .../snapshots/<commit>/<first_file>
        if not HUB_COMMIT.fullmatch(commit):
            raise ModelLoadError(f"{config}: not in a hub cache snapshot folder; cannot tell its commit")
        failures: list[Exception] = []
        for name in weight_files:
            try:
                hf_hub_download(repo_id, name, revision=commit)
                return commit
            except (RemoteEntryNotFoundError, FileNotFoundError) as missing:
                failures.append(missing)
        if failures and not isinstance(failures[0], RemoteEntryNotFoundError):
            raise failures[0]  # offline and not cached: described as such
        if failures:
            raise HubUnavailableError(
                repo_id, f"the repository has none of the weight files {', '.join(weight_files)}", "Check the model id."
            )
        return commit

    return load_from_hub(repo_id, fetch)
