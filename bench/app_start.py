"""App start: ``python app.py`` to the first HTTP 200 on ``/``, and what the imports alone cost.

    python -m bench.app_start [--runs 5]

Each run starts the app in a fresh process on a free port with an empty data folder (offline),
polls ``/`` every 20 ms and stops the app once it answers. For orientation the same script times
``import gradio`` and ``import torch, transformers, trl, peft`` in fresh processes, interleaved.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
IMPORTS = {"import gradio": "import gradio", "import torch, transformers, trl, peft": "import torch, transformers, trl, peft"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_app_start(timeout: float = 120.0) -> float:
    """Seconds from launching ``python app.py`` to its first 200 on ``/``."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="mf-start-") as home:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--data-dir", home],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            while time.perf_counter() - started < timeout:
                if process.poll() is not None:
                    raise RuntimeError(f"app.py exited: {process.stderr.read().decode()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                except OSError:
                    time.sleep(0.02)
            raise RuntimeError(f"app.py did not answer within {timeout:.0f} s")
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)


def time_import(statement: str) -> float:
    """Seconds for a fresh interpreter to run ``statement`` (interpreter start included)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, cwd=REPO_ROOT, capture_output=True)
    return time.perf_counter() - started


def run(runs: int = 5) -> dict[str, list[float]]:
    """Interleaved: app start, then each import, ``runs`` times."""
    results: dict[str, list[float]] = {"python app.py to first 200 on /": [], **{name: [] for name in IMPORTS}}
    for index in range(runs):
        results["python app.py to first 200 on /"].append(time_app_start())
        for name, statement in IMPORTS.items():
            results[name].append(time_import(statement))
        print(f"run {index}: " + ", ".join(f"{k}: {v[-1]:.2f} s" for k, v in results.items()), flush=True)
    return results


def table(results: dict[str, list[float]]) -> str:
    lines = ["| what | median s | min | max | runs |", "|---|---:|---:|---:|---:|"]
    for name, values in results.items():
        lines.append(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} | {len(values)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    print(table(run(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
