"""Demo models built fully offline, and a ready-to-train demo config.

``build_demo_models(settings)`` writes them under ``MODELFORGE_HOME/demo/`` once and returns their
paths; later calls reuse what is there. The weights are random: the point is models that load,
train and answer on any machine without a download, and that visibly learn the demo tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..logging_config import get_logger
from ..model_kinds import ModelKind
from ..settings import Settings
from .models import build_causal_lm, build_qa_encoder, build_seq2seq

log = get_logger("demo")

DEMO_VERSION = 4
BUILDERS = {ModelKind.CAUSAL: build_causal_lm, ModelKind.SEQ2SEQ: build_seq2seq, ModelKind.QA: build_qa_encoder}
MARKER_FILE = "modelforge-demo.json"


def demo_model_folder(settings: Settings, kind: ModelKind) -> Path:
    """Where the demo model of ``kind`` is (or will be) built: ``demo/<kind>-v<DEMO_VERSION>``."""
    return settings.demo_dir / f"{kind.value}-v{DEMO_VERSION}"


def is_demo_model_built(settings: Settings, kind: ModelKind) -> bool:
    """True once the demo model of ``kind`` has been built completely (its marker file is written last)."""
    return (demo_model_folder(settings, kind) / MARKER_FILE).is_file()


def build_demo_models(settings: Settings, force: bool = False) -> dict[ModelKind, str]:
    """Build the demo models once under ``settings.demo_dir``; return ``{kind: path}``."""
    paths: dict[ModelKind, str] = {}
    for kind, build in BUILDERS.items():
        folder = demo_model_folder(settings, kind)
        marker = folder / MARKER_FILE
        if force or not is_demo_model_built(settings, kind):
            log.info("building demo model", extra={"fields": {"kind": kind.value, "path": str(folder)}})
            build(folder)
            marker.write_text(json.dumps({"kind": kind.value, "version": DEMO_VERSION}), encoding="utf-8")
        paths[kind] = str(folder)
    return paths


# Settings under which the demo model visibly learns the demo task with LoRA: 600 steps in about 45 s
# on an idle 2-core CPU, 3-4 minutes on a busy one (measured 2026-12-01: held-out accuracy 0 -> 1.0,
# eval loss 8.7 -> 0.35).
DEMO_TRAINING = {
    "finetuning_type": "lora",
    "learning_rate": 3e-3,
    "lora_dropout": 0.0,
    "max_steps": 600,
    "per_device_train_batch_size": 8,
    "warmup_ratio": 0.05,
    "eval_steps": 100,
    "logging_steps": 10,
    "save_steps": 200,
}


def demo_config(settings: Settings) -> dict:
    """A config in the seed's JSON shape that trains the demo model on the demo task."""
    from ..data.samples import sample_dataset_paths

    return {
        "task": "text-generation",
        "model_name": build_demo_models(settings)[ModelKind.CAUSAL],
        "provider": "huggingface",
        "strategy": "sft",
        "dataset": sample_dataset_paths()["sft"],
        "compute_specs": "cpu",
        "eval_split": 0.2,
        "num_train_epochs": 1,
        "lora_r": 16,
        "lora_alpha": 32,
        "use_4bit": False,
        "bf16": False,
        **DEMO_TRAINING,
        "output_name": "demo-digits",
    }


def write_demo_config(settings: Settings) -> Path:
    """Write :func:`demo_config` to ``demo/demo_config.json``; return the path."""
    path = settings.demo_dir / "demo_config.json"
    path.write_text(json.dumps(demo_config(settings), indent=2), encoding="utf-8")
    return path
