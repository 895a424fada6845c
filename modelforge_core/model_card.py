"""The files that describe a saved model: a Hugging Face model card (README.md) and modelforge.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .exceptions import ModelAccessError
from .files import write_text_atomic
from .hub_ids import looks_like_hub_id
from .model_kinds import ModelKind
from .schemas.tasks import task_facts

METADATA_FILE = "modelforge.json"
STRATEGY_TEXT = {
    "sft": "Supervised fine-tuning (SFT): the model learns to produce the reference answers.",
    "qlora": "QLoRA: supervised fine-tuning of LoRA adapters on a 4-bit quantized base model.",
    "dpo": "Direct Preference Optimization (DPO): the model learns to prefer the chosen over the rejected answers.",
    "rlhf": "Reinforcement learning from human feedback (RLHF): a reward model learns the preference pairs, then the "
            "policy is trained with GRPO (or RLOO) to raise that reward, kept near the base by a KL penalty.",
    "kto": "Kahneman-Tversky Optimization (KTO): the model learns from answers labelled desirable or undesirable, "
           "one at a time, with no need for pairs; the base (adapter off) is the reference.",
    "orpo": "Odds Ratio Preference Optimization (ORPO): supervised fine-tuning on the chosen answers plus an odds-ratio "
            "penalty that makes the rejected answers less likely; no reference model.",
    "simpo": "Simple Preference Optimization (SimPO): the length-normalised log-probability of the chosen answer is pushed "
             "above the rejected one's by a target margin; no reference model.",
    "grpo": "Group Relative Policy Optimization (GRPO) with rule-based rewards: several answers are sampled per prompt, "
            "scored by the rewards named in the config, and the policy moves towards the better ones.",
}
NOT_HYPERPARAMETERS = ("model_name", "dataset", "task", "strategy", "provider", "column_mapping", "output_name")


def is_hub_id(value: str) -> bool:
    """True when ``value`` looks like a Hub repo id (``org/name`` or ``name``), not a local file or folder."""
    return looks_like_hub_id(value) and not Path(value.strip()).exists()


def yaml_str(value: str) -> str:
    """``value`` as a YAML double-quoted scalar (JSON escapes, plus non-printable characters)."""
    quoted = json.dumps(str(value), ensure_ascii=False)
    return "".join(c if c.isprintable() else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                   for c in quoted)


def _front_matter(base_model: str, task: str, strategy: str, dataset: str, finetuning_type: str) -> str:
    lines = ["---"]
    if is_hub_id(base_model):
        lines.append(f"base_model: {yaml_str(base_model)}")
    lines.append(f"library_name: {'peft' if finetuning_type == 'lora' else 'transformers'}")
    facts = task_facts(task)
    lines.append(f"pipeline_tag: {yaml_str(facts.pipeline_tag if facts else 'text-generation')}")
    tags = list(dict.fromkeys(["modelforge", strategy, "lora" if finetuning_type == "lora" else "full", "trl"]))
    lines += ["tags:"] + [f"- {yaml_str(tag)}" for tag in tags]
    if is_hub_id(dataset):
        lines += ["datasets:", f"- {yaml_str(dataset)}"]
    lines.append("---")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    elif value is None:
        text = "-"
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(header: tuple[str, str], values: dict) -> str:
    rows = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    rows += [f"| {_cell(key)} | {_cell(value)} |" for key, value in values.items()]
    return "\n".join(rows)


def _model_kind(folder: Path, task: str) -> ModelKind:
    """CAUSAL, SEQ2SEQ or QA: from the saved adapter/config files, else the kind that usually serves the task."""
    for name, key in (("adapter_config.json", "task_type"), ("config.json", "architectures")):
        try:
            value = json.loads((folder / name).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        text = " ".join(value) if isinstance(value, list) else str(value or "")
        if "SEQ_2_SEQ" in text or "ConditionalGeneration" in text or "Seq2Seq" in text:
            return ModelKind.SEQ2SEQ
        if "QUESTION_ANS" in text or "QuestionAnswering" in text:
            return ModelKind.QA
        if text:
            return ModelKind.CAUSAL
    facts = task_facts(task)
    return facts.model_kind if facts else ModelKind.CAUSAL


def _usage(location: str, kind: ModelKind, finetuning_type: str, on_hub: bool) -> str:
    """The python snippet that loads the model from ``location``: its folder, or its Hub repo id."""
    if finetuning_type == "lora":
        loader = "AutoPeft" + kind.auto_class.removeprefix("Auto")  # AutoPeftModelForCausalLM, ...
        imports = [f"from peft import {loader}", "from transformers import AutoTokenizer"]
    else:
        loader = kind.auto_class
        imports = [f"from transformers import AutoTokenizer, {loader}"]
    if on_hub:
        where = "# The model's repo on the Hugging Face Hub."
    else:
        where = "# This model's folder; once it is pushed to the Hub, use its repo id (your-name/model-name) instead."
    lines = ["```python", *imports]
    lines += [
        "",
        where,
        f"model_path = {json.dumps(location)}",
        f"model = {loader}.from_pretrained(model_path)",
        "tokenizer = AutoTokenizer.from_pretrained(model_path)",
    ]
    if not kind.has_task_head:
        lines += [
            'inputs = tokenizer("Hello!", return_tensors="pt")',
            "print(tokenizer.decode(model.generate(**inputs, max_new_tokens=64)[0], skip_special_tokens=True))",
        ]
    return "\n".join(lines + ["```"])


def _serving(name: str, base_model: str, location: str, finetuning_type: str, on_hub: bool) -> str:
    """How to serve a causal model: vLLM (the adapter on its base, or the weights), and the exports for llama.cpp and Ollama."""
    if on_hub and not is_hub_id(base_model):  # a local base: its path on the training machine means nothing here
        base_model = f"/path/to/{Path(base_model).name}"
    if finetuning_type == "lora":
        lora_name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name.lower()).strip("-.") or "model"
        lines = ["vLLM, the adapter on its base:", "", "```bash",
                 f"vllm serve {base_model} --enable-lora --lora-modules {lora_name}={location}", "```"]
    else:
        lines = ["vLLM:", "", "```bash", f"vllm serve {location}", "```"]
    if not on_hub:
        lines += ["", "Merged weights (for vLLM without LoRA), or one GGUF file with an Ollama Modelfile (llama.cpp, "
                  "Ollama, LM Studio); each export ends with a parity report (`parity_report.json` in its folder) that "
                  "checks it answers as this model does:", "", "```bash",
                  f"python -m modelforge_core models export {json.dumps(name)} --format merged",
                  f"python -m modelforge_core models export {json.dumps(name)} --format gguf --type q8_0 --ollama", "```"]
    return "\n".join(lines)


def render_model_card(
    folder: Path,
    *,
    name: str,
    base_model: str,
    task: str,
    strategy: str,
    provider: str,
    dataset: str,
    hyperparameters: dict,
    metrics: dict,
    finetuning_type: str = "lora",
    model_path: str | Path | None = None,
    repo_id: str | None = None,
    oom_recovery: list[dict] | None = None,
) -> str:
    """The text of the card for the model saved in ``folder``.

    Its "How to use" snippet loads ``repo_id`` (the card of a Hub push), else ``model_path`` (the
    model's final folder, when ``folder`` is a staging folder), else ``folder`` itself, as an
    absolute path.
    """
    folder = Path(folder)
    base_ref = f"[{base_model}](https://huggingface.co/{base_model})" if is_hub_id(base_model) else f"`{Path(base_model).name}`"
    data_ref = f"[{dataset}](https://huggingface.co/datasets/{dataset})" if is_hub_id(dataset) else f"`{Path(dataset).name}`"
    method = "LoRA adapters" if finetuning_type == "lora" else "full fine-tuning of every weight"
    location = repo_id or str(Path(model_path or folder).expanduser().resolve())
    sections = [
        _front_matter(base_model, task, strategy, dataset, finetuning_type),
        f"# {name}",
        (
            f"{name} is a fine-tuned version of {base_ref} for **{task}**, trained with "
            f"ModelForge using the `{strategy}` strategy ({method}) and the `{provider}` provider."
        ),
        f"## Training data\n\nDataset: {data_ref}",
        (
            f"## Training strategy\n\n{STRATEGY_TEXT.get(strategy, f'Strategy `{strategy}`.')}\n\n"
            f"- Fine-tuning type: `{finetuning_type}`\n- Provider: `{provider}`"
        ),
        "## Hyperparameters\n\n" + _table(("Hyperparameter", "Value"), hyperparameters) + _recovery(oom_recovery),
        "## Final metrics\n\n" + (_table(("Metric", "Value"), metrics) if metrics else "No metrics were recorded."),
        "## How to use\n\n" + _usage(location, _model_kind(folder, task), finetuning_type, on_hub=bool(repo_id)),
    ]
    if _model_kind(folder, task) == ModelKind.CAUSAL:
        sections.append("## Serve it\n\n" + _serving(name, base_model, location, finetuning_type, on_hub=bool(repo_id)))
    return "\n\n".join(sections) + "\n"


def _recovery(tries: list[dict] | None) -> str:
    """The out-of-memory tries that led to the hyperparameters above, if any."""
    if not tries:
        return ""
    lines = [f"- {item['what']} ran out; then: {item['change']}." for item in tries]
    return "\n\nThese are the settings that worked: the run ran out of memory and went on with lighter ones.\n\n" + "\n".join(lines)


def write_model_card(folder: Path, **fields: Any) -> Path:
    """Write ``folder/README.md`` (atomically): Hugging Face front matter, what the model is, how to load it.

    ``fields`` are render_model_card's keyword arguments. Raises OSError when the folder cannot be written.
    """
    folder = Path(folder)
    return write_text_atomic(folder / "README.md", render_model_card(folder, **fields))


def hyperparameters_of(config: dict) -> dict:
    """The config's training settings, without what the card says elsewhere (model, data, task, ...)."""
    return {k: v for k, v in (config or {}).items() if k not in NOT_HYPERPARAMETERS}


def card_fields(metadata: dict) -> dict:
    """render_model_card's keyword arguments from a model's modelforge.json metadata."""
    config = metadata.get("config") or {}
    return {
        "name": metadata.get("name") or config.get("output_name") or "model",
        "base_model": metadata.get("base_model") or config.get("model_name") or "",
        "task": metadata.get("task") or config.get("task") or "text-generation",
        "strategy": metadata.get("strategy") or config.get("strategy") or "sft",
        "provider": metadata.get("provider") or config.get("provider") or "huggingface",
        "dataset": config.get("dataset") or "",
        "hyperparameters": hyperparameters_of(config),
        "metrics": metadata.get("metrics") or {},
        "finetuning_type": metadata.get("finetuning_type") or config.get("finetuning_type") or "lora",
        "oom_recovery": metadata.get("oom_recovery"),
    }


def write_card_from_metadata(folder: Path, metadata: dict | None = None, *, model_path: str | Path | None = None) -> Path:
    """(Re)write ``folder/README.md`` from ``metadata`` (default: the folder's modelforge.json).

    Raises ModelAccessError when the metadata cannot be read, OSError when the card cannot be written.
    """
    folder = Path(folder)
    metadata = read_model_metadata(folder) if metadata is None else metadata
    return write_model_card(folder, **card_fields(metadata), model_path=model_path)


def write_model_metadata(folder: Path, metadata: dict) -> Path:
    """Write ``folder/modelforge.json`` (pretty JSON) atomically; raises OSError when it cannot."""
    text = json.dumps(metadata, indent=2, ensure_ascii=False, default=str) + "\n"
    return write_text_atomic(Path(folder) / METADATA_FILE, text)


def read_model_metadata(folder: Path) -> dict:
    """Read ``folder/modelforge.json``; ModelAccessError when it is missing or not a JSON object."""
    path = Path(folder) / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelAccessError(f"{path} does not exist.", "Is this a folder saved by ModelForge?") from exc
    except (OSError, ValueError) as exc:
        raise ModelAccessError(f"Cannot read {path}: {exc}", "Save the model again or fix the file.") from exc
    if not isinstance(data, dict):
        raise ModelAccessError(f"{path} does not hold a JSON object.", "Save the model again or fix the file.")
    return data
