"""The layer rule: the core is light to import and never imports the UI; the UI reaches the core only
through its services, and keeps no per-session state on the objects every session shares."""

from __future__ import annotations

import ast
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


def _core_imports(path) -> list[str]:
    """Every ``modelforge_core`` module a file imports, at any depth (function-level imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from modelforge_core import x`` imports the submodule (or a name of the package) x
            found += [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "modelforge_core" else [node.module]
    return [name for name in found if name == "modelforge_core" or name.startswith("modelforge_core.")]


def _outside(path, allowed: tuple[str, ...]) -> list[str]:
    """The core modules ``path`` imports that are not (inside) one of ``allowed``."""
    return [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for name in _core_imports(path)
        if not any(name == root or name.startswith(root + ".") for root in allowed)
    ]


def test_the_ui_imports_only_services_schemas_and_exceptions_from_the_core():
    allowed = ("modelforge_core.services", "modelforge_core.schemas", "modelforge_core.exceptions")
    offenders = [line for path in sorted((REPO_ROOT / "ui").rglob("*.py")) for line in _outside(path, allowed)]
    assert offenders == [], "the tabs reach past the services"


def test_the_app_and_the_api_import_only_the_cores_outer_layer():
    """The composition root and the HTTP routes build services through dependencies; nothing deeper."""
    allowed = (
        "modelforge_core.services", "modelforge_core.schemas", "modelforge_core.exceptions", "modelforge_core.settings",
        "modelforge_core.logging_config", "modelforge_core.dependencies", "modelforge_core.__version__",
    )
    files = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "api").rglob("*.py"))]
    offenders = [line for path in files for line in _outside(path, allowed)]
    assert offenders == []


def test_the_ui_keeps_no_per_session_state_on_shared_objects():
    """Tabs are built once and shared by every browser session: what belongs to one session lives in a
    gr.State (Gradio copies it per session and drops it when the session ends), never in a map on the
    tab keyed by the request's session."""
    offenders = []
    for path in sorted((REPO_ROOT / "ui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "session_hash":
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} reads session_hash")
            elif isinstance(node, ast.Attribute) and node.attr == "Request" and getattr(node.value, "id", None) == "gr":
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} takes a gr.Request")
    assert offenders == []
