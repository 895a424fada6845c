"""The layer rule: the core is light to import and never imports the UI."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO_ROOT


def test_import_modelforge_core_loads_no_torch_gradio_or_unsloth():
    code = (
        "import sys, modelforge_core, modelforge_core.schemas, modelforge_core.cli, modelforge_core.dependencies\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'gradio', 'unsloth', 'transformers', 'trl'})\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "", f"imported at package import: {result.stdout}"


def test_core_never_imports_gradio_or_ui():
    pattern = re.compile(r"^\s*(import|from)\s+(gradio|ui)\b", re.MULTILINE)
    offenders = [str(p) for p in (REPO_ROOT / "modelforge_core").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_importing_ui_and_api_loads_no_trl_peft_or_transformers():
    code = (
        "import sys, ui, api, app\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'trl', 'peft', 'transformers', 'unsloth', 'bitsandbytes'})\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "", f"imported by the UI: {result.stdout}"


def test_ui_never_imports_trl_peft_transformers_or_torch():
    pattern = re.compile(r"^\s*(import|from)\s+(trl|peft|transformers|torch)\b", re.MULTILINE)
    offenders = [str(p) for p in (REPO_ROOT / "ui").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
