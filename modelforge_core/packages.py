"""Optional packages, probed in one place: whether each is installed, and its version.

As LLaMA-Factory's ``extras/packages.py``: ``importlib.util.find_spec`` and ``importlib.metadata``
answer without running a package's code, so asking costs no import of torch or unsloth; answers
are cached for the process. Code that needs an optional package asks here, then imports it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from functools import cache
from types import ModuleType


@cache
def is_package_available(name: str) -> bool:
    """True when the module ``name`` is installed (found on the path; nothing is imported)."""
    return importlib.util.find_spec(name) is not None


def package_version(name: str) -> str | None:
    """The installed version of the distribution ``name``, None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_torch_available() -> bool:
    """True when torch is installed (the app lists hardware without it)."""
    return is_package_available("torch")


def is_bitsandbytes_available() -> bool:
    """True when bitsandbytes is installed, for 4-bit and 8-bit loading."""
    return is_package_available("bitsandbytes")


def is_unsloth_available() -> bool:
    """True when unsloth is installed (``requirements-unsloth.txt``); it may still need a GPU to import."""
    return is_package_available("unsloth")


def import_pynvml() -> ModuleType | None:
    """The ``pynvml`` module (nvidia-ml-py: small, no torch), or None when it cannot be imported."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None
