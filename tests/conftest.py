"""Shared fixtures: an isolated MODELFORGE_HOME per test, the demo model built once per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from modelforge_core.data.samples import sample_dataset_paths  # noqa: E402
from modelforge_core.settings import Settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu`` tests without CUDA (checked only when such a test is collected)."""
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A MODELFORGE_HOME whose demo models are built once for the whole session."""
    from modelforge_core.demo import build_demo_models

    home = tmp_path_factory.mktemp("demo-home")
    build_demo_models(Settings(home=home))
    return home


@pytest.fixture(scope="session")
def demo_models(demo_home) -> dict[str, str]:
    """Paths of the demo models by ModelKind: causal, seq2seq, qa."""
    from modelforge_core.demo import build_demo_models

    return build_demo_models(Settings(home=demo_home))


@pytest.fixture(scope="session")
def demo_model(demo_models) -> str:
    """Path of the demo causal LM."""
    return demo_models["causal"]


@pytest.fixture
def samples() -> dict[str, str]:
    return sample_dataset_paths()


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """A fresh MODELFORGE_HOME for one test (also set in the environment for workers and the CLI)."""
    home = tmp_path / "home"
    monkeypatch.setenv("MODELFORGE_HOME", str(home))
    monkeypatch.delenv("MODELFORGE_DATABASE_URL", raising=False)
    return Settings(home=home).ensure_dirs()


@pytest.fixture
def services(settings):
    """(training_service, model_service, db) on the test's home; kills leftover workers afterwards."""
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.services.model_service import ModelService
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.services.worker_process import kill_process

    db = DatabaseManager(settings.database_url)
    training = TrainingService(db, settings)
    yield training, ModelService(db, settings), db
    training.close()
    for job in db.list_jobs(["running", "stopping"]):
        kill_process(job["pid"], job["pid_create_time"])
    db.dispose()


@pytest.fixture
def make_config(demo_model, samples):
    """A config dict in the seed's shape for the demo model and the demo task, with overrides."""

    def make(**overrides) -> dict:
        config = {
            "task": "text-generation",
            "model_name": demo_model,
            "provider": "huggingface",
            "strategy": "sft",
            "dataset": samples["sft"],
            "compute_specs": "cpu",
            "eval_split": 0.2,
            "num_train_epochs": 1,
            "lora_r": 8,
            "lora_alpha": 16,
            "use_4bit": False,
            "bf16": False,
            "max_steps": 20,
            "logging_steps": 5,
            "save_steps": 10,
        }
        config.update(overrides)
        return config

    return make


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path):
    """``python app.py`` on a free port and a fresh data folder (browser tests)."""
    from app_server import AppServer

    server = AppServer(tmp_path / "home")
    yield server
    server.stop()


@pytest.fixture
def page():
    """A page of a fresh headless Chromium (browser tests)."""
    from browser_helpers import chromium_page

    with chromium_page() as page:
        yield page
