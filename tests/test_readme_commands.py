"""The README's commands are tests: every ```bash block runs (or is checked) as written.

Each command in a ```bash block of README.md (comments stripped, ``\\`` continuations joined) is
split at ``&&`` into parts, and each part must be of a kind covered here:

- ``python -m modelforge_core ...``: run through ``bash -c`` on a fresh MODELFORGE_HOME, in README
  order (later commands see the data of earlier ones); ``train --config`` gets ``--max-steps 20``;
- ``pip install -r FILE``: FILE exists and CI (``.ci/run``) installs it through requirements-dev.txt;
- ``python app.py ...``: started on a free port; ``/`` answers 200 and ``/api/health`` says ok;
- ``python -m pytest ...``: ``.ci/run`` runs the same test command.

Anything else fails with "README command not covered by tests". A block that cannot run on a CPU
test machine has ``<!-- readme-test: skip (reason) -->`` on the line right before its fence.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

import httpx
import pytest

from app_server import AppServer, kill_workers
from conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
CI_RUN = REPO_ROOT / ".ci" / "run"
SKIP_MARKER = re.compile(r"^\s*<!--\s*readme-test:\s*skip\b(?P<reason>.*?)-->\s*$")
ANY_MARKER = re.compile(r"<!--\s*readme-test\b")
QUICK_STEPS = "20"


# -- reading the README ------------------------------------------------------------------------


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lines: list[str]
    skip_reason: str | None = None


def bash_blocks(text: str) -> list[Block]:
    """Every ```bash block, with the skip marker's reason ('' for a marker without one)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            marker = SKIP_MARKER.match(lines[start - 1]) if start else None
            reason = marker.group("reason").strip().strip("()").strip() if marker else None
            blocks.append(Block(start + 1, body, reason))
        i += 1
    return blocks


def _scan(text: str):
    """Yield (index, char, depth) for characters outside quotes; depth counts open ``$(``."""
    stack: list[str] = []
    i = 0
    while i < len(text):
        c, top = text[i], (stack[-1] if stack else None)
        if top == "'":
            if c == "'":
                stack.pop()
        elif c == "\\":
            i += 1
        elif text.startswith("$(", i) and top != "'":
            stack.append("$(")
            yield i, "$(", stack.count("$(")
            i += 1
        elif top == '"':
            if c == '"':
                stack.pop()
        elif c in "'\"":
            stack.append(c)
        elif c == ")" and top == "$(":
            yield i, ")", stack.count("$(")
            stack.pop()
        else:
            yield i, c, stack.count("$(")
        i += 1


def strip_comment(line: str) -> str:
    for i, c, depth in _scan(line):
        if c == "#" and depth == 0 and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def block_commands(block: Block) -> list[tuple[int, str]]:
    """The block's (README line, command): continuation lines joined, comments and blank lines dropped."""
    commands, pending, first = [], "", 0
    for number, raw in enumerate(block.lines, block.line + 1):
        line = strip_comment(raw).strip() if not pending else raw.strip()
        first = first if pending else number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        command = strip_comment(pending + line).strip()
        pending = ""
        if command:
            commands.append((first, command))
    assert not pending, f"README line {block.line}: a block ends in a line continuation"
    return commands


def split_and(command: str) -> list[str]:
    """The parts of ``a && b && c`` (``&&`` inside quotes or ``$(...)`` does not split)."""
    parts, start = [], 0
    for i, c, depth in _scan(command):
        if c == "&" and depth == 0 and command.startswith("&&", i) and i >= start:  # not the second & of &&
            parts.append(command[start:i].strip())
            start = i + 2
    parts.append(command[start:].strip())
    return parts


def substitutions(part: str) -> list[str]:
    """The commands inside the outermost ``$(...)`` of a part."""
    found, opened = [], None
    for i, c, depth in _scan(part):
        if c == "$(" and depth == 1:
            opened = i + 2
        elif c == ")" and depth == 1 and opened is not None:
            found.append(part[opened:i].strip())
            opened = None
    return found


def shell_operators(part: str) -> list[str]:
    """Unquoted operators other than ``&&`` (pipes, redirections, ``;``, backgrounding, backticks)."""
    return [c for _, c, depth in _scan(part) if depth == 0 and c in "|;<>&`"]


# -- what each part is -------------------------------------------------------------------------


@dataclass
class Part:
    text: str
    kind: str | None  # cli, pip, app, pytest; None: not covered
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)  # after `python -m modelforge_core`, `app.py`, ...


