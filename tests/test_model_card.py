"""Model card (README.md front matter, tables, usage) and modelforge.json metadata."""

from __future__ import annotations

import json

import pytest

from modelforge_core.exceptions import ModelAccessError
from modelforge_core.model_card import (
    read_model_metadata,
    write_model_card,
    write_model_metadata,
    yaml_str,
)

try:
    import yaml
except ImportError:  # pragma: no cover - the simple parser below covers the card's structure
    yaml = None


def parse_front_matter(text: str) -> dict:
    """Parse the card's YAML: ``key: scalar`` and ``key:`` followed by ``- item`` lines."""
    assert text.startswith("---\n")
    block = text.split("---\n", 2)[1]
    if yaml is not None:
        return yaml.safe_load(block)
    data: dict = {}
    key = None
    for line in block.splitlines():
        if line.startswith("- "):
            data[key].append(json.loads(line[2:]))
        else:
            key, _, value = line.partition(": ")
            key = key.rstrip(":")
            data[key] = json.loads(value) if value.startswith('"') else (value or [])
    return data


def card(folder, **overrides):
    fields = {
        "name": "tiny-sft", "base_model": "sshleifer/tiny-gpt2", "task": "text-generation", "strategy": "sft",
        "provider": "huggingface", "dataset": "tatsu-lab/alpaca",
        "hyperparameters": {"learning_rate": 0.0002, "lora_r": 16, "target_modules": ["q_proj", "v_proj"]},
        "metrics": {"eval_loss": 1.25, "perplexity": 3.49},
    }
    path = write_model_card(folder, **{**fields, **overrides})
    return path, path.read_text(encoding="utf-8")


def test_lora_card_front_matter(tmp_path):
    path, text = card(tmp_path / "model")
    assert path == tmp_path / "model" / "README.md"
    meta = parse_front_matter(text)
    assert meta["base_model"] == "sshleifer/tiny-gpt2"
    assert meta["library_name"] == "peft"
    assert meta["pipeline_tag"] == "text-generation"
    assert meta["tags"] == ["modelforge", "sft", "lora", "trl"]
    assert meta["datasets"] == ["tatsu-lab/alpaca"]
    assert "model-index" not in meta


def test_card_sections_and_tables(tmp_path):
    _, text = card(tmp_path, hyperparameters={"learning_rate": 0.0002, "note": "a|b"}, metrics={"eval_loss": 1.25})
    for heading in ("# tiny-sft", "## Training data", "## Training strategy", "## Hyperparameters",
                    "## Final metrics", "## How to use"):
        assert heading in text
    assert "| learning_rate | 0.0002 |" in text
    assert "| note | a\\|b |" in text
    assert "| eval_loss | 1.25 |" in text
    assert "AutoPeftModelForCausalLM.from_pretrained" in text
    assert "tatsu-lab/alpaca" in text and "huggingface" in text


def test_full_finetune_with_local_model_and_dataset(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"input": "a", "output": "b"}\n')
    local_model = tmp_path / "demo-causal"
    local_model.mkdir()
    _, text = card(tmp_path / "out", base_model=str(local_model), dataset=str(data), finetuning_type="full",
                   strategy="sft", metrics={})
    meta = parse_front_matter(text)
    assert "base_model" not in meta and "datasets" not in meta
    assert meta["library_name"] == "transformers"
    assert meta["tags"] == ["modelforge", "sft", "full", "trl"]
    assert "AutoModelForCausalLM.from_pretrained" in text and "peft" not in text.split("## How to use")[1]
    assert "No metrics were recorded." in text
    assert str(tmp_path) not in text  # no local paths leak into a card that may be published


def test_summarization_uses_saved_adapter_task_type(tmp_path):
    folder = tmp_path / "sum"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"task_type": "SEQ_2_SEQ_LM"}))
    _, text = card(folder, task="summarization", strategy="qlora")
    meta = parse_front_matter(text)
    assert meta["pipeline_tag"] == "summarization" and meta["tags"][1] == "qlora"
    assert "AutoPeftModelForSeq2SeqLM" in text


def test_yaml_quoting_round_trips():
    for value in ['plain', 'a: b # c', 'quote " and \\ back', "new\nline", "tab\tand \u2028 sep", "é 😀", "- dash"]:
        quoted = yaml_str(value)
        assert "\n" not in quoted
        assert json.loads(quoted) == value
        if yaml is not None:
            assert yaml.safe_load(f"key: {quoted}")["key"] == value


def test_odd_strategy_name_is_quoted(tmp_path):
    _, text = card(tmp_path, strategy='my: "odd"')
    assert parse_front_matter(text)["tags"][1] == 'my: "odd"'


def test_metadata_round_trip(tmp_path):
    folder = tmp_path / "model"
    metadata = {"name": "tiny-sft", "config": {"lora_r": 8}, "metrics": {"eval_loss": 1.2}, "path": tmp_path}
    path = write_model_metadata(folder, metadata)
    assert path == folder / "modelforge.json"
    assert path.read_text().startswith("{\n  ")
    assert read_model_metadata(folder) == {**metadata, "path": str(tmp_path)}
    write_model_metadata(folder, {"name": "second"})
    assert read_model_metadata(folder) == {"name": "second"}
    assert [p.name for p in folder.iterdir()] == ["modelforge.json"]  # no temporary files left


def test_read_metadata_errors(tmp_path):
    with pytest.raises(ModelAccessError, match="does not exist"):
        read_model_metadata(tmp_path)
    (tmp_path / "modelforge.json").write_text("{broken")
    with pytest.raises(ModelAccessError, match="Cannot read"):
        read_model_metadata(tmp_path)
    (tmp_path / "modelforge.json").write_text("[1, 2]")
    with pytest.raises(ModelAccessError, match="JSON object"):
        read_model_metadata(tmp_path)
