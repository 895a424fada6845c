"""Import gradio about a second faster by skipping its type-stub regeneration.

At import, gradio's ``ComponentMeta`` calls ``create_or_modify_pyi`` for every component class:
it reads the component's source, parses it with ``ast`` and compares it with the shipped ``.pyi``
stub (measured here: about 1 s of the 2.8 s that ``import gradio`` takes on 2 cores). The stubs
only serve type checkers, and an installed gradio ships them already, so the app skips it. This
module must not import gradio itself: ``install()`` runs before the first ``import gradio``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from types import ModuleType

TARGET = "gradio.component_meta"


def _no_stub(*_args: object, **_kwargs: object) -> None:
    """Stands in for gradio's ``create_or_modify_pyi``."""


class _SkipStubRegeneration(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta as usual, then replaces its stub writer once the module ran."""

    def find_spec(self, name: str, path: object = None, target: object = None):  # noqa: ARG002
        if name != TARGET:
            return None
        sys.meta_path.remove(self)  # one use; find the real spec without this finder
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            if callable(getattr(module, "create_or_modify_pyi", None)):
                module.create_or_modify_pyi = _no_stub

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> bool:
    """Install the finder; False (and nothing done) when gradio is already imported."""
    if TARGET in sys.modules or any(isinstance(f, _SkipStubRegeneration) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _SkipStubRegeneration())
    return True
