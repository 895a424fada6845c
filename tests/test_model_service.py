"""ModelService: registering, finding, renaming and deleting models, never touching files outside home; the
registry rebuilt from the model folders (``models rescan``). On SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelforge_core.database import DatabaseManager
from modelforge_core.exceptions import (
    ConfigurationError,
    ModelAccessError,
    NotFoundError,
)
from modelforge_core.services.model_service import ModelService
from modelforge_core.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(home=(tmp_path / "home").resolve()).ensure_dirs()


pytestmark = pytest.mark.both_databases  # the tests that use the registry database run on both backends


@pytest.fixture
def db(database_url):
    manager = DatabaseManager(database_url)
    yield manager
    manager.dispose()


@pytest.fixture
def service(db, settings):
    return ModelService(db, settings)


def make_folder(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_model.safetensors").write_bytes(b"weights")
    return path


def register(service, path, name="tiny-sft", **overrides):
    fields = {"name": name, "base_model": "org/tiny", "task": "text-generation", "strategy": "sft",
              "provider": "huggingface", "path": path, "config": {"lora_r": 8}, "metrics": {"eval_loss": 1.2}}
    return service.register_model(**{**fields, **overrides})


def test_register_and_get(service, settings):
    folder = make_folder(settings.models_dir / "tiny-sft")
    model = register(service, folder, job_id="job123")
    assert model["name"] == "tiny-sft" and model["path"] == str(folder)
    assert model["job_id"] == "job123" and model["metrics"] == {"eval_loss": 1.2}
    assert service.get_model(model["id"]) == model
    assert service.get_model("tiny-sft") == model
    assert service.list_models() == [model]


def test_taken_names_get_a_suffix(service, settings):
    folder = make_folder(settings.models_dir / "m")
    names = [register(service, folder, name="  same ")["name"] for _ in range(3)]
    assert names == ["same", "same-2", "same-3"]
    assert [m["name"] for m in service.list_models()] == ["same-3", "same-2", "same"]


def test_register_requires_an_existing_folder(service, settings):
    with pytest.raises(ModelAccessError, match="does not exist"):
        register(service, settings.models_dir / "never-saved")
    assert service.list_models() == []


def test_register_refuses_an_empty_name(service, settings):
    with pytest.raises(ConfigurationError, match="empty"):
        register(service, make_folder(settings.models_dir / "m"), name="   ")


def test_get_unknown_model_names_it(service):
    with pytest.raises(NotFoundError) as info:
        service.get_model("abc123def456")
    assert "abc123def456" in info.value.message and info.value.hint


def test_rename(service, settings):
    folder = make_folder(settings.models_dir / "m")
    first = register(service, folder, name="first")
    register(service, folder, name="second")
    renamed = service.rename_model("first", "  better ")
    assert renamed["id"] == first["id"] and renamed["name"] == "better"
    assert service.get_model("better")["id"] == first["id"]
    assert service.rename_model(first["id"], "better")["name"] == "better"
    with pytest.raises(ConfigurationError, match="already taken"):
        service.rename_model("better", "second")
    with pytest.raises(ConfigurationError, match="empty"):
        service.rename_model("better", "")
    with pytest.raises(NotFoundError, match="nope"):
        service.rename_model("nope", "x")


def test_delete_inside_home_removes_files_and_row(service, settings):
    folder = make_folder(settings.models_dir / "tiny-sft")
    model = register(service, folder)
    result = service.delete_model("tiny-sft")
    assert result["id"] == model["id"] and result["files_deleted"] is True and result["path"] == str(folder)
    assert result["name"] == "tiny-sft" and result["message"] == "Deleted **tiny-sft** and its files."
    assert not folder.exists() and settings.models_dir.is_dir()
    with pytest.raises(NotFoundError):
        service.get_model(model["id"])


def test_delete_outside_home_keeps_files(service, tmp_path):
    folder = make_folder(tmp_path / "elsewhere" / "model")
    model = register(service, folder)
    result = service.delete_model(model["id"])
    assert result["files_deleted"] is False and "outside" in result["message"]
    assert result["message"].startswith("Deleted **tiny-sft** from the registry and kept its files")
    assert (folder / "adapter_model.safetensors").read_bytes() == b"weights"
    assert service.list_models() == []


def test_delete_never_removes_home_or_its_own_folders(service, settings):
    make_folder(settings.models_dir / "other-model")
    for folder in (settings.home, settings.models_dir, settings.runs_dir):
        model = register(service, folder, name=f"bad-{folder.name}")
        assert service.delete_model(model["id"])["files_deleted"] is False
    assert (settings.models_dir / "other-model" / "adapter_model.safetensors").exists()


def test_delete_symlink_to_outside_keeps_target(service, settings, tmp_path):
    target = make_folder(tmp_path / "outside")
    link = settings.models_dir / "link"
    link.symlink_to(target, target_is_directory=True)
    model = register(service, link)
    result = service.delete_model(model["id"])
    assert result["files_deleted"] is False and (target / "adapter_model.safetensors").exists()


def test_delete_with_missing_folder_is_fine(service, settings):
    folder = make_folder(settings.models_dir / "gone")
    model = register(service, folder)
    shutil.rmtree(folder)
    result = service.delete_model(model["id"])
    assert result["files_deleted"] is False and service.list_models() == []
    assert result["message"] == "Deleted **tiny-sft**; its files were already gone."


def test_delete_keeps_row_when_files_cannot_be_removed(service, settings, monkeypatch):
    folder = make_folder(settings.models_dir / "stuck")
    model = register(service, folder)

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(ModelAccessError, match="Could not delete"):
        service.delete_model(model["id"])
    assert service.get_model(model["id"])["id"] == model["id"] and folder.exists()


def saved_folder(path, name="tiny-sft"):
    """A folder as training saves it: weights, modelforge.json, and a card with the config's name."""
    from modelforge_core.model_card import write_card_from_metadata, write_model_metadata

    make_folder(path)
    metadata = {"name": name, "base_model": "org/tiny", "task": "text-generation", "strategy": "sft",
                "provider": "huggingface", "finetuning_type": "lora",
                "config": {"model_name": "org/tiny", "dataset": "org/data", "lora_r": 8}, "metrics": {"eval_loss": 1.2}}
    write_model_metadata(path, metadata)
    write_card_from_metadata(path)
    return path


