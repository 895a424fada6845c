"""Shared fixtures: an isolated MODELFORGE_HOME per test, the demo model built once per session, and the
test's database: SQLite in that home, or (for tests marked ``both_databases``) also a fresh PostgreSQL one.

The PostgreSQL variants need a server whose URL is in MODELFORGE_TEST_POSTGRES_URL, with a role that may
create databases (``eval "$(.ci/run postgres)"`` starts one); without it they skip, saying why, unless
MODELFORGE_TEST_POSTGRES_REQUIRED=1 (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import NoReturn

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from modelforge_core.data.samples import sample_dataset_paths  # noqa: E402
from modelforge_core.settings import Settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE_BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL_VAR, POSTGRES_REQUIRED_VAR = "MODELFORGE_TEST_POSTGRES_URL", "MODELFORGE_TEST_POSTGRES_REQUIRED"


def pytest_configure(config):
    config.addinivalue_line("markers", "both_databases: run the test on SQLite and on PostgreSQL (database_url)")


def pytest_generate_tests(metafunc):
    """A ``both_databases`` test that uses ``database_url`` runs once per backend: ids sqlite and postgresql."""
    if "database_url" not in metafunc.fixturenames or not metafunc.definition.get_closest_marker("both_databases"):
        return
    if not any("database_url" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize")):
        metafunc.parametrize("database_url", DATABASE_BACKENDS, indirect=True)  # unless the test names its own


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


@pytest.fixture(scope="session")
def postgres_admin():
    """An engine (autocommit) on the PostgreSQL test server; a skip, or in CI a failure, saying why there is none."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    url = os.environ.get(POSTGRES_URL_VAR)
    if not url:
        _postgres_unavailable(f"{POSTGRES_URL_VAR} is not set")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _postgres_unavailable("the driver psycopg is not installed (pip install -r requirements.txt)")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        _postgres_unavailable(f"the server in {POSTGRES_URL_VAR} cannot be reached ({str(exc.orig).splitlines()[0]})")
    yield engine
    engine.dispose()


def _postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get(POSTGRES_REQUIRED_VAR, "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"No PostgreSQL test server: {reason}, and {POSTGRES_REQUIRED_VAR} requires one.", pytrace=False)
    pytest.skip(f"No PostgreSQL test server: {reason}. Start one with: eval \"$(.ci/run postgres)\"")


@pytest.fixture
def database_url(request, tmp_path):
    """The test's database URL: SQLite in the test's home, or (param ``postgresql``) a fresh database, dropped after."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'database' / 'modelforge.sqlite'}"
        return
    from sqlalchemy import text

    admin = request.getfixturevalue("postgres_admin")
    name = f"modelforge_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:  # FORCE: ends what the test left connected (pools, workers)
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(tmp_path, monkeypatch, database_url) -> Settings:
    """A fresh MODELFORGE_HOME for one test on the test's database (both set in the environment for workers and
    the CLI; SQLite is the home's default database file)."""
    home = tmp_path / "home"
    monkeypatch.setenv("MODELFORGE_HOME", str(home))
    if database_url.startswith("postgresql"):
        monkeypatch.setenv("MODELFORGE_DATABASE_URL", database_url)
    else:
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
