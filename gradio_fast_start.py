"""Start gradio faster in the app's process: work a script never uses is skipped, nothing else.

Measured on 2 cores (bench/app_start.py), three things made ``import gradio`` plus building the
UI slower than they need to be in a server process:

- gradio's ``ComponentMeta`` regenerates its type stubs at import: for every component class it
  reads the source, parses it with ``ast`` and compares it with the shipped ``.pyi`` (about 1 s
  of 2.8 s). The stubs only serve type checkers, and an installed gradio ships them already.
- Optional imports a server process has no use for: IPython, when installed (gradio imports it
  to register its notebook magic, ``%%blocks``, and to ask whether it runs in Colab), and httpx's
  command line (rich, click, pygments); together about 0.3-0.5 s.
- Gradio builds its server app (a FastAPI app with ~85 routes) in ``Blocks.__init__``, again in
  ``__exit__`` and a third time in ``launch()``, the one it serves (about 0.1 s each). While the
  UI is built, the first two are skipped.

This module must not import gradio itself: it runs before the first ``import gradio``. gradio is
pinned in requirements.txt; tests/test_app_start.py checks each step still takes effect.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

STUB_WRITER_MODULE = "gradio.component_meta"
UNUSED_OPTIONAL_IMPORTS = ("IPython", "httpx._main")


def _no_stub(*_args: object, **_kwargs: object) -> None:
    """Stands in for gradio's ``create_or_modify_pyi``."""


class _SkipStubRegeneration(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta as usual, then replaces its stub writer once the module ran."""

    def find_spec(self, name: str, path: object = None, target: object = None):  # noqa: ARG002
        if name != STUB_WRITER_MODULE:
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
    """Before the first ``import gradio``: skip its stub regeneration, and hide the unused imports.

    The hidden modules stay unimportable for this process (``import IPython`` raises ImportError):
    gradio also asks IPython, at launch, whether it runs in Colab. A process that did not load
    IPython before this call is no notebook. Returns False, changing nothing, once gradio is in.
    """
    if STUB_WRITER_MODULE in sys.modules or any(isinstance(f, _SkipStubRegeneration) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _SkipStubRegeneration())
    for name in UNUSED_OPTIONAL_IMPORTS:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    return True


@contextmanager
def server_app_built_at_launch() -> Iterator[None]:
    """Build the ``gr.Blocks`` inside this block; gradio then builds its server app once, at launch.

    Inside, ``Blocks.app`` stays None: nothing reads it before ``launch()``, which builds the app
    it serves whatever came before.
    """
    from gradio.routes import App

    create_app = App.__dict__["create_app"]
    App.create_app = staticmethod(lambda *_args, **_kwargs: None)  # type: ignore[method-assign]
    try:
        yield
    finally:
        App.create_app = create_app  # type: ignore[method-assign]