def card_title(folder) -> str:
    return next(line for line in (folder / "README.md").read_text().splitlines() if line.startswith("# "))


def test_a_taken_name_is_also_the_name_in_the_card_and_metadata(service, settings):
    import json

    first, second = saved_folder(settings.models_dir / "job1"), saved_folder(settings.models_dir / "job2")
    register(service, first)
    model = register(service, second)
    assert model["name"] == "tiny-sft-2"
    assert card_title(first) == "# tiny-sft" and card_title(second) == "# tiny-sft-2"
    assert json.loads((second / "modelforge.json").read_text())["name"] == "tiny-sft-2"
    assert f'model_path = "{second}"' in (second / "README.md").read_text()


def test_rename_rewrites_the_card_and_metadata(service, settings):
    import json

    folder = saved_folder(settings.models_dir / "job1")
    model = register(service, folder)
    service.rename_model(model["id"], "digits-v2")
    text = (folder / "README.md").read_text()
    assert card_title(folder) == "# digits-v2" and "digits-v2 is a fine-tuned version" in text
    assert "| lora_r | 8 |" in text and "| eval_loss | 1.2 |" in text, "the rest of the card is kept"
    assert json.loads((folder / "modelforge.json").read_text())["name"] == "digits-v2"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "adapter_model.safetensors", "modelforge.json"]


def test_a_folder_not_saved_by_modelforge_gets_no_card(service, tmp_path):
    folder = make_folder(tmp_path / "elsewhere" / "model")
    model = register(service, folder)
    service.rename_model(model["id"], "other")
    assert sorted(p.name for p in folder.iterdir()) == ["adapter_model.safetensors"]


