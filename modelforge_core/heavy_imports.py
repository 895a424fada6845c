"""torch and transformers, imported once in the background by the app, waited for by their users.

transformers' lazy module is not safe to import from two threads at the same moment (measured:
"cannot import name 'AutoConfig' from 'transformers'" when a request imported it while the demo
build did). The app imports both in one background thread; code that needs them in a request
calls ``wait_for_imports()`` first. Outside the app (CLI, tests) nothing waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_ready = threading.Event()
_ready.set()


def import_in_background(
    then: Callable[[], object] | None = None, after: threading.Event | None = None
) -> threading.Thread:
    """Import torch and transformers in a daemon thread (once ``after`` is set), then run ``then``.

    Callers of ``wait_for_imports()`` wait from this call on, also while the thread waits for ``after``.
    """
    _ready.clear()

    def run() -> None:
        try:
            if after is not None:
                after.wait()
            import torch  # noqa: F401
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
        finally:
            _ready.set()
        if then is not None:
            then()

    thread = threading.Thread(target=run, name="heavy-imports", daemon=True)
    thread.start()
    return thread


def imports_ready() -> bool:
    """True once the background import (if any) has finished."""
    return _ready.is_set()


def wait_for_imports(timeout: float = 300.0) -> None:
    """Return once the background import (if any) has finished."""
    _ready.wait(timeout)
