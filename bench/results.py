"""Writing benchmark figures into ``bench/RESULTS.md``: each benchmark owns one marked block.

A block sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; the prose around the
blocks is written by hand and kept. A block that is not in the file yet is appended at its end.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
PACKAGES = ("torch", "transformers", "trl", "peft", "gradio")


def machine_line() -> str:
    """CPU, cores, RAM, GPU and the versions that matter, in one line (the Hardware tab's readings)."""
    import psutil

    from modelforge_core.hardware.detection import cpu_name, package_versions
    from modelforge_core.packages import is_torch_available

    gpu = "no GPU"
    if is_torch_available():
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    installed = package_versions()
    versions = ", ".join(f"{name} {installed.get(name) or '(not installed)'}" for name in PACKAGES)
    return (f"{cpu_name()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {gpu}; "
            f"Python {platform.python_version()}, {versions}")


def write_block(name: str, command: str, body: str, path: Path = RESULTS, machine: str | None = None,
                day: str | None = None) -> None:
    """Replace (or append) block ``name`` with the command, the machine, the date and ``body``.

    ``machine`` and ``day`` default to this machine and today (a run saved elsewhere passes its own).
    """
    block = (f"<!-- bench:{name} -->\n"
             f"Command: `{command}`. Machine: {machine or machine_line()}. Date: {day or date.today().isoformat()}.\n\n"
             f"{body.strip()}\n<!-- /bench:{name} -->")
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
