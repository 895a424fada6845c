"""What keeps the app's start short: gradio's stub regeneration skipped, heavy imports deferred."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from modelforge_core import heavy_imports

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_gradio_imports_without_regenerating_its_stubs():
    code = (
        "import gradio_fast_import; assert gradio_fast_import.install()\n"
        "import gradio, gradio.component_meta as meta\n"
        "assert meta.create_or_modify_pyi is gradio_fast_import._no_stub\n"
        "assert not gradio_fast_import.install()  # gradio is imported: nothing more to do\n"
        "import sys; print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"  # the UI's import path stays free of torch and friends


def test_waiters_wait_for_the_deferred_background_import():
    go, ran = threading.Event(), threading.Event()
    thread = heavy_imports.import_in_background(then=ran.set, after=go)
    waiter_done = threading.Event()
    threading.Thread(target=lambda: (heavy_imports.wait_for_imports(), waiter_done.set()), daemon=True).start()
    assert not waiter_done.wait(0.3)  # the import has not started: waiters wait
    go.set()
    thread.join(120)
    assert waiter_done.wait(5) and ran.is_set()
