"""Model card (README.md front matter, tables, usage) and modelforge.json metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelforge_core.exceptions import ModelAccessError
from modelforge_core.model_card import (
    read_model_metadata,
    render_model_card,
    write_card_from_metadata,
    write_model_card,
    write_model_metadata,
    yaml_str,
)

from jobs_helpers import run_to_end

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


def test_a_causal_card_says_how_to_serve_it_and_a_seq2seq_card_does_not(tmp_path):
    _, text = card(tmp_path / "lora", name="My Tiny")
    serve = text.split("## Serve it", 1)[1]
    where = (tmp_path / "lora").resolve()
    assert f"vllm serve sshleifer/tiny-gpt2 --enable-lora --lora-modules my-tiny={where}" in serve
    assert 'python -m modelforge_core models export "My Tiny" --format gguf --type q8_0 --ollama' in serve
    assert "parity report" in serve
    _, full = card(tmp_path / "full", finetuning_type="full")
    assert f"vllm serve {(tmp_path / 'full').resolve()}" in full.split("## Serve it", 1)[1]
    folder = tmp_path / "sum"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"task_type": "SEQ_2_SEQ_LM"}))
    assert "## Serve it" not in card(folder, task="summarization")[1]


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
    usage = text.split("## How to use")[1]
    assert f'model_path = "{(tmp_path / "out").resolve()}"' in usage, "the snippet loads this very folder"
    assert str(tmp_path) not in text.replace(str((tmp_path / "out").resolve()), ""), "base and data by name only"


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


def python_snippet(card_text: str) -> str:
    """The card's "How to use" python code block, as written."""
    usage = card_text.split("## How to use", 1)[1]
    return usage.split("```python\n", 1)[1].split("```", 1)[0]


def test_a_staging_folder_card_names_the_final_folder(tmp_path):
    staging = tmp_path / "models" / "abc123.partial"
    _, text = card(staging, model_path=tmp_path / "models" / "abc123")
    code = python_snippet(text)
    assert f'model_path = "{(tmp_path / "models" / "abc123").resolve()}"' in code
    assert ".partial" not in text
    assert "once it is pushed to the Hub, use its repo id" in code


def test_the_card_for_the_hub_loads_the_repo_id_and_names_no_local_path(tmp_path):
    folder = tmp_path / "models" / "abc123"
    local_model = tmp_path / "demo-causal"
    local_model.mkdir()
    text = render_model_card(folder, name="tiny-sft", base_model=str(local_model), task="text-generation",
                             strategy="sft", provider="huggingface", dataset=str(tmp_path / "train.jsonl"),
                             hyperparameters={"lora_r": 8}, metrics={}, repo_id="me/tiny-sft")
    assert 'model_path = "me/tiny-sft"' in python_snippet(text)
    assert str(tmp_path) not in text, "no local path in a published card"


def test_the_card_is_rewritten_from_the_metadata(tmp_path):
    folder = tmp_path / "model"
    metadata = {"name": "renamed", "base_model": "org/base", "task": "text-generation", "strategy": "sft",
                "provider": "huggingface", "finetuning_type": "lora",
                "config": {"model_name": "org/base", "dataset": "tatsu-lab/alpaca", "lora_r": 8, "output_name": "x"},
                "metrics": {"eval_loss": 1.25}}
    write_model_metadata(folder, metadata)
    text = write_card_from_metadata(folder).read_text(encoding="utf-8")
    assert "# renamed" in text and "| lora_r | 8 |" in text and "| eval_loss | 1.25 |" in text
    assert "output_name" not in text and "tatsu-lab/alpaca" in text
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "modelforge.json"]


@pytest.mark.slow
def test_two_models_from_one_base_have_their_own_cards_whose_snippet_runs(services, settings, make_config, tmp_path):
    """The second model gets the name "<base>-sft-2": its card says so and loads its final folder."""
    import os
    import subprocess
    import sys

    training, models, _ = services
    config = make_config(max_steps=2, logging_steps=1, save_steps=1000, eval_split=0.2)
    job_ids = [training.submit(config)["id"] for _ in range(2)]
    for job_id in job_ids:
        run_to_end(training, job_id, timeout=600)
    first, second = (models.get_model(training.get_job(job_id)["model_id"]) for job_id in job_ids)
    assert second["name"] == first["name"] + "-2"

    readme = Path(second["path"]) / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert f"# {second['name']}\n" in text and f"# {first['name']}\n" not in text
    code = python_snippet(text)
    assert f'model_path = "{second["path"]}"' in code and ".partial" not in text
    assert Path(second["path"]) == (settings.models_dir / job_ids[1]).resolve()
    assert read_model_metadata(second["path"])["name"] == second["name"]

    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip(), "the snippet generates text"

    renamed = models.rename_model(second["id"], "digits-v2")
    text = readme.read_text(encoding="utf-8")
    assert "# digits-v2\n" in text and f"# {second['name']}\n" not in text
    assert read_model_metadata(renamed["path"])["name"] == "digits-v2"
