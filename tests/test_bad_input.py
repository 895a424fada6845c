"""Every bad input gets the right exception, words that say what is wrong, and leaves nothing behind."""

from __future__ import annotations

import json
import time

import pytest

from modelforge_core.exceptions import (
    ConfigurationError,
    DatasetValidationError,
    ModelAccessError,
    ProviderError,
)


def _rows(n: int) -> list[dict]:
    return [{"instruction": f"Say {i}", "input": "", "output": f"number {i}"} for i in range(n)]


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _assert_nothing_written(settings, db):
    assert db.list_jobs() == []
    assert db.list_models() == []
    assert [p for p in settings.runs_dir.iterdir() if not p.name.startswith(".")] == []


def _submit_fails(services, settings, config, exc_type, *words):
    training, _, db = services
    started = time.monotonic()
    with pytest.raises(exc_type) as info:
        training.submit(config)
    message = str(info.value).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in {message!r}"
    assert info.value.hint, "every user error carries a hint"
    _assert_nothing_written(settings, db)
    return time.monotonic() - started


def test_missing_dataset_file(services, settings, make_config, tmp_path):
    _submit_fails(services, settings, make_config(dataset=str(tmp_path / "nope.jsonl")), DatasetValidationError, "not found", "nope.jsonl")


def test_malformed_json_line_names_its_row(services, settings, make_config, tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in _rows(20)]
    lines[6] = '{"instruction": "oops", "output": '
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _submit_fails(services, settings, make_config(dataset=str(path)), DatasetValidationError, "line 7", "json")


def test_file_that_is_not_utf8(services, settings, make_config, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(("".join(json.dumps(r) + "\n" for r in _rows(12))).encode() + '{"instruction": "caf\xe9", "output": "x"}\n'.encode("latin-1"))
    _submit_fails(services, settings, make_config(dataset=str(path)), DatasetValidationError, "utf-8", "line 13")


def test_missing_required_fields(services, settings, make_config, tmp_path):
    path = _jsonl(tmp_path / "fields.jsonl", [{"question": "q", "reply": "a"}] * 20)
    _submit_fails(services, settings, make_config(dataset=path), DatasetValidationError, "question", "column_mapping")


def test_fewer_rows_than_the_minimum(services, settings, make_config, tmp_path):
    path = _jsonl(tmp_path / "small.jsonl", _rows(3))
    _submit_fails(services, settings, make_config(dataset=path), DatasetValidationError, "3 row", "at least 10")


def test_empty_values_name_the_row_and_field(services, settings, make_config, tmp_path):
    rows = _rows(20)
    rows[4]["output"] = "   "
    path = _jsonl(tmp_path / "empty.jsonl", rows)
    _submit_fails(services, settings, make_config(dataset=path), DatasetValidationError, "row 5", "output")


@pytest.mark.parametrize(
    "field,value,exc_type,words",
    [
        ("provider", "magic", ProviderError, ["unknown provider", "huggingface", "unsloth"]),
        ("strategy", "ppo-ish", ConfigurationError, ["unknown strategy", "sft", "qlora"]),
        ("task", "translation", ConfigurationError, ["unknown task", "text-generation"]),
        ("learning_rate", 0, ConfigurationError, ["learning_rate", "positive"]),
        ("num_train_epochs", -1, ConfigurationError, ["num_train_epochs", "positive"]),
        ("per_device_train_batch_size", 0, ConfigurationError, ["per_device_train_batch_size", "positive"]),
        ("lora_r", 0, ConfigurationError, ["lora_r", "positive"]),
        ("eval_split", 1.0, ConfigurationError, ["eval_split", "[0, 1)"]),
        ("eval_split", -0.1, ConfigurationError, ["eval_split"]),
        ("lerning_rate", 1e-4, ConfigurationError, ["lerning_rate", "unknown field"]),
    ],
)
def test_bad_config_values(services, settings, make_config, field, value, exc_type, words):
    _submit_fails(services, settings, make_config(**{field: value}), exc_type, *words)


def test_unknown_hub_model_offline_fails_in_seconds(services, settings, make_config, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    took = _submit_fails(services, settings, make_config(model_name="no-such-org/no-such-model-xyz"), ModelAccessError, "offline", "no-such-org/no-such-model-xyz")
    assert took < 5


def test_missing_local_model_folder(services, settings, make_config, tmp_path):
    _submit_fails(services, settings, make_config(model_name=str(tmp_path / "gone" / "model")), ModelAccessError, "not found")


def test_model_that_cannot_serve_the_task(services, settings, make_config, tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForQuestionAnswering"]}))
    _submit_fails(services, settings, make_config(model_name=str(folder)), ModelAccessError, "cannot serve", "causal")


def test_unsloth_where_it_is_not_installed(services, settings, make_config):
    pytest.importorskip("torch")
    from modelforge_core.packages import is_unsloth_available

    if is_unsloth_available():
        pytest.skip("unsloth is installed here")
    _submit_fails(services, settings, make_config(provider="unsloth"), ProviderError, "unsloth", "not installed")


def test_preference_data_for_sft_is_refused_with_the_right_strategy_named(services, settings, make_config, samples):
    _submit_fails(services, settings, make_config(dataset=samples["dpo"]), DatasetValidationError, "preference")


def test_seed_example_config_is_accepted_as_it_is():
    from modelforge_core.schemas import parse_training_config

    seed = {
        "task": "text-generation",
        "model_name": "meta-llama/Llama-2-7b-hf",
        "provider": "unsloth",
        "strategy": "qlora",
        "dataset": "/path/to/dataset.jsonl",
        "compute_specs": "low_end",
        "eval_split": 0.2,
        "num_train_epochs": 3,
        "lora_r": 64,
        "lora_alpha": 16,
        "use_4bit": True,
        "bf16": True,
    }
    config = parse_training_config(seed)
    assert config.strategy == "qlora" and config.use_4bit and config.lora_r == 64
    # compute_specs fills what the config leaves out, with the low_end profile's defaults
    assert (config.per_device_train_batch_size, config.gradient_accumulation_steps, config.max_seq_length) == (1, 8, 1024)
    assert config.gradient_checkpointing is True
    explicit = parse_training_config({**seed, "batch_size": 6, "gradient_checkpointing": False})
    assert explicit.per_device_train_batch_size == 6 and explicit.gradient_checkpointing is False, "given values win"


def test_an_uploaded_file_is_named_by_its_name_in_every_message(settings, tmp_path):
    from modelforge_core.services.dataset_service import DatasetService

    upload = tmp_path / "my data.jsonl"
    upload.write_text('{"instruction": "a", "output": "b"}\n{not json}\n', encoding="utf-8")
    service = DatasetService(settings)
    stored = service.store_upload(upload)
    assert stored != str(upload) and "uploads" in stored
    preview = service.preview(stored, "text-generation")
    assert not preview.ok and "my data.jsonl, line 2" in preview.message, preview.message
    assert "uploads" not in preview.message and stored not in preview.message
    assert service.named(f"{stored}: row 3 is empty", stored) == "my data.jsonl: row 3 is empty"
    assert service.display_name("/some/where/data.csv") == "/some/where/data.csv", "a path the user gave stays as given"
