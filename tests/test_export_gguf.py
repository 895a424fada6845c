"""GGUF export of the fine-tuned demo model, read back by transformers' GGUF loader; the Ollama Modelfile; the
parity report, and the broken exports it catches; bad input left with nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelforge_core.data.demo_task import make_demo_task_rows
from modelforge_core.data.formatting import build_prompt
from modelforge_core.exceptions import ConfigurationError, ModelAccessError

from jobs_helpers import run_to_end

HELD_OUT = 24


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, demo_model):
    """(ExportService, registered model) for the demo model fine-tuned on the demo task (trained once per module)."""
    from modelforge_core.data.samples import sample_dataset_paths
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.demo import DEMO_TRAINING
    from modelforge_core.services.export_service import ExportService
    from modelforge_core.services.model_service import ModelService
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.settings import Settings

    samples = sample_dataset_paths()
    home = tmp_path_factory.mktemp("export") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELFORGE_HOME", str(home))
        patch.delenv("MODELFORGE_DATABASE_URL", raising=False)
        settings = Settings(home=home).ensure_dirs()
        db = DatabaseManager(settings.database_url)
        training = TrainingService(db, settings)
        config = {"task": "text-generation", "model_name": demo_model, "strategy": "sft", "dataset": samples["sft"],
                  "eval_split": 0.2, "use_4bit": False, "bf16": False, **DEMO_TRAINING, "save_steps": 1000,
                  "output_name": "digits-lora"}
        job = training.submit(config)
        run_to_end(training, job["id"], timeout=1200)  # a ceiling, not a wait
        job = training.get_job(job["id"])
        training.close()
        assert job["status"] == "completed", job
        models = ModelService(db, settings)
        yield ExportService(models), models.get_model(job["model_id"])
        db.dispose()


def _held_out(samples) -> list[dict]:
    trained = {(r["instruction"], r["input"]) for r in map(json.loads, open(samples["sft"], encoding="utf-8"))}
    return make_demo_task_rows(HELD_OUT, seed=4321, exclude=trained)


def _answers(model, tokenizer, rows: list[dict]) -> list[str]:
    import torch

    answers = []
    for row in rows:
        inputs = tokenizer.apply_chat_template(build_prompt(row["instruction"], row["input"], chat=True),
                                               add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=model.generation_config.eos_token_id)
        answers.append(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers


def _tuned_answers(record, rows):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    folder = record["path"]
    return _answers(AutoPeftModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder), rows)


@pytest.mark.slow
@pytest.mark.parametrize("gguf_type, least_share", [("f16", 1.0), ("q8_0", 0.9), ("q4_0", 0.5)])
def test_a_gguf_export_read_back_by_transformers_answers_as_the_fine_tuned_model(tuned, samples, tmp_path, gguf_type, least_share):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.integrations.gguf import read_gguf_metadata

    exports, record = tuned
    result = exports.export(record["id"], tmp_path / "out", "gguf", gguf_type, ollama=True)
    assert result.report.passed, result.report.to_dict()
    gguf_file = tmp_path / "out" / f"digits-lora-{gguf_type}.gguf"
    assert sorted(result.files) == sorted([gguf_file.name, "Modelfile", "parity_report.json"])
    assert not (tmp_path / "out.partial").exists()

    rows = _held_out(samples)
    tuned_answers = _tuned_answers(record, rows)
    assert sum(a == r["output"] for a, r in zip(tuned_answers, rows)) >= 0.8 * len(rows), "the demo model learned the task"
    read = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(record["path"])
    gguf_answers = _answers(read, tokenizer, rows)
    same = sum(a == b for a, b in zip(gguf_answers, tuned_answers))
    assert same >= least_share * len(rows), (same, gguf_answers, tuned_answers)

    metadata, _ = read_gguf_metadata(str(gguf_file), ("tokenizer.chat_template", "tokenizer.ggml.tokens"))
    tokens = metadata["tokenizer.ggml.tokens"]
    assert metadata["general.architecture"] == "llama" and metadata["general.name"] == "digits-lora"
    assert tokens[metadata["tokenizer.ggml.eos_token_id"]] == "<|end|>" == tokenizer.eos_token
    assert tokens[metadata["tokenizer.ggml.bos_token_id"]] == "<|bos|>" and tokens[metadata["tokenizer.ggml.padding_token_id"]] == "<|pad|>"
    assert metadata["tokenizer.chat_template"] == tokenizer.chat_template

    modelfile = (tmp_path / "out" / "Modelfile").read_text(encoding="utf-8")
    assert f"FROM ./{gguf_file.name}" in modelfile and 'PARAMETER stop "<|end|>"' in modelfile
    assert 'TEMPLATE """{{ range .Messages }}' in modelfile and "<|user|>\n{{ .Content }}<|end|>\n<|assistant|>\n" in modelfile
    saved = json.loads((tmp_path / "out" / "parity_report.json").read_text(encoding="utf-8"))
    assert saved["passed"] and [c["name"] for c in saved["checks"]] == [
        "merged = adapter on base", "GGUF answers = merged", "held-out perplexity", "end token", "chat template", "tokenizer",
        "Modelfile template"]
    assert f"ollama create digits-lora -f {tmp_path / 'out' / 'Modelfile'}" in saved["commands"]
    assert exports.exports_of(record["id"])[-1]["path"] == str(tmp_path / "out"), "kept with the model"


