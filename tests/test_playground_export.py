"""Chat with a fine-tuned model next to its base, stop at once, export merged, zip, Hub offline."""

from __future__ import annotations

import threading
import time
import zipfile

import pytest

from modelforge_core.data.demo_task import make_demo_task_rows
from modelforge_core.data.formatting import build_prompt
from modelforge_core.exceptions import ConfigurationError, ModelAccessError

from jobs_helpers import run_to_end


def _register_copy(models, settings, demo_model: str, name: str) -> dict:
    """The demo model copied into models/<name> and registered (a stand-in for a trained model)."""
    import shutil

    folder = settings.models_dir / name
    shutil.copytree(demo_model, folder)
    return models.register_model(name=name, base_model=demo_model, task="text-generation", strategy="sft",
                                 provider="huggingface", path=folder, config={}, metrics={})


@pytest.fixture
def tuned(services, make_config):
    """A LoRA fine-tune of the demo model on the demo task (registered)."""
    from modelforge_core.demo import DEMO_TRAINING

    training, models, _ = services
    job = training.submit(make_config(**{**DEMO_TRAINING, "eval_split": 0.1, "save_steps": 1000}))
    run_to_end(training, job["id"])
    return models, models.get_model(training.get_job(job["id"])["model_id"])


@pytest.mark.slow
def test_streamed_chat_side_by_side_stop_and_exports(tuned, tmp_path, monkeypatch):
    from modelforge_core.services.export_service import ExportService
    from modelforge_core.services.playground_service import GenerationSettings, PlaygroundService

    models, record = tuned
    playground = PlaygroundService(models)
    row = make_demo_task_rows(1, seed=99)[0]
    question = build_prompt(row["instruction"], row["input"], chat=True)
    greedy = GenerationSettings(temperature=0.0, max_new_tokens=8, repetition_penalty=1.0)
    chunks = list(playground.stream_chat(record["id"], question, greedy))
    assert chunks and chunks[-1] == row["output"], chunks
    base_answer = list(playground.stream_chat(record["id"], question, greedy, base=True))[-1]
    assert base_answer != row["output"], "the base (adapter disabled) has not learned the task"
    assert playground.load(record["id"]) is playground.load(record["name"]), "loaded once, reused"

    stop = threading.Event()
    started = time.monotonic()
    stream = playground.stream_chat(record["id"], question, GenerationSettings(max_new_tokens=1000, temperature=1.0), base=True, stop=stop)
    next(stream)
    stop.set()
    list(stream)
    assert time.monotonic() - started < 10
    with pytest.raises(ConfigurationError, match="between 1 and 1024"):
        list(playground.stream_chat(record["id"], question, GenerationSettings(max_new_tokens=5000)))

    exports = ExportService(models)
    merged = exports.export_merged(record["id"], tmp_path / "merged")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plain = AutoModelForCausalLM.from_pretrained(merged)
    tokenizer = AutoTokenizer.from_pretrained(merged)
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    inputs = tokenizer.apply_chat_template(question, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = plain.generate(**inputs, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    merged_answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert merged_answer == chunks[-1], "plain transformers on the merged folder = the adapter on top of the base"
    with pytest.raises(ConfigurationError, match="not empty"):
        exports.export_merged(record["id"], tmp_path / "merged")
    from modelforge_core.services import export_service

    with monkeypatch.context() as patched:
        patched.setattr(export_service, "free_bytes", lambda _folder: 1024**2)
        with pytest.raises(ConfigurationError, match=r"Not enough disk space to export: the merged weights need about \d+ MB"):
            exports.export_merged(record["id"], tmp_path / "tight")
    assert not (tmp_path / "tight").exists() and not (tmp_path / "tight.partial").exists(), "nothing is half-written"

    archive = exports.zip_adapter(record["id"], tmp_path / "adapter.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert any(n.endswith("adapter_model.safetensors") for n in names) and any(n.endswith("README.md") for n in names)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelAccessError, match="offline"):
        exports.push_to_hub(record["id"], "someone/model", token="hf_secret_token")
    assert time.monotonic() - started < 2


def test_a_model_whose_files_are_gone_is_a_clear_error(services, settings, demo_model, tmp_path):
    import shutil

    from modelforge_core.services.playground_service import PlaygroundService

    _, models, _ = services
    record = _register_copy(models, settings, demo_model, "gone")
    folder = settings.models_dir / "gone"
    shutil.rmtree(folder)
    with pytest.raises(ModelAccessError, match="are gone"):
        list(PlaygroundService(models).stream_chat(record["id"], [{"role": "user", "content": "hi"}]))


def test_the_hub_token_is_never_stored_and_the_pushed_card_loads_the_repo(services, settings, demo_model, monkeypatch, caplog):
    import logging
    import shutil

    import modelforge_core.services.export_service as export_module
    from modelforge_core.model_card import write_model_metadata
    from modelforge_core.services.export_service import ExportService

    _, models, _ = services
    folder = settings.models_dir / "to-push"
    shutil.copytree(demo_model, folder)
    write_model_metadata(folder, {"name": "to-push", "base_model": demo_model, "task": "text-generation",
                                  "strategy": "sft", "provider": "huggingface", "finetuning_type": "full",
                                  "config": {"model_name": demo_model, "dataset": "/data/train.jsonl"}, "metrics": {}})
    (folder / "training_args.bin").write_bytes(b"pickled")
    record = models.register_model(name="to-push", base_model=demo_model, task="text-generation", strategy="sft",
                                   provider="huggingface", path=folder, config={}, metrics={})
    assert f'model_path = "{folder}"' in (folder / "README.md").read_text(), "the local card loads the local folder"
    calls = []

    class FakeHub:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, private, exist_ok):
            calls.append(("create", repo_id, private))
            return f"https://huggingface.co/{repo_id}"

        def create_commit(self, repo_id, operations, commit_message):
            calls.append(("commit", repo_id, {op.path_in_repo: op.path_or_fileobj for op in operations}))

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.setattr(export_module, "is_offline", lambda: False)
    secret = "hf_TOPSECRETtoken1234567890"
    caplog.set_level(logging.DEBUG)
    url = ExportService(models).push_to_hub(record["id"], "me/to-push", token=secret, private=True)
    assert url.endswith("me/to-push")
    assert ("init", secret) in calls and ("create", "me/to-push", True) in calls
    kind, repo_id, files = calls[-1]
    assert (kind, repo_id) == ("commit", "me/to-push")
    expected = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"training_args.bin"}
    assert set(files) == expected and "README.md" in files and "config.json" in files
    pushed_card = files["README.md"].decode("utf-8")
    assert 'model_path = "me/to-push"' in pushed_card and "# to-push" in pushed_card
    assert str(settings.home) not in pushed_card and str(folder) not in pushed_card, "no local path is published"
    assert f'model_path = "{folder}"' in (folder / "README.md").read_text(), "the local card is unchanged"
    database = settings.home / "database" / "modelforge.sqlite"
    stored = b"".join(p.read_bytes() for p in database.parent.glob("*") if p.is_file())
    assert secret.encode() not in stored, "the token is not in the database"
    assert all(secret.encode() not in p.read_bytes() for p in folder.rglob("*") if p.is_file()), "nor in the model folder"
    assert secret not in caplog.text, "nor in the logs"


def test_gpu_busy_with_training_says_so_and_offers_the_cpu(services, settings, demo_model, monkeypatch):

    import modelforge_core.services.playground_service as playground_module
    from modelforge_core.exceptions import HardwareError
    from modelforge_core.services.playground_service import PlaygroundService

    _, models, _ = services
    record = _register_copy(models, settings, demo_model, "busy")
    monkeypatch.setattr(playground_module, "pick_device", lambda prefer_cpu=False: "cpu" if prefer_cpu else "cuda")
    playground = PlaygroundService(models, gpu_busy=lambda: True)
    with pytest.raises(HardwareError, match="GPU is busy") as info:
        playground.load(record["id"])
    assert "CPU" in info.value.hint
    assert playground.load(record["id"], prefer_cpu=True).device == "cpu"


def test_out_of_memory_while_loading_is_a_hardware_error(services, settings, demo_model, monkeypatch):

    import torch
    import transformers

    from modelforge_core.exceptions import HardwareError
    from modelforge_core.services.playground_service import PlaygroundService

    _, models, _ = services
    record = _register_copy(models, settings, demo_model, "oom")

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", out_of_memory)
    with pytest.raises(HardwareError, match="Out of memory"):
        PlaygroundService(models).load(record["id"])
