"""ModelService: registering, finding, renaming and deleting models, never touching files outside home."""

from __future__ import annotations

import shutil

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


@pytest.fixture
def db(tmp_path):
    manager = DatabaseManager(f"sqlite:///{tmp_path / 'registry.sqlite'}")
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
    assert not folder.exists() and settings.models_dir.is_dir()
    with pytest.raises(NotFoundError):
        service.get_model(model["id"])


def test_delete_outside_home_keeps_files(service, tmp_path):
    folder = make_folder(tmp_path / "elsewhere" / "model")
    model = register(service, folder)
    result = service.delete_model(model["id"])
    assert result["files_deleted"] is False and "outside" in result["message"]
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


def test_delete_keeps_row_when_files_cannot_be_removed(service, settings, monkeypatch):
    folder = make_folder(settings.models_dir / "stuck")
    model = register(service, folder)

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(ModelAccessError, match="Could not delete"):
        service.delete_model(model["id"])
    assert service.get_model(model["id"])["id"] == model["id"] and folder.exists()