def test_a_card_that_cannot_be_written_does_not_fail_the_rename(service, settings, monkeypatch):
    import modelforge_core.services.model_service as model_service_module

    folder = saved_folder(settings.models_dir / "job1")
    model = register(service, folder)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(model_service_module, "write_card_from_metadata", refuse)
    assert service.rename_model(model["id"], "renamed")["name"] == "renamed"


def test_job_status_names_the_base_model_and_the_registered_model(service, settings):
    from modelforge_core.services.job_status import job_status

    model = register(service, make_folder(settings.models_dir / "job1"))
    job = {"id": "job1", "status": "completed", "config": {"model_name": "/models/demo"}, "model_id": model["id"]}
    status = job_status(job, service)
    assert status["base_model"] == "/models/demo"
    assert (status["model_id"], status["model_name"]) == (model["id"], "tiny-sft")
    service.rename_model(model["id"], "renamed")
    assert job_status(job, service)["model_name"] == "renamed"
    queued = job_status({"id": "job2", "status": "queued", "config": {"model_name": "/models/demo"}}, service)
    assert queued["model_id"] is None and queued["model_name"] is None
    service.delete_model(model["id"])
    assert job_status(job, service)["model_name"] is None, "a deleted model has no name"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # what the tab shows, not how rows are stored
def test_the_models_tab_shows_metrics_as_a_table_and_keeps_its_messages(service, settings, tmp_path):
    """What the Models tab shows: formatted metrics; the latest action messages, newest first, by name."""
    from types import SimpleNamespace

    import gradio as gr

    from ui.models_tab import MAX_MESSAGES, ModelsTab, metrics_markdown

    table = metrics_markdown({"eval_loss": 1.234567890123, "initial_eval_loss": 2.718281828459045, "steps": 20,
                              "total_params": 1234567, "epochs": 1.0})
    assert "| eval\\_loss | 2.718 | 1.235 |" in table and "| steps | – | 20 |" in table
    assert "| total\\_params | – | 1,234,567 |" in table and "| epochs | – | 1 |" in table
    assert "initial" not in table and "1.2345" not in table

    class Exports:
        def export(self, model_id, folder, fmt, gguf_type, ollama, progress):
            return SimpleNamespace(path=tmp_path / "merged", files=[], commands=[], report=None, notes=[])

        @staticmethod
        def result_dict(result):
            return {"path": str(result.path), "files": [], "commands": [], "notes": [], "report": None}

        def zip_adapter(self, model_id, target):
            target.write_bytes(b"zip")
            return target

    model = register(service, make_folder(settings.models_dir / "job1"), name="digits-lora")
    ctx = SimpleNamespace(models=service, exports=Exports(), training=SimpleNamespace(list_jobs=lambda: []))  # Compare lists jobs
    with gr.Blocks():
        tab = ModelsTab(ctx)
    text, history, _ = tab.do_export(model["id"], "merged", "q8_0", False, str(tmp_path / "merged"), [], progress=lambda *a, **k: None)
    archive, text, history = tab.do_zip(model["id"], history)
    assert archive.endswith("digits-lora.zip")
    zipped, exported = history
    assert "Adapter of **digits-lora** zipped" in zipped and "Merged model saved to" in exported
    assert "**digits-lora**" in exported and text.index("Adapter of") < text.index("Merged model saved")
    assert model["id"] not in text and "job1" not in text, "the model by its name, never its id or folder"
    text, history, *_ = tab.do_rename(model["id"], "digits-v2", history)
    assert text.startswith("Renamed **digits-lora** to **digits-v2**.") and "Merged model saved" in text
    for _ in range(MAX_MESSAGES):
        text, history, *_ = tab.do_delete(model["id"], False, history)
    assert len(history) == MAX_MESSAGES and "Tick the confirmation first: deleting **digits-v2**" in text
    text, history, *_ = tab.do_delete(model["id"], True, history)
    assert text.startswith("Deleted **digits-v2** and its files.")


# -- models rescan: the registry rebuilt from the model folders ------------------------------------------------


