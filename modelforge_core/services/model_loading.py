"""Loading a registered model for inference: base weights plus its adapter (or full weights), once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import HardwareError, ModelAccessError
from ..heavy_imports import wait_for_imports
from ..model_kinds import ModelKind
from ..providers.model_classes import check_model_serves_task
from ..providers.model_source import read_model_config


@dataclass
class LoadedModel:
    """A model ready to generate: ``has_adapter`` means the base is reachable by disabling the adapter."""

    record: dict
    model: Any
    tokenizer: Any
    kind: ModelKind
    has_adapter: bool
    device: str


def pick_device(prefer_cpu: bool = False) -> str:
    import torch

    if not prefer_cpu and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def load_registered_model(record: dict, device: str) -> LoadedModel:
    """Base + adapter from the model's folder; ModelAccessError when files are gone, HardwareError on OOM."""
    wait_for_imports()
    import torch
    import transformers

    folder = Path(record["path"])
    if not folder.is_dir():
        raise ModelAccessError(
            f"The files of model '{record['name']}' are gone ({folder}).",
            "Delete the model from the registry, or train it again.",
        )
    has_adapter = (folder / "adapter_config.json").is_file()
    source = record["base_model"] if has_adapter else str(folder)
    class_name = check_model_serves_task(source, read_model_config(source), record["task"])
    auto_class = getattr(transformers, class_name)
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = auto_class.from_pretrained(source, dtype=dtype)
        if has_adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, folder)
        model = model.to(device).eval()
    except torch.OutOfMemoryError as exc:
        raise HardwareError(
            f"Out of memory while loading '{record['name']}' on {device}.",
            "Stop the training that holds the GPU, or load the model on the CPU (small models).",
        ) from exc
    except OSError as exc:
        raise ModelAccessError(f"Could not load '{record['name']}': {exc}", "Check the base model is still reachable.") from exc
    return LoadedModel(record, model, tokenizer, ModelKind.of_auto_class(class_name), has_adapter, device)