@pytest.mark.slow
def test_the_report_catches_a_gguf_written_without_its_end_token(tuned, tmp_path, monkeypatch):
    from modelforge_core.export import gguf_writer

    exports, record = tuned
    real = gguf_writer.write_vocab

    def without_eos(writer, vocab):
        vocab.eos_id = None
        real(writer, vocab)

    monkeypatch.setattr(gguf_writer, "write_vocab", without_eos)
    report = exports.export(record["id"], tmp_path / "broken", "gguf", "f16").report
    assert not report.passed
    end = next(c for c in report.checks if c.name == "end token")
    assert not end.passed and "has no end token" in end.detail and "'<|end|>' (token 2)" in end.detail, end
    answers = next(c for c in report.checks if c.name == "GGUF answers = merged")
    assert not answers.passed, "with no end token the answers run on past the merged model's"
    assert "2 of 6 checks FAILED (GGUF answers = merged, end token)" in report.summary()


@pytest.mark.slow
def test_the_report_catches_a_merged_model_from_the_wrong_base(tuned, tmp_path, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from modelforge_core.demo.models import build_causal_lm
    from modelforge_core.export import checked

    exports, record = tuned
    other_base = build_causal_lm(tmp_path / "other-base", seed=1)  # same shape, other weights

    def merged_on_the_wrong_base(loaded):
        return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(other_base), record["path"]).merge_and_unload()

    monkeypatch.setattr(checked, "merge_adapter", merged_on_the_wrong_base)
    report = exports.export(record["id"], tmp_path / "merged", "merged").report
    merge = report.checks[0]
    assert merge.name == "merged = adapter on base" and not merge.passed, merge
    assert merge.figures["same_answers"] < merge.figures["answers"] and merge.figures["max_logit_difference"] > 1, merge
    assert "(every answer must be)" in merge.detail


@pytest.mark.slow
def test_merged_and_adapter_exports_carry_their_reports_and_vllm_commands(tuned, tmp_path):
    exports, record = tuned
    merged = exports.export(record["id"], tmp_path / "merged", "merged")
    assert merged.report.passed and [c.name for c in merged.report.checks] == ["merged = adapter on base", "saved = merged"]
    assert merged.commands == [f"vllm serve {tmp_path / 'merged'}"] and "model.safetensors" in merged.files
    adapter = exports.export(record["id"], tmp_path / "adapter", "adapter")
    assert adapter.report.passed and {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= set(adapter.files)
    assert "exports.json" not in adapter.files and "training_args.bin" not in adapter.files
    assert adapter.commands == [f"vllm serve {record['base_model']} --enable-lora --lora-modules digits-lora={tmp_path / 'adapter'}"]


@pytest.mark.slow
def test_bad_exports_are_refused_in_words_and_leave_nothing_half_written(tuned, tmp_path, monkeypatch):
    from modelforge_core.services import export_service

    exports, record = tuned
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="is not empty"):
        exports.export(record["id"], tmp_path / "full", "gguf", "q8_0")
    with pytest.raises(ConfigurationError, match=r"'q5_k' is not a GGUF type ModelForge writes.*f16, bf16, q8_0, q4_0"):
        exports.export(record["id"], tmp_path / "x", "gguf", "q5_k")
    with pytest.raises(ConfigurationError, match="'onnx' is not an export format"):
        exports.export(record["id"], tmp_path / "x", "onnx")
    with monkeypatch.context() as patched:
        patched.setattr(export_service, "free_bytes", lambda _folder: 1024)
        with pytest.raises(ConfigurationError, match=r"Not enough disk space to export: the GGUF file need about [\d.]+ MB"):
            exports.export(record["id"], tmp_path / "tight", "gguf", "q8_0")
    assert not (tmp_path / "tight").exists() and not (tmp_path / "tight.partial").exists()
    assert not (tmp_path / "x").exists()

    from modelforge_core.export import gguf_writer

    def disk_fails(*args, **kwargs):
        raise OSError("No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(gguf_writer, "_converted", disk_fails)  # the file is open, its header written
        with pytest.raises(Exception, match="disk"):
            exports.export(record["id"], tmp_path / "failed", "gguf", "q8_0")
    assert not (tmp_path / "failed").exists() and not (tmp_path / "failed.partial").exists(), "nothing is half-written"


@pytest.mark.slow
def test_a_model_whose_base_is_gone_is_refused_before_writing(tuned, tmp_path):
    exports, record = tuned
    base = Path(shutil.copytree(record["base_model"], tmp_path / "base"))
    folder = Path(shutil.copytree(record["path"], Path(record["path"]).parent / "orphan"))
    orphan = exports.models.register_model(name="orphan", base_model=str(base), task="text-generation", strategy="sft",
                                           provider="huggingface", path=folder, config=record["config"], metrics={})
    shutil.rmtree(base)
    with pytest.raises(ModelAccessError):
        exports.export(orphan["id"], tmp_path / "out", "gguf", "q8_0")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.slow
def test_a_model_whose_training_data_is_gone_is_checked_on_plain_prompts_and_says_so(tuned, tmp_path):
    exports, record = tuned
    folder = Path(shutil.copytree(record["path"], Path(record["path"]).parent / "no-data"))
    config = {**record["config"], "dataset": str(tmp_path / "gone.jsonl")}
    moved = exports.models.register_model(name="no-data", base_model=record["base_model"], task="text-generation",
                                          strategy="sft", provider="huggingface", path=folder, config=config, metrics={})
    report = exports.export(moved["id"], tmp_path / "out", "gguf", "f16").report
    assert report.prompts == 4 and report.notes[0].startswith("Prompts: 4 plain prompts: the training data could not be read")
    assert "No perplexity check: the prompts have no reference answers." in report.notes
    assert "held-out perplexity" not in [c.name for c in report.checks] and report.passed, report.to_dict()