def classify(text: str) -> Part:
    if shell_operators(text):
        return Part(text, None)
    argv = shlex.split(text)
    env = {}
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
        key, _, value = argv.pop(0).partition("=")
        env[key] = value
    python = bool(argv) and argv[0] in ("python", "python3")
    if python and argv[1:3] == ["-m", "modelforge_core"]:
        kind, args = "cli", argv[3:]
    elif python and argv[1:3] == ["-m", "pytest"]:
        kind, args = "pytest", argv[3:]
    elif python and argv[1:2] == ["app.py"]:
        kind, args = "app", argv[2:]
    elif argv[:3] == ["pip", "install", "-r"] and len(argv) == 4:
        kind, args = "pip", argv[3:]
    else:
        kind, args = None, argv
    if kind == "cli" and any(classify(inner).kind != "cli" for inner in substitutions(text)):
        kind = None
    elif kind != "cli" and substitutions(text):
        kind = None
    return Part(text, kind, env, args)


def readme_commands() -> list[tuple[int, str, list[Part]]]:
    """(README line, command, its parts) for every command of every block that is not skipped."""
    found = []
    for block in bash_blocks(README.read_text(encoding="utf-8")):
        if block.skip_reason is None:
            for line, command in block_commands(block):
                found.append((line, command, [classify(p) for p in split_and(command)]))
    return found


def parts_of(kind: str) -> list[Part]:
    return [part for _, _, parts in readme_commands() for part in parts if part.kind == kind]


PLACEHOLDER = re.compile(r"^(\[.*|.*\]|[A-Z][A-Z0-9_]*|.*\.\.\..*|<.*>)$")


def placeholders(part: Part) -> list[str]:
    return [arg for arg in part.args if PLACEHOLDER.match(arg)]


# -- the parser itself -------------------------------------------------------------------------


def test_the_command_parser():
    block = Block(1, [
        "# a comment line",
        'python -m modelforge_core train --config "$(python -m modelforge_core demo --config)"  # trains',
        "python -m modelforge_core estimate --model m \\",
        "    --batch-size 4   # continued",
        "",
    ])
    assert block_commands(block) == [
        (3, 'python -m modelforge_core train --config "$(python -m modelforge_core demo --config)"'),
        (4, "python -m modelforge_core estimate --model m --batch-size 4"),
    ]
    assert split_and('pip install -r a.txt && X=1 python -m pytest -q -k "a && b"') == [
        "pip install -r a.txt", 'X=1 python -m pytest -q -k "a && b"',
    ]
    assert substitutions('x --config "$(python -m modelforge_core demo --config)"') == ["python -m modelforge_core demo --config"]
    assert classify("HF_HUB_OFFLINE=1 python -m pytest -q").kind == "pytest"
    assert classify("HF_HUB_OFFLINE=1 python -m pytest -q").env == {"HF_HUB_OFFLINE": "1"}
    assert classify("python -m modelforge_core demo --json | python -c 'import sys'").kind is None
    assert classify('python -m modelforge_core train --config "$(cat cfg)"').kind is None
    assert classify("curl http://127.0.0.1:7860").kind is None
    assert placeholders(classify("python -m modelforge_core jobs show ID [--json]")) == ["ID", "[--json]"]
    assert strip_comment("echo '#not a comment' # a comment") == "echo '#not a comment'"


# -- the README as a whole ---------------------------------------------------------------------


def test_skip_markers_have_a_reason_and_sit_right_before_a_bash_fence():
    lines = README.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not ANY_MARKER.search(line):
            continue
        marker = SKIP_MARKER.match(line)
        assert marker, f"README line {number}: unknown readme-test marker: {line.strip()}"
        reason = marker.group("reason").strip().strip("()").strip()
        assert reason, f"README line {number}: a readme-test skip marker needs a reason, e.g. (needs an NVIDIA GPU)"
        assert number < len(lines) and lines[number].strip() == "```bash", (
            f"README line {number}: a readme-test skip marker must be on the line right before a ```bash fence"
        )


def test_every_readme_command_is_covered_and_literal():
    commands = readme_commands()
    assert commands, "README.md has no ```bash commands"
    for line, command, parts in commands:
        for part in parts:
            assert part.kind, f"README command not covered by tests: {command} (README line {line})"
            assert not placeholders(part), f"README command has placeholders {placeholders(part)}: {command} (README line {line})"
            for inner in substitutions(part.text):
                assert not placeholders(classify(inner)), f"README command has placeholders: {command}"
    kinds = {part.kind for _, _, parts in commands for part in parts}
    assert {"cli", "pip", "app", "pytest"} <= kinds, f"the README lost a command kind: {kinds}"


