"""What keeps the app's start short: gradio's unused start-up work skipped, heavy imports deferred."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from modelforge_core import heavy_imports

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


def test_gradio_imports_without_regenerating_its_stubs_or_loading_unused_modules():
    last = _run(
        "import gradio_fast_start; assert gradio_fast_start.install()\n"
        "import gradio, gradio.component_meta as meta\n"
        "assert meta.create_or_modify_pyi is gradio_fast_start._no_stub\n"
        "assert not gradio_fast_start.install()  # gradio is imported: nothing more to do\n"
        "import sys\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'IPython', 'httpx._main') if sys.modules.get(m)))\n"
    )[-1]
    assert last == "[]"  # the UI's import path stays free of torch and friends, IPython, httpx's CLI


def test_gradio_builds_its_server_app_once_and_serves_the_page():
    lines = _run(
        "import gradio_fast_start; gradio_fast_start.install()\n"
        "import urllib.request, gradio as gr\n"
        "from gradio.routes import App\n"
        "builds = []\n"
        "real = App.create_app\n"
        "App.create_app = staticmethod(lambda *a, **k: builds.append(1) or real(*a, **k))\n"
        "with gradio_fast_start.server_app_built_at_launch():\n"
        "    with gr.Blocks() as blocks:\n"
        "        box = gr.Textbox()\n"
        "        gr.Button().click(lambda text: text.upper(), box, box)\n"
        "print(len(builds))\n"
        "blocks.launch(prevent_thread_lock=True, quiet=True)\n"
        "print(len(builds))\n"
        "print(urllib.request.urlopen(blocks.local_url).status)\n"
        "from gradio_client import Client\n"
        "print(Client(blocks.local_url, verbose=False).predict('hi', api_name='/lambda'))\n"
        "blocks.close()\n"
    )
    assert [line for line in lines if not line.startswith("Closing server")][-4:] == ["0", "1", "200", "HI"]


def test_waiters_wait_for_the_deferred_background_import():
    go, ran = threading.Event(), threading.Event()
    thread = heavy_imports.import_in_background(then=ran.set, after=go)
    waiter_done = threading.Event()
    threading.Thread(target=lambda: (heavy_imports.wait_for_imports(), waiter_done.set()), daemon=True).start()
    assert not waiter_done.wait(0.3)  # the import has not started: waiters wait
    go.set()
    thread.join(120)
    assert waiter_done.wait(5) and ran.is_set()