def test_rescan_registers_the_folders_the_registry_lacks_and_says_why_it_skips_others(service, settings):
    from modelforge_core.services.registry_rescan import rescan_models

    kept = register(service, saved_folder(settings.models_dir / "job0", name="digits"), name="digits")
    saved_folder(settings.models_dir / "job1", name="digits")
    saved_folder(settings.models_dir / "job2", name="summaries")
    saved_folder(settings.models_dir / "copied-here-by-hand-from-another-machine", name="by-hand")
    make_folder(settings.models_dir / "no-metadata")
    (make_folder(settings.models_dir / "broken") / "modelforge.json").write_text("{not json")
    (make_folder(settings.models_dir / "half") / "modelforge.json").write_text('{"name": "half", "task": "qa"}')
    saved_folder(settings.models_dir / "job3.partial", name="cut-short")
    (settings.models_dir / "notes.txt").write_text("a file, not a model folder")

    report = rescan_models(service, settings)
    added = [(m["name"], m["job_id"]) for m in report.added]
    assert added == [("by-hand", None), ("digits-2", "job1"), ("summaries", "job2")], "a job id is at most 32 long"
    assert [m["id"] for m in report.kept] == [kept["id"]]
    reasons = {Path(item["folder"]).name: item["reason"] for item in report.skipped}
    assert sorted(reasons) == ["broken", "half", "job3.partial", "no-metadata"]
    assert reasons["no-metadata"].endswith("no-metadata/modelforge.json does not exist.")
    assert reasons["broken"].startswith("Cannot read ") and "broken/modelforge.json" in reasons["broken"]
    assert reasons["half"].endswith("half/modelforge.json has no base_model, strategy, provider.")
    assert reasons["job3.partial"] == "an unfinished save (the training process stopped while writing it)."

    job1 = service.get_model("digits-2")
    assert job1["path"] == str((settings.models_dir / "job1").resolve()) and job1["metrics"] == {"eval_loss": 1.2}
    assert job1["config"]["lora_r"] == 8 and (job1["base_model"], job1["task"]) == ("org/tiny", "text-generation")
    assert report.summary_lines()[0] == f"Rescanned {settings.models_dir}: 3 added, 1 already registered, 4 skipped."
    assert "  added: digits-2 (from job1)" in report.summary_lines()

    again = rescan_models(service, settings)
    assert again.added == [] and len(again.kept) == 4 and len(again.skipped) == 4, "a second rescan adds nothing"
    assert len(service.list_models()) == 4


def test_rescan_through_the_cli_brings_back_the_rows_of_a_deleted_database(settings, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    database_file = settings.home / "database" / "modelforge.sqlite"
    db = DatabaseManager(f"sqlite:///{database_file}")
    service = ModelService(db, settings)
    for job_id in ("job1", "job2"):
        register(service, saved_folder(settings.models_dir / job_id), name="digits-lora", job_id=job_id)
    db.dispose()
    for path in database_file.parent.glob("modelforge.sqlite*"):
        path.unlink()

    env = {**{k: v for k, v in os.environ.items() if k != "MODELFORGE_DATABASE_URL"}, "MODELFORGE_HOME": str(settings.home)}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "modelforge_core", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert json.loads(cli("models", "list", "--json")) == [], "a new, empty database"
    out = cli("models", "rescan")
    assert out.splitlines()[0] == f"Rescanned {settings.models_dir}: 2 added, 0 already registered, 0 skipped."
    assert "  added: digits-lora (from job1)" in out and "  added: digits-lora-2 (from job2)" in out
    rows = {row["job_id"]: row for row in json.loads(cli("models", "list", "--json"))}
    assert sorted(rows) == ["job1", "job2"] and rows["job1"]["name"] == "digits-lora"
    assert rows["job2"]["path"] == str((settings.models_dir / "job2").resolve())
    report = json.loads(cli("models", "rescan", "--json"))
    assert (report["added"], [m["job_id"] for m in report["kept"]], report["skipped"]) == ([], ["job1", "job2"], [])