def _requirement_files(name: str) -> set[str]:
    """``name`` and every file it pulls in with ``-r``."""
    files, lines = {name}, (REPO_ROOT / name).read_text(encoding="utf-8").splitlines()
    for line in lines:
        match = re.match(r"^\s*(?:-r|--requirement)\s+(\S+)", line)
        if match:
            files |= _requirement_files(match.group(1))
    return files


def test_pip_install_files_exist_and_ci_installs_them():
    pip_parts = parts_of("pip")
    assert pip_parts
    ci = CI_RUN.read_text(encoding="utf-8")
    assert re.search(r"pip install (-q )?-r requirements-dev\.txt", ci), ".ci/run must install requirements-dev.txt"
    ci_installs = _requirement_files("requirements-dev.txt")
    assert "requirements.txt" in ci_installs, "requirements-dev.txt must include requirements.txt (-r requirements.txt)"
    for part in pip_parts:
        (name,) = part.args
        assert (REPO_ROOT / name).is_file(), f"README: `{part.text}`: {name} does not exist"
        assert name in ci_installs, f"README: `{part.text}`: CI does not install {name} (via requirements-dev.txt)"


def _ci_test_command() -> tuple[dict[str, str], list[str]]:
    """The environment exported before .ci/run's pytest line, and that line's pytest arguments."""
    env: dict[str, str] = {}
    for line in CI_RUN.read_text(encoding="utf-8").splitlines():
        line = strip_comment(line).strip()
        if line.startswith("export "):
            for assignment in shlex.split(line)[1:]:
                key, _, value = assignment.partition("=")
                env[key] = value
        part = classify(line) if line else None
        if part and part.kind == "pytest":
            return {**env, **part.env}, part.args
    raise AssertionError(".ci/run runs no `python -m pytest` command")


def test_readme_test_command_is_the_one_ci_runs():
    (part,) = parts_of("pytest")
    ci_env, ci_args = _ci_test_command()
    assert part.args == ci_args, f"README runs `pytest {' '.join(part.args)}`, .ci/run `pytest {' '.join(ci_args)}`"
    for key, value in part.env.items():
        assert ci_env.get(key) == value, f"README's test command sets {key}={value}; .ci/run does not"


def test_readme_app_command_serves(tmp_path):
    app_parts = parts_of("app")
    assert app_parts
    for part in app_parts:
        assert "--port" not in part.args, "the test picks the port"
        server = AppServer(tmp_path / "home", extra_args=tuple(part.args))
        try:
            assert httpx.get(server.url + "/", timeout=30).status_code == 200
            health = httpx.get(server.url + "/api/health", timeout=30)
            assert health.status_code == 200 and health.json().get("status") == "ok", health.text
        finally:
            server.stop()


# -- running the CLI commands ------------------------------------------------------------------


def _quick(part: Part) -> str:
    """The part as run here: ``train --config`` gets ``--max-steps 20`` unless it names its own."""
    if part.args[:1] == ["train"] and "--config" in part.args and "--max-steps" not in part.args:
        return f"{part.text} --max-steps {QUICK_STEPS}"
    return part.text


def _bash(command: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_readme_cli_commands_run(settings):
    env = {**os.environ, "MODELFORGE_HOME": str(settings.home), "HF_HUB_OFFLINE": "1"}
    env.pop("MODELFORGE_DATABASE_URL", None)
    passed: set[str] = set()
    trained = False
    ran = 0
    try:
        for line, _command, parts in readme_commands():
            cli = [part for part in parts if part.kind == "cli"]
            if not cli:
                continue
            for inner in (s for part in cli for s in substitutions(part.text)):
                if inner not in passed:  # a failing $(...) would only show as an odd argument outside
                    result = _bash(inner, env)
                    assert result.returncode == 0, f"README line {line}: `{inner}` exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
                    passed.add(inner)
            run = " && ".join(_quick(part) for part in cli)
            result = _bash(run, env)
            ran += 1
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"README line {line}: `{run}` exited {result.returncode}:\n{output[-4000:]}"
            passed.add(run)
            if any(part.args[:1] == ["train"] for part in cli):
                assert "completed: model" in result.stdout, f"README line {line}: `{run}` did not complete:\n{output[-4000:]}"
                listed = _bash("python -m modelforge_core models list --json", env)
                assert listed.returncode == 0 and json.loads(listed.stdout), f"no model registered after `{run}`"
                trained = True
            if trained and any(part.args[:2] == ["models", "list"] for part in cli):
                assert "(none)" not in result.stdout, f"`{run}` lists no model after a training run:\n{result.stdout}"
    finally:
        kill_workers(settings.database_url)
    assert ran and trained, "the README's CLI commands should train a model"
