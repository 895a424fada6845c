"""A shared app (reachable by others) reads datasets and model folders only from its roots and writes
exports only under the data folder; locally every path works; zips hold plain names; uploads have a limit."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import httpx
import pytest

from modelforge_core.exceptions import ConfigurationError, DatasetValidationError
from modelforge_core.services.path_access import PathNotAllowedError, PathPolicy
from modelforge_core.settings import MEGABYTE, Settings

from app_server import AppServer

ROWS = "".join(f'{{"instruction": "Say {n}", "output": "{n}"}}\n' for n in range(12))  # a dataset that can train


@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    """A data folder with an upload, a folder the owner allows, and one nobody allowed (each with a dataset)."""
    home, allowed, outside = tmp_path / "home", tmp_path / "allowed", tmp_path / "outside"
    for folder in (home / "uploads", allowed, outside / "model"):
        folder.mkdir(parents=True, exist_ok=True)
    for path in (home / "uploads" / "abc-up.jsonl", allowed / "mine.jsonl", outside / "secret.jsonl"):
        path.write_text(ROWS, encoding="utf-8")
    return {"home": home, "allowed": allowed, "outside": outside}


def _shared(places, *allowed: Path) -> PathPolicy:
    return PathPolicy.from_settings(Settings(home=places["home"], exposed=True, allowed_paths=allowed))


def test_a_shared_app_refuses_a_dataset_outside_its_roots_and_says_how_to_allow_it(places):
    policy = _shared(places, places["allowed"])
    secret = places["outside"] / "secret.jsonl"
    with pytest.raises(PathNotAllowedError) as refused:
        policy.check_dataset(str(secret))
    assert f"Reading the dataset '{secret}' was refused" in refused.value.message
    assert "reachable by others" in refused.value.message and str(places["allowed"]) in refused.value.message
    assert "--allow-path DIR" in refused.value.hint and "Upload the file" in refused.value.hint
    assert refused.value.http_status == 403
    with pytest.raises(PathNotAllowedError):
        policy.check_dataset("/no/such/place/data.jsonl")  # refused whether it exists or not


def test_neither_dotdot_nor_a_symlink_leads_out_of_the_data_folder(places):
    policy = _shared(places)
    uploads = places["home"] / "uploads"
    (uploads / "link.jsonl").symlink_to(places["outside"] / "secret.jsonl")
    for escape in (f"{uploads}/../../outside/secret.jsonl", str(uploads / "link.jsonl")):
        with pytest.raises(PathNotAllowedError, match="refused"):
            policy.check_dataset(escape)


def test_a_shared_app_reads_uploads_the_data_folder_samples_allowed_folders_and_hub_ids(places, samples):
    policy = _shared(places, places["allowed"])
    for source in (places["home"] / "uploads" / "abc-up.jsonl", places["allowed"] / "mine.jsonl", samples["sft"], "org/dataset"):
        assert policy.check_dataset(str(source)) == str(source)


def test_a_shared_app_loads_model_folders_only_from_its_roots(places):
    policy = _shared(places)
    with pytest.raises(PathNotAllowedError) as refused:
        policy.check_model(str(places["outside"] / "model"))
    assert "model folder" in refused.value.message and "reachable by others" in refused.value.message
    assert "--allow-path DIR" in refused.value.hint
    assert policy.check_model(str(places["home"] / "demo" / "causal"))
    assert policy.check_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert _shared(places, places["outside"]).check_model(str(places["outside"] / "model")), "--allow-path lets it in"


def test_shared_exports_go_under_the_data_folder_only(places):
    policy = _shared(places)
    exports = (places["home"] / "exports").resolve()
    assert policy.export_target("merged") == exports / "merged", "a relative name is made under exports/"
    assert policy.export_target(exports / "deep" / "m") == exports / "deep" / "m"
    exports.mkdir()
    (exports / "link").symlink_to(places["outside"])
    for escape in (places["outside"] / "x", "../x", "link/x", exports):
        with pytest.raises(PathNotAllowedError) as refused:
            policy.export_target(escape)
        assert "exports are written only inside the data folder" in refused.value.message
        assert "my-model-merged" in refused.value.hint
    with pytest.raises(ConfigurationError, match="No export folder given"):
        policy.export_target("  ")


def test_locally_every_path_works_as_before(places):
    local = PathPolicy.from_settings(Settings(home=places["home"]))
    assert local.mode == "local"
    secret = str(places["outside"] / "secret.jsonl")
    assert local.check_dataset(secret) == secret and local.check_model(str(places["outside"] / "model"))
    assert local.export_target("rel") == Path.cwd() / "rel", "a relative export is where it was"
    assert local.export_target(places["outside"] / "x") == (places["outside"] / "x").resolve()


def test_the_access_settings_come_from_the_environment(monkeypatch, places):
    monkeypatch.setenv("MODELFORGE_HOME", str(places["home"]))
    monkeypatch.setenv("MODELFORGE_EXPOSED", "1")
    monkeypatch.setenv("MODELFORGE_ALLOW_PATHS", f"{places['allowed']}{os.pathsep}{places['outside']}")
    monkeypatch.setenv("MODELFORGE_MAX_UPLOAD_MB", "5")
    settings = Settings.from_env()
    assert settings.exposed and settings.max_upload_mb == 5 and settings.max_body_mb == 1
    assert settings.allowed_paths == (places["allowed"].resolve(), places["outside"].resolve())
    monkeypatch.setenv("MODELFORGE_MAX_BODY_MB", "lots")
    with pytest.raises(ConfigurationError, match="MODELFORGE_MAX_BODY_MB must be a positive number of megabytes, got 'lots'"):
        Settings.from_env()


def test_the_preview_of_a_shared_app_refuses_before_reading(places):
    from modelforge_core.services.dataset_service import DatasetService

    secret = str(places["outside"] / "secret.jsonl")
    shared = DatasetService(Settings(home=places["home"], exposed=True)).preview(secret, "text-generation")
    assert not shared.ok and shared.rows == [] and shared.num_rows == 0
    assert "refused" in shared.message and "reachable by others" in shared.message and "--allow-path" in shared.message
    local = DatasetService(Settings(home=places["home"])).preview(secret, "text-generation")
    assert local.ok and local.num_rows == 12, local.message


def test_a_shared_app_refuses_a_run_on_a_confined_path_before_a_job_exists(services, settings, make_config, places, demo_home):
    from dataclasses import replace

    from modelforge_core.services.training_service import TrainingService

    _, _, db = services

    def shared(*allowed: Path) -> TrainingService:
        return TrainingService(db, replace(settings, exposed=True, allowed_paths=allowed))

    with pytest.raises(PathNotAllowedError, match="Reading the dataset .*secret.jsonl.* was refused"):
        shared(demo_home).submit(make_config(dataset=str(places["outside"] / "secret.jsonl")))  # the demo model's folder allowed
    with pytest.raises(PathNotAllowedError, match="Loading the model folder"):
        shared().submit(make_config())
    assert db.list_jobs() == [], "nothing was queued"
    checked = shared(demo_home, places["allowed"]).validate(make_config(dataset=str(places["allowed"] / "mine.jsonl")))
    assert checked.dataset == str((places["allowed"] / "mine.jsonl").resolve()), "--allow-path is honoured"


def test_a_shared_app_evaluates_only_on_datasets_it_may_read(places):
    from modelforge_core.services.evaluation_service import EvaluationService

    policy = PathPolicy(places["home"].resolve(), exposed=True)
    with pytest.raises(PathNotAllowedError, match="Reading the dataset .*secret.jsonl.* was refused"):
        EvaluationService(models=None, policy=policy).evaluate("any-model", str(places["outside"] / "secret.jsonl"))


def _registered(settings: Settings, name: str, files: dict[str, str]) -> tuple:
    """A row added straight to the registry (no name checks) for a folder holding ``files``."""
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.services.model_service import ModelService

    folder = settings.models_dir / "plain-folder"
    for relative, text in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    db = DatabaseManager(settings.database_url)
    row = db.add_model(name=name, base_model="base", task="text-generation", strategy="sft", provider="huggingface",
                       path=str(folder), config={}, metrics={})
    return ModelService(db, settings), row, folder


def test_a_shared_export_outside_the_data_folder_is_refused_before_loading(settings, tmp_path):
    from modelforge_core.services.export_service import ExportService

    models, row, _ = _registered(settings, "tuned", {"config.json": "{}"})
    shared = ExportService(models, PathPolicy.from_settings(Settings(home=settings.home, exposed=True)))
    target = tmp_path / "anywhere" / "merged"
    with pytest.raises(PathNotAllowedError, match="exports are written only inside the data folder"):
        shared.export_merged(row["id"], target)
    assert not target.parent.exists(), "nothing was written"


def test_zip_entries_are_plain_names_under_a_safe_stem(settings, tmp_path):
    from modelforge_core.services.export_service import ExportService

    (tmp_path / "private.txt").write_text("not for the zip", encoding="utf-8")
    models, row, folder = _registered(settings, "../../evil", {"adapter_config.json": "{}", "sub/README.md": "card"})
    (folder / "leak.txt").symlink_to(tmp_path / "private.txt")
    target = tmp_path / "out" / "adapter.zip"
    assert ExportService(models).zip_adapter(row["id"], target) == target.resolve()
    names = zipfile.ZipFile(target).namelist()
    assert sorted(names) == ["evil/adapter_config.json", "evil/sub/README.md"], names
    assert not (tmp_path / "evil").exists() and not any(".." in name or name.startswith("/") for name in names)


def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(tmp_path):
    from modelforge_core.services.dataset_service import DatasetService

    settings = Settings(home=tmp_path / "home", max_upload_mb=1)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (MEGABYTE + 1))
    with pytest.raises(DatasetValidationError) as refused:
        DatasetService(settings).store_upload(big)
    assert "big.jsonl is larger than the upload limit of 1 MB" in refused.value.message
    assert "--max-upload-mb" in refused.value.hint
    assert list(settings.uploads_dir.iterdir()) == [], "no partial copy left behind"


def test_an_upload_is_hashed_and_copied_in_chunks(tmp_path, monkeypatch):
    from modelforge_core.services.dataset_service import DatasetService

    upload = tmp_path / "data.jsonl"
    upload.write_text(ROWS * 1000, encoding="utf-8")
    expected = hashlib.sha256(upload.read_bytes()).hexdigest()[:12]

    def whole_file(self):
        raise AssertionError(f"{self} read whole into memory")

    monkeypatch.setattr(Path, "read_bytes", whole_file)
    stored = Path(DatasetService(Settings(home=tmp_path / "home")).store_upload(upload))
    assert stored.name == f"{expected}-data.jsonl" and stored.read_text(encoding="utf-8") == ROWS * 1000


def test_the_mode_is_decided_from_host_share_and_space():
    from app import reachable_by_others

    for host in ("127.0.0.1", "::1", "localhost", "[::1]"):
        assert not reachable_by_others(host, share=False, on_space=False), host
    for host in ("0.0.0.0", "192.168.1.5", "::", "my-box.example"):
        assert reachable_by_others(host, share=False, on_space=False), host
    assert reachable_by_others("127.0.0.1", share=True, on_space=False)
    assert reachable_by_others("127.0.0.1", share=False, on_space=True)


def test_app_passes_the_mode_to_the_core_and_refuses_a_missing_allowed_folder(monkeypatch, places):
    from app import configure_access, parse_args

    monkeypatch.setattr(os, "environ", os.environ.copy())  # configure_access writes the environment: a copy here
    for name in ("MODELFORGE_EXPOSED", "MODELFORGE_ALLOW_PATHS", "MODELFORGE_MAX_UPLOAD_MB", "SPACE_ID"):
        os.environ.pop(name, None)
    configure_access(parse_args(["--host", "0.0.0.0", "--allow-path", str(places["allowed"]), "--max-upload-mb", "3"]))
    assert os.environ["MODELFORGE_EXPOSED"] == "1" and os.environ["MODELFORGE_ALLOW_PATHS"] == str(places["allowed"].resolve())
    assert Settings.from_env().max_upload_mb == 3
    configure_access(parse_args([]))
    assert os.environ["MODELFORGE_EXPOSED"] == "0", "loopback without --share is local"
    with pytest.raises(SystemExit, match="--allow-path /no/such/dir: no such folder"):
        configure_access(parse_args(["--allow-path", "/no/such/dir"]))


def test_the_mode_is_said_in_info_and_the_hardware_tab(places):
    from modelforge_core.services.info import system_info
    from ui.hardware_tab import access_markdown

    access = system_info(_shared(places, places["allowed"])).to_dict()["access"]
    assert access["mode"] == "shared" and access["allowed_paths"] == [str(places["allowed"].resolve())]
    line = access_markdown(access)
    assert line.startswith("**Access**: shared (reachable by others): datasets only from uploads, the data folder")
    assert str(places["allowed"].resolve()) in line and "exports only inside the data folder" in line
    local = access_markdown(system_info(PathPolicy(places["home"])).to_dict()["access"])
    assert local.startswith("**Access**: local (this machine only)")


# -- one shared app (--host 0.0.0.0) for the checks over HTTP and the UI's endpoints ------------------


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared")
    home, allowed, outside = root / "home", root / "allowed", root / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "mine.jsonl").write_text(ROWS, encoding="utf-8")
    (outside / "secret.jsonl").write_text(ROWS, encoding="utf-8")
    _, row, _ = _registered(Settings(home=home).ensure_dirs(), "tuned", {"config.json": "{}"})
    server = AppServer(home, ("--host", "0.0.0.0", "--allow-path", str(allowed), "--max-upload-mb", "1"))
    server.places = {"allowed": allowed, "outside": outside, "model_id": row["id"]}
    yield server
    server.stop()


def test_shared_app_says_its_mode_in_info_and_the_hardware_tab(shared_app):
    access = httpx.get(shared_app.url + "/api/info", timeout=30).json()["access"]
    assert access["mode"] == "shared" and access["allowed_paths"] == [str(shared_app.places["allowed"].resolve())]
    assert "**Access**: shared (reachable by others)" in httpx.get(shared_app.url + "/config", timeout=30).text


def test_shared_app_previews_only_allowed_paths_through_the_ui_endpoint(shared_app):
    from gradio_client import Client

    client = Client(shared_app.url, verbose=False)
    secret = str(shared_app.places["outside"] / "secret.jsonl")
    refused, rows = client.predict(secret, "text-generation", "", api_name="/preview_dataset")
    assert "Cannot train on this yet" in refused and "refused" in refused and "reachable by others" in refused, refused
    assert "--allow-path" in refused and not (rows or {}).get("data")
    ready, _ = client.predict(str(shared_app.places["allowed"] / "mine.jsonl"), "text-generation", "", api_name="/preview_dataset")
    assert "**Ready.**" in ready, ready


def test_shared_app_refuses_training_on_an_outside_dataset_over_http(shared_app):
    config = {"model_name": shared_app.demo_model(), "dataset": str(shared_app.places["outside"] / "secret.jsonl"), "max_steps": 2}
    response = httpx.post(shared_app.url + "/api/finetune/start_training", json=config, timeout=60)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "PathNotAllowedError" and "reachable by others" in body["message"] and "--allow-path" in body["hint"]
    assert httpx.get(shared_app.url + "/api/finetune/jobs", timeout=30).json() == []


def test_shared_app_refuses_a_merged_export_outside_the_data_folder(shared_app, tmp_path):
    from gradio_client import Client

    target = tmp_path / "export-here"
    text = Client(shared_app.url, verbose=False).predict(shared_app.places["model_id"], "merged", "q8_0", False, str(target),
                                                                api_name="/export_model")
    text = text[0] if isinstance(text, (list, tuple)) else text
    assert "tuned" in text and "refused" in text and "exports are written only inside the data folder" in text, text
    assert not target.exists()


def test_shared_app_refuses_an_upload_over_its_limit(shared_app):
    big = {"files": ("big.jsonl", b" " * (MEGABYTE + 1024), "application/octet-stream")}
    refused = httpx.post(shared_app.url + "/gradio_api/upload", files=big, timeout=60)
    assert refused.status_code == 413, refused.text
    small = httpx.post(shared_app.url + "/gradio_api/upload", files={"files": ("small.jsonl", ROWS.encode())}, timeout=60)
    assert small.status_code == 200, small.text
