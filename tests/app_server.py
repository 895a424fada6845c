"""Start ``python app.py`` on a free port for a test, and stop it (with its workers) afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """A running app: ``url``, ``home``, and ``stop()``."""

    def __init__(self, home: Path, extra_args: tuple[str, ...] = ()):
        self.home = Path(home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELFORGE_HOME": str(self.home)}
        self.log_path = self.home.parent / f"app-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(self.port), "--data-dir", str(self.home), *extra_args],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"app not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def demo_model(self) -> str:
        from modelforge_core.services.model_catalog import ModelCatalog
        from modelforge_core.settings import Settings

        return ModelCatalog(Settings(home=self.home)).demo_model_path()

    def stop(self) -> None:
        kill_workers(f"sqlite:///{self.home / 'database' / 'modelforge.sqlite'}")
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def kill_workers(database_url: str) -> None:
    """Kill the worker processes of the running jobs of that registry (what a test left behind)."""
    import psutil

    from modelforge_core.database.database_manager import DatabaseManager

    db = DatabaseManager(database_url)
    for job in db.list_jobs(["running", "stopping"]):
        try:
            psutil.Process(job["pid"]).kill()
        except (psutil.Error, TypeError):
            pass
    db.dispose()


def wait_status(url: str, job_id: str, statuses: tuple[str, ...], timeout: float = 180) -> dict:
    """Poll ``/api/finetune/status`` until the job is in one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/api/finetune/status/{job_id}", timeout=10).json()
        if status["status"] in statuses:
            return status
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not in {statuses} after {timeout}s: {status}")
