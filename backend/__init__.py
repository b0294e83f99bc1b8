"""qkatlas HTTP service: serves atlases and analyses uploaded images (``python -m backend``)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qkatlas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
